"""Training data: the canonical chat JSONL, tokenized with the base model's chat template."""

import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from services.common.chat import IGNORE_INDEX, TokenizedExample, tokenize_for_training

ROLES = ("system", "user", "assistant")


class DataError(ValueError):
    """A data file cannot be trained on; the message names the line at fault."""

    def __init__(self, message: str, param: str = "training_file"):
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Dataset:
    examples: list[TokenizedExample]
    num_truncated: int
    num_skipped: int


def _messages(line_no: int, line: str) -> list[dict]:
    """Parse and check one record, naming the line and field at fault."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"line {line_no}: not valid JSON ({e.msg})") from None
    where = f"line {line_no} (id {record.get('id')!r})" if isinstance(record, dict) else \
        f"line {line_no}"
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: 'messages' must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise DataError(f"{where}: messages[{i}].role must be one of {', '.join(ROLES)}")
        if not isinstance(m.get("content"), str):
            raise DataError(f"{where}: messages[{i}].content must be a string")
        if m.get("weight", 1) not in (0, 1):
            raise DataError(f"{where}: messages[{i}].weight must be 0 or 1")
    if not any(m["role"] == "assistant" and m.get("weight", 1) for m in messages):
        raise DataError(f"{where}: no assistant message to train on")
    return messages


def load_dataset(path: Path, tokenizer, max_length: int) -> Dataset:
    """Tokenize every record; a record left with no trained token after truncation is skipped."""
    examples, truncated, skipped = [], 0, 0
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            example = tokenize_for_training(tokenizer, _messages(line_no, line), max_length)
            truncated += example.truncated
            if example.num_trained_tokens == 0:
                skipped += 1
                continue
            examples.append(example)
    if not examples:
        raise DataError(
            f"no example has a trained token within model_max_length={max_length} "
            f"({skipped} skipped)" if skipped else "the training file has no examples"
        )
    return Dataset(examples, truncated, skipped)


def rank_batches(num_examples: int, epoch: int, seed: int, rank: int, world: int,
                 micro_batch: int) -> list[list[int]]:
    """This rank's micro batches of one epoch, as example indices.

    Like DistributedSampler: one seeded shuffle per epoch shared by all ranks, padded by
    repeating from the start so every rank gets as many batches (ZeRO's collectives need it).
    """
    order = list(range(num_examples))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    per_rank = -(-num_examples // world)
    order += order[: per_rank * world - num_examples]
    mine = order[rank::world]
    return [mine[i:i + micro_batch] for i in range(0, len(mine), micro_batch)]


def steps_per_epoch(num_examples: int, world: int, micro_batch: int) -> int:
    """Optimizer steps in one epoch (the last batch may be short)."""
    per_rank = -(-num_examples // world)
    return -(-per_rank // micro_batch)


def collate(examples: list[TokenizedExample], pad_id: int,
            width: int | None = None) -> dict[str, torch.Tensor]:
    """Pad a batch to `width` (default: its longest example), padding out of attention and loss."""
    width = width or max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def pack(examples: list[TokenizedExample]) -> dict[str, torch.Tensor]:
    """The batch as one row with no padding, as transformers' DataCollatorWithFlattening does.

    Positions restart at 0 for each conversation, which is how the attention mask below (and
    flash attention's varlen path) keeps each conversation from seeing the others. The first
    label of each conversation is ignored: it would be predicted from the previous one.
    """
    ids, labels, positions = [], [], []
    for e in examples:
        ids += e.input_ids
        labels += [IGNORE_INDEX, *e.labels[1:]]
        positions += range(len(e.input_ids))
    row = lambda values: torch.tensor([values], dtype=torch.long)  # noqa: E731
    return {"input_ids": row(ids), "labels": row(labels), "position_ids": row(positions)}


def block_causal_mask(position_ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive 4D mask [batch, 1, T, T]: causal, and only within each packed conversation.

    For sdpa and eager attention: transformers derives the same mask from position_ids only
    when no KV cache is in play, so the trainer passes it explicitly instead of relying on that.
    """
    segment = (position_ids == 0).cumsum(-1)  # conversation number of every token
    same = segment[:, :, None] == segment[:, None, :]
    length = position_ids.shape[-1]
    causal = torch.ones(length, length, dtype=torch.bool, device=position_ids.device).tril()
    allowed = (same & causal)[:, None]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=position_ids.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def model_inputs(examples: list[TokenizedExample], pad_id: int, packing: bool,
                 device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """One micro batch on `device`: packed into a row with its block mask, or padded."""
    batch = pack(examples) if packing else collate(examples, pad_id)
    batch = {k: v.to(device) for k, v in batch.items()}
    if packing:
        batch["attention_mask"] = block_causal_mask(batch["position_ids"], dtype)
    return batch


def input_tokens(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Tokens of real input in a batch (padding excluded), packed or padded."""
    mask = batch.get("attention_mask")
    if mask is None or mask.ndim == 4:
        return torch.tensor(batch["input_ids"].numel(), device=batch["input_ids"].device)
    return mask.sum()
