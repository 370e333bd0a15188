"""The Kubeflow Trainer TrainJob (trainer.kubeflow.org/v1alpha1) of a multi-node job.

Only the long-stable part of the API is used: runtimeRef and trainer. Volumes, security context,
tolerations and /dev/shm live in the training runtime (deploy/k8s/multinode/), which keeps this
object valid across Trainer releases that renamed the per-job override fields.
"""

import re
from pathlib import Path

from services.training.multinode.commands import trainer_args
from services.training.multinode.settings import ClusterSettings

GROUP, VERSION, PLURAL, KIND = "trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob"
# The TrainJob CRD's own rule for metadata.name (RFC 1035 label).
_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def trainjob_name(job_id: str) -> str:
    """The TrainJob's name: the job id, lower-cased (ids are `ftjob-<hex>`)."""
    name = job_id.lower()
    if len(name) > 63 or not _NAME.fullmatch(name):
        raise ValueError(f"job id {job_id!r} is no valid TrainJob name (RFC 1035 label, "
                         "at most 63 characters)")
    return name


def trainjob_manifest(job_id: str, namespace: str, num_nodes: int, gpus_per_node: int,
                      run_config: Path, cluster: ClusterSettings,
                      env: dict[str, str]) -> dict:
    """The TrainJob that runs the job: torchrun on each of `num_nodes` pods.

    The runtime's torch policy sets PET_NODE_RANK, PET_MASTER_ADDR and PET_MASTER_PORT in every
    pod, which torchrun reads as its --node_rank, --master_addr and --master_port (static
    rendezvous: node 0, the pod of completion index 0, hosts rank 0).
    """
    gpus = {cluster.gpu_resource: str(gpus_per_node)}
    trainer: dict = {
        "numNodes": num_nodes,
        "numProcPerNode": gpus_per_node,
        "resourcesPerNode": {"requests": dict(gpus), "limits": dict(gpus)},
        "command": ["python", "-m", "torch.distributed.run", f"--nnodes={num_nodes}",
                    f"--nproc_per_node={gpus_per_node}", "-m", *trainer_args(run_config)],
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
    }
    if cluster.image:
        trainer["image"] = cluster.image
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": trainjob_name(job_id),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "tuneforge",
                       "app.kubernetes.io/component": "fine-tuning-job",
                       "app.kubernetes.io/instance": job_id},
        },
        "spec": {
            "runtimeRef": {"apiGroup": GROUP, "kind": cluster.runtime_kind,
                           "name": cluster.runtime},
            "trainer": trainer,
        },
    }


def trainjob_state(obj: dict) -> tuple[str, str]:
    """(`running` | `succeeded` | `failed` | `suspended`, message) from a TrainJob's status."""
    conditions = {c.get("type"): c for c in obj.get("status", {}).get("conditions", [])
                  if c.get("status") == "True"}
    for kind, state in (("Failed", "failed"), ("Complete", "succeeded"),
                        ("Suspended", "suspended")):
        if kind in conditions:
            c = conditions[kind]
            return state, c.get("message") or c.get("reason") or kind
    return "running", ""
