"""Choosing the next token from logits: greedy, temperature and nucleus (top-p) sampling."""

import torch


def sample_token(logits: torch.Tensor, temperature: float, top_p: float,
                 generator: torch.Generator) -> int:
    """The next token id from one position's logits; temperature 0 takes the most likely."""
    if temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p >= 1.0:
        return int(torch.multinomial(probs, 1, generator=generator))
    sorted_probs, order = torch.sort(probs, descending=True)
    # Keep the most likely tokens until their mass reaches top_p; the first one always stays.
    mass_before = torch.cumsum(sorted_probs, dim=0) - sorted_probs
    sorted_probs[mass_before >= top_p] = 0
    return int(order[torch.multinomial(sorted_probs, 1, generator=generator)])
