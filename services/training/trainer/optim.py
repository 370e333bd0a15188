"""The optimizer of a run: AdamW with the job's betas and epsilon, decay on weight matrices only."""

import torch

from services.training.trainer.config import Hyperparameters


def adamw(model: torch.nn.Module, hp: Hyperparameters) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters; no decay on biases and norm weights, as is usual
    for transformers (two parameter groups, which ZeRO flattens and steps one by one)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": hp.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=hp.learning_rate,
                             betas=(hp.adam_beta1, hp.adam_beta2), eps=hp.adam_epsilon)
