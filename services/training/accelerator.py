"""What this host can train on: CUDA devices (and bf16), or CPU cores."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Accelerator:
    cuda_devices: int
    bf16: bool
    cpu_count: int
    gpu_memory_bytes: int = 0  # of one GPU
    host_memory_bytes: int = 0

    def device_memory(self, num_ranks: int) -> int:
        """Memory one rank can use: its GPU's, or an equal share of the host's RAM."""
        return self.gpu_memory_bytes or self.host_memory_bytes // max(num_ranks, 1)

    @property
    def max_ranks(self) -> int:
        """Ranks one job can use: one per GPU, or one per CPU core."""
        return self.cuda_devices or self.cpu_count

    def rank_env(self, num_ranks: int) -> dict[str, str]:
        """Environment for torchrun and its ranks on this host."""
        env = {"PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false",
               # Ranks share the cores; more threads than cores makes every rank slower.
               "OMP_NUM_THREADS": str(max(1, self.cpu_count // num_ranks))}
        if not self.cuda_devices:
            # DeepSpeed's autodetection fails without CUDA unless told to use the CPU.
            env["DS_ACCELERATOR"] = "cpu"
        return env


def detect() -> Accelerator:
    """Look at the host once (imports torch: call it from a thread)."""
    import torch

    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    bf16 = bool(cuda) and torch.cuda.is_bf16_supported()
    gpu_memory = torch.cuda.get_device_properties(0).total_memory if cuda else 0
    return Accelerator(cuda_devices=cuda, bf16=bf16,
                       cpu_count=len(os.sched_getaffinity(0)) or os.cpu_count() or 1,
                       gpu_memory_bytes=gpu_memory,
                       host_memory_bytes=os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
