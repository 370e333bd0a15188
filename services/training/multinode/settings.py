"""Where jobs with num_nodes > 1 run: the training service's `cluster` setting."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Backend = Literal["local", "hostfile", "kubernetes"]


class ClusterSettings(BaseModel):
    """The multi-node backend; `local` runs one-node jobs only (TUNEFORGE_TRAINING_CLUSTER__*)."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = Field(
        default="local",
        description="local: ranks on this host only; hostfile: DeepSpeed's launcher over SSH "
        "to the hosts of `hostfile`; kubernetes: one Kubeflow Trainer TrainJob per job.",
    )
    # Bare GPU hosts.
    hostfile: Path | None = Field(
        default=None,
        description="hostfile backend: the GPU hosts, one `host slots=N` line each (DeepSpeed's "
        "format); a job takes the first num_nodes hosts with enough slots.",
    )
    launcher: Literal["deepspeed", "torchrun"] = Field(
        default="deepspeed",
        description="hostfile backend: `deepspeed` (its runner reaches every host through pdsh) "
        "or `torchrun` started on each host over ssh by the service.",
    )
    master_addr: str | None = Field(
        default=None,
        description="hostfile backend: address the ranks rendezvous at; defaults to the first "
        "host of the job.",
    )
    master_port: int = Field(
        default=29500, ge=1, le=65535, description="Port of the rendezvous on the first host.",
    )
    ssh_port: int | None = Field(
        default=None, ge=1, le=65535, description="hostfile backend: SSH port of the hosts.",
    )
    ssh_options: str = Field(
        default="",
        description="hostfile backend: extra ssh options, e.g. `-i /keys/id_ed25519 -o "
        "StrictHostKeyChecking=accept-new` (given to pdsh as PDSH_SSH_ARGS_APPEND).",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment for every rank on every node, e.g. {\"NCCL_SOCKET_IFNAME\": "
        "\"eth0\"}.",
    )
    # Kubernetes.
    namespace: str | None = Field(
        default=None,
        description="kubernetes backend: namespace of the TrainJobs; defaults to the "
        "service's own (in a pod), else `default`.",
    )
    runtime: str = Field(
        default="tuneforge-torch",
        description="kubernetes backend: the training runtime TrainJobs refer to "
        "(deploy/k8s/multinode/ installs `tuneforge-torch`).",
    )
    runtime_kind: Literal["TrainingRuntime", "ClusterTrainingRuntime"] = Field(
        default="TrainingRuntime",
        description="kubernetes backend: a namespaced TrainingRuntime or a "
        "ClusterTrainingRuntime such as Kubeflow's `torch-distributed`.",
    )
    image: str | None = Field(
        default=None,
        description="kubernetes backend: image of the ranks; defaults to the runtime's image.",
    )
    gpu_resource: str = Field(
        default="nvidia.com/gpu",
        description="kubernetes backend: the extended resource a node's GPUs are requested as.",
    )
    kubeconfig: Path | None = Field(
        default=None,
        description="kubernetes backend: kubeconfig file; unset, the pod's service account.",
    )

    @model_validator(mode="after")
    def _backend_has_what_it_needs(self) -> "ClusterSettings":
        if self.backend == "hostfile" and self.hostfile is None:
            raise ValueError("hostfile: required when backend is hostfile "
                             "(TUNEFORGE_TRAINING_CLUSTER__HOSTFILE)")
        return self
