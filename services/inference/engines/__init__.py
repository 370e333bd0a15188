"""Inference engines behind one interface; `create_engine` picks one by backend name."""

from services.inference.engines.base import (
    Adapter,
    Engine,
    EngineSpec,
    GenerationRequest,
    SampledToken,
    Target,
)

BACKENDS = ("auto", "transformers", "vllm")


def create_engine(spec: EngineSpec, vllm_command: str | None = None) -> Engine:
    """An unloaded engine for `spec`; "auto" is vLLM where it is installed and a GPU is."""
    backend = resolve_backend(spec.backend)
    if backend == "vllm":
        from services.inference.engines.vllm_engine import DEFAULT_COMMAND, VLLMEngine

        return VLLMEngine(spec, vllm_command or DEFAULT_COMMAND)
    from services.inference.engines.transformers_engine import TransformersEngine

    return TransformersEngine(spec)


def resolve_backend(backend: str) -> str:
    """The concrete backend "auto" stands for on this host."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}")
    if backend != "auto":
        return backend
    from services.inference.engines.vllm_engine import vllm_available

    return "vllm" if vllm_available() else "transformers"


__all__ = ["BACKENDS", "Adapter", "Engine", "EngineSpec", "GenerationRequest", "SampledToken",
           "Target", "create_engine", "resolve_backend"]
