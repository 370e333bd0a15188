"""The running batch's KV cache: one row per sequence, left-padded so every row ends together.

Left padding lets a decode step feed one new token per row at the same column; each row's
attention mask hides its padding and its positions are counted from its first real token, so a
sequence computes the same logits alone or in any batch. Rows join by padding the shorter side
and concatenating, and leave by selecting the others; columns that became padding in every row
are trimmed away.
"""

from collections.abc import Sequence

import torch
from transformers import DynamicCache


class KVBatch:
    """Cache, attention mask and per-row lengths of sequences decoded together."""

    def __init__(self, cache: DynamicCache, mask: torch.Tensor):
        self.cache = cache
        self.mask = mask  # [rows, columns]: 1 where a real token is cached

    @classmethod
    def prefill_inputs(cls, prompts: Sequence[Sequence[int]], device: torch.device,
                       pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """input_ids, attention_mask and position_ids of prompts, left-padded to one length."""
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt):] = torch.tensor(list(prompt), dtype=torch.long)
            mask[row, width - len(prompt):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids.to(device), mask.to(device), positions.to(device)

    @property
    def rows(self) -> int:
        return self.mask.shape[0]

    @property
    def lengths(self) -> torch.Tensor:
        """Real tokens cached per row: the position of each row's next token."""
        return self.mask.sum(-1)

    def step_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The attention mask and position ids of one more token per row, before the step."""
        positions = self.lengths[:, None]
        self.mask = torch.cat([self.mask, self.mask.new_ones((self.rows, 1))], dim=1)
        return self.mask, positions

    def merge(self, other: "KVBatch") -> "KVBatch":
        """This batch's rows, then `other`'s, padded on the left to the longer of the two."""
        width = max(self.mask.shape[1], other.mask.shape[1])
        layers = []
        for a, b in zip(self.cache.layers, other.cache.layers, strict=True):
            layers.append((
                torch.cat([_pad_left(a.keys, width), _pad_left(b.keys, width)], dim=0),
                torch.cat([_pad_left(a.values, width), _pad_left(b.values, width)], dim=0),
            ))
        mask = torch.cat([_pad_left(self.mask, width, dim=1),
                          _pad_left(other.mask, width, dim=1)], dim=0)
        return KVBatch(DynamicCache(ddp_cache_data=layers), mask)

    def select(self, keep: Sequence[int]) -> "KVBatch":
        """Only the rows `keep`, without the leading columns none of them uses any more."""
        index = torch.tensor(list(keep), dtype=torch.long, device=self.mask.device)
        mask = self.mask.index_select(0, index)
        first = int(mask.shape[1] - mask.sum(-1).max()) if len(keep) else 0
        layers = [(layer.keys.index_select(0, index)[:, :, first:],
                   layer.values.index_select(0, index)[:, :, first:])
                  for layer in self.cache.layers]
        return KVBatch(DynamicCache(ddp_cache_data=layers), mask[:, first:])


def _pad_left(t: torch.Tensor, width: int, dim: int = 2) -> torch.Tensor:
    missing = width - t.shape[dim]
    if missing == 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([t.new_zeros(shape), t], dim=dim)
