"""Choosing the next token from logits: penalties, greedy, temperature, top-k and top-p."""

import torch


def sample_token(logits: torch.Tensor, temperature: float, top_p: float,
                 generator: torch.Generator, top_k: int = 0) -> int:
    """The next token id from one position's logits; temperature 0 takes the most likely."""
    if temperature == 0:
        return int(torch.argmax(logits))
    scores = logits.float() / temperature
    if 0 < top_k < scores.shape[-1]:
        kth = torch.topk(scores, top_k).values[-1]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if top_p >= 1.0:
        return int(torch.multinomial(probs, 1, generator=generator))
    sorted_probs, order = torch.sort(probs, descending=True)
    # Keep the most likely tokens until their mass reaches top_p; the first one always stays.
    mass_before = torch.cumsum(sorted_probs, dim=0) - sorted_probs
    sorted_probs[mass_before >= top_p] = 0
    return int(order[torch.multinomial(sorted_probs, 1, generator=generator)])


def apply_penalties(logits: torch.Tensor, counts: torch.Tensor, presence: float,
                    frequency: float) -> torch.Tensor:
    """OpenAI's penalties: subtract presence once per seen token, frequency per occurrence."""
    if not presence and not frequency:
        return logits
    counts = counts.to(logits.dtype)
    return logits - presence * (counts > 0).to(logits.dtype) - frequency * counts


def token_logprobs(logits: torch.Tensor, token: int,
                   top: int) -> tuple[float, tuple[tuple[int, float], ...]]:
    """The chosen token's log-probability under the model, and the `top` most likely ones."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    best: tuple[tuple[int, float], ...] = ()
    if top > 0:
        values, ids = torch.topk(logp, min(top, logp.shape[-1]))
        best = tuple(zip(ids.tolist(), values.tolist()))
    return float(logp[token]), best
