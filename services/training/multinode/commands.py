"""Command lines that start a job's ranks across nodes: DeepSpeed's runner, or torchrun per node.

Every rank runs `-m services.training.trainer.run --config <run.json>`, as on one host; only the
launcher in front of it changes. Rank 0 runs on the first node: its stdout carries progress.
"""

import shlex
from pathlib import Path

TRAINER_MODULE = "services.training.trainer.run"


def trainer_args(run_config: Path) -> list[str]:
    """The trainer module and its arguments, as every rank runs them."""
    return [TRAINER_MODULE, "--config", str(run_config)]


def deepspeed_command(python: str, hostfile: Path, num_nodes: int, gpus_per_node: int,
                      master_addr: str, master_port: int, run_config: Path,
                      ssh_port: int | None = None) -> list[str]:
    """DeepSpeed's multi-node runner (the `deepspeed` CLI) over pdsh, run on the service's host.

    The runner re-runs `python` at the same path and `cd`s to its own working directory on
    every host, so both must exist everywhere (same image or venv; shared job folder).
    """
    argv = [python, "-u", "-m", "deepspeed.launcher.runner",
            "--hostfile", str(hostfile), "--num_nodes", str(num_nodes),
            "--num_gpus", str(gpus_per_node),
            "--master_addr", master_addr, "--master_port", str(master_port)]
    if ssh_port is not None:
        argv += ["--ssh_port", str(ssh_port)]
    # -N: pdsh prefixes every output line with "host: ", which would hide rank 0's JSON lines.
    # --no_local_rank: the trainer reads LOCAL_RANK from the environment, not an argument.
    return argv + ["--launcher", "pdsh", "--launcher_args=-N", "--no_local_rank",
                   "--module", *trainer_args(run_config)]


def torchrun_command(python: str, num_nodes: int, gpus_per_node: int, node_rank: int,
                     master_addr: str, master_port: int, run_config: Path) -> list[str]:
    """torchrun on one node of a multi-node job.

    Static rendezvous on purpose: c10d hands out node ranks in the order nodes join, so rank 0
    (whose stdout the service reads) could land on any node; static keeps it on node 0.
    """
    return [python, "-m", "torch.distributed.run",
            f"--nnodes={num_nodes}", f"--nproc_per_node={gpus_per_node}",
            f"--node_rank={node_rank}", f"--master_addr={master_addr}",
            f"--master_port={master_port}",
            "-m", *trainer_args(run_config)]


def ssh_command(host: str, argv: list[str], cwd: Path, env: dict[str, str],
                ssh_port: int | None = None, ssh_options: str = "") -> list[str]:
    """`argv` run on `host` in `cwd` with `env`, through ssh.

    -tt gives the remote command a terminal, so it gets SIGHUP and ends when this ssh ends
    (a cancelled job); without one, the remote ranks would keep running.
    """
    remote = " ".join([f"cd {shlex.quote(str(cwd))} &&", "exec", "env",
                       *(shlex.quote(f"{k}={v}") for k, v in sorted(env.items())),
                       shlex.join(argv)])
    port = ["-p", str(ssh_port)] if ssh_port is not None else []
    return ["ssh", "-tt", "-o", "BatchMode=yes", *port, *shlex.split(ssh_options), host,
            remote]


def deepspeed_env_file(env: dict[str, str]) -> str:
    """`.deepspeed_env`: variables DeepSpeed's runner exports to every host, one KEY=VALUE a line.

    The runner splits every line at '=' (no comments, no blank lines) and exports only
    PYTHON*, NCCL*, UCX* of its own environment, so the ranks' environment goes through here.
    """
    for key, value in env.items():
        if "\n" in value or "=" in key or not key:
            raise ValueError(f"environment {key!r}: cannot be written to .deepspeed_env")
    return "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
