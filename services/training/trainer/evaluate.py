"""Scoring a model on labelled tokens: loss and next-token accuracy, as in training."""

import torch
import torch.nn.functional as F

from services.common.chat import IGNORE_INDEX


def correct_tokens(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """How many labelled tokens the model predicts exactly (position t predicts label t+1)."""
    target = labels[:, 1:]
    predicted = logits[:, :-1].argmax(-1)
    return ((predicted == target) & (target != IGNORE_INDEX)).sum()


def token_scores(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[summed cross-entropy, correct predictions, labelled tokens] of one batch, float64."""
    target = labels[:, 1:]
    step = logits[:, :-1].float()
    loss = F.cross_entropy(step.reshape(-1, step.shape[-1]), target.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction="sum")
    count = (target != IGNORE_INDEX).sum()
    return torch.stack([loss.double(), correct_tokens(logits, labels).double(), count.double()])


def score_batches(num_examples: int, rank: int, world: int,
                  micro_batch: int) -> list[tuple[list[int], bool]]:
    """This rank's share of an evaluation set as micro batches, in file order.

    Every rank runs the same number of forwards (ZeRO-3 gathers weights collectively in each),
    so a rank with fewer examples gets a stand-in batch marked not real, to be left out.
    """
    mine = list(range(rank, num_examples, world))
    per_rank = -(-num_examples // world)
    count = -(-per_rank // micro_batch)
    batches = [(mine[i:i + micro_batch], True) for i in range(0, len(mine), micro_batch)]
    return batches + [([0], False)] * (count - len(batches))
