"""What the training service does for a job with num_nodes > 1: check it, then plan its launch."""

from dataclasses import dataclass, field
from pathlib import Path

from services.common.errors import TuneForgeError
from services.training.multinode.commands import (
    deepspeed_command,
    deepspeed_env_file,
    ssh_command,
    torchrun_command,
)
from services.training.multinode.hostfile import (
    Host,
    HostfileError,
    choose_hosts,
    eligible,
    read_hostfile,
    render_hostfile,
)
from services.training.multinode.kube import resolve_namespace
from services.training.multinode.settings import ClusterSettings
from services.training.multinode.trainjob import trainjob_manifest
from services.training.trainer.config import Hyperparameters

Problem = tuple[str, str]  # (parameter path, what is wrong), as in validation.py
# What every rank on every node gets; the caller adds its own and cluster.env overrides.
RANK_ENV = {"PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}


@dataclass(frozen=True)
class LaunchPlan:
    """How to start a multi-node job: local processes (hostfile) or a TrainJob (kubernetes)."""

    backend: str
    # Started on the service's host in the job folder; processes[0]'s stdout carries rank 0's
    # progress protocol. deepspeed: one runner; torchrun: one ssh per node.
    processes: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # added to the processes' environment
    files: dict[Path, str] = field(default_factory=dict)  # written before they start
    hosts: list[Host] = field(default_factory=list)
    trainjob: dict | None = None  # created through TrainJobClient instead


def gpus_per_node(hp: Hyperparameters) -> int:
    """Ranks on each node: num_gpus counts the ranks of the whole job (its world size)."""
    return hp.num_gpus // hp.num_nodes


def problems(hp: Hyperparameters, cluster: ClusterSettings) -> list[Problem]:
    """What keeps this service from running the job on several nodes; [] for one node.

    A hostfile that cannot be read is the operator's fault, not the request's: it raises an
    `unavailable` TuneForgeError naming the file and line.
    """
    if hp.num_nodes <= 1:
        return []
    if cluster.backend == "local":
        return [("hyperparameters.num_nodes",
                 f"needs a multi-node backend; set TUNEFORGE_TRAINING_CLUSTER__BACKEND to "
                 f"hostfile or kubernetes (got num_nodes={hp.num_nodes})")]
    if hp.num_gpus % hp.num_nodes:
        return [("hyperparameters.num_gpus",
                 f"must be a multiple of num_nodes={hp.num_nodes}, as every node runs the same "
                 f"number of ranks (got {hp.num_gpus})")]
    if cluster.backend != "hostfile":
        return []
    hosts, per_node = _hosts(cluster), gpus_per_node(hp)
    if per_node > (most := max(h.slots for h in hosts)):
        return [("hyperparameters.num_gpus",
                 f"/ num_nodes = {per_node} ranks per node, more than the {most} GPU slots of "
                 f"the largest host in the hostfile (got {hp.num_gpus})")]
    if len(fit := eligible(hosts, per_node)) < hp.num_nodes:
        return [("hyperparameters.num_nodes",
                 f"must be at most {len(fit)}, the hosts in the hostfile with at least "
                 f"{per_node} GPU slots (got {hp.num_nodes})")]
    return []


def multinode_launch(job_id: str, hp: Hyperparameters, run_config: Path,
                     cluster: ClusterSettings, python: str,
                     env: dict[str, str] | None = None) -> LaunchPlan:
    """The launch of a job that passed `problems`; the job folder is run_config's folder."""
    rank_env = {**RANK_ENV, **(env or {}), **cluster.env}
    per_node = gpus_per_node(hp)
    if cluster.backend == "kubernetes":
        return LaunchPlan("kubernetes", trainjob=trainjob_manifest(
            job_id, resolve_namespace(cluster), hp.num_nodes, per_node, run_config, cluster,
            rank_env))
    if cluster.backend != "hostfile":
        raise ValueError(f"backend {cluster.backend!r} runs no multi-node jobs")
    job_dir = run_config.parent
    try:
        hosts = choose_hosts(_hosts(cluster), hp.num_nodes, per_node)
    except HostfileError as e:
        raise _misconfigured(e) from e
    master = cluster.master_addr or hosts[0].name
    if cluster.launcher == "torchrun":
        processes = [ssh_command(h.name, torchrun_command(
            python, hp.num_nodes, per_node, rank, master, cluster.master_port, run_config),
            job_dir, rank_env, cluster.ssh_port, cluster.ssh_options)
            for rank, h in enumerate(hosts)]
        return LaunchPlan("hostfile", processes=processes, hosts=hosts)
    hostfile = job_dir / "hostfile"
    argv = deepspeed_command(python, hostfile, hp.num_nodes, per_node, master,
                             cluster.master_port, run_config, cluster.ssh_port)
    local_env = {"PDSH_SSH_ARGS_APPEND": cluster.ssh_options} if cluster.ssh_options else {}
    return LaunchPlan("hostfile", processes=[argv], env=local_env, hosts=hosts,
                      files={hostfile: render_hostfile(hosts),
                             job_dir / ".deepspeed_env": deepspeed_env_file(rank_env)})


def _hosts(cluster: ClusterSettings) -> list[Host]:
    try:
        return read_hostfile(cluster.hostfile)
    except HostfileError as e:
        raise _misconfigured(e) from e


def _misconfigured(e: HostfileError) -> TuneForgeError:
    return TuneForgeError("unavailable", f"Multi-node training is misconfigured: {e}.",
                          "hyperparameters.num_nodes")
