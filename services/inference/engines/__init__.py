"""Inference engines behind one interface; `create_engine` picks one by backend name."""

from pathlib import Path

from services.inference.engines.base import Engine, GenerationRequest
from services.inference.engines.transformers_engine import TransformersEngine

# "auto" picks the best engine available; the only one so far is transformers.
BACKENDS = ("auto", "transformers")


def create_engine(backend: str, model_dir: Path, device: str) -> Engine:
    """An unloaded engine of `backend` for the model files in `model_dir`."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}")
    return TransformersEngine(model_dir, device)


__all__ = ["BACKENDS", "Engine", "GenerationRequest", "create_engine"]
