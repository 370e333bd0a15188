"""Training service: fine-tuning jobs run as DeepSpeed ranks under torchrun."""
