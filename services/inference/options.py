"""A deployment's options: backend, replicas and resource hints, validated up front."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from services.common.errors import invalid

MAX_REPLICAS = 16
MAX_CONCURRENT = 1024


@dataclass(frozen=True)
class DeploymentOptions:
    backend: str = "auto"
    replicas: int = 1
    gpus_per_replica: int = 0  # 0: the CPU for transformers, one GPU for vLLM
    max_context: int = 0  # 0: the model's context length
    max_concurrent_requests: int = 0  # 0: the service's default

    def validated(self, backends: Sequence[str], gpu_count: int) -> "DeploymentOptions":
        """These options with defaults filled in; invalid_argument naming the first bad one."""
        backend = self.backend or "auto"
        if backend not in backends:
            raise invalid(f"backend must be one of {', '.join(backends)}, not '{backend}'.",
                          "backend")
        replicas = self.replicas or 1
        if not 1 <= replicas <= MAX_REPLICAS:
            raise invalid(f"replicas must be between 1 and {MAX_REPLICAS}, not {replicas}.",
                          "replicas")
        if self.gpus_per_replica < 0:
            raise invalid(f"gpus_per_replica must not be negative, not {self.gpus_per_replica}.",
                          "gpus_per_replica")
        wanted = replicas * self.gpus_per_replica
        if wanted > gpu_count:
            raise invalid(f"{replicas} replica(s) × {self.gpus_per_replica} GPU(s) need {wanted} "
                          f"GPUs, but this inference service has {gpu_count}.",
                          "gpus_per_replica")
        if self.max_context < 0:
            raise invalid(f"max_context must not be negative, not {self.max_context}.",
                          "max_context")
        if not 0 <= self.max_concurrent_requests <= MAX_CONCURRENT:
            raise invalid(f"max_concurrent_requests must be between 0 (the default) and "
                          f"{MAX_CONCURRENT}, "
                          f"not {self.max_concurrent_requests}.", "max_concurrent_requests")
        return DeploymentOptions(backend, replicas, self.gpus_per_replica, self.max_context,
                                 self.max_concurrent_requests)

    def record_fields(self) -> dict:
        """The options as DeploymentRecord fields (all but the backend, stored apart)."""
        fields = asdict(self)
        del fields["backend"]
        return fields
