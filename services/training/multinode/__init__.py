"""Jobs with num_nodes > 1 on engines the team already runs.

Bare GPU hosts: DeepSpeed's multi-node runner over a hostfile (or torchrun per host over ssh).
Kubernetes: a Kubeflow Trainer TrainJob created through the Kubernetes API. docs/multinode.md
describes the setup. The service calls `problems` when it checks a job and `multinode_launch`
when it starts one; `TrainJobClient` (extra `k8s`) creates and follows the TrainJob.
"""

from services.training.multinode.hostfile import Host, HostfileError, parse_hostfile
from services.training.multinode.kube import TrainJobClient
from services.training.multinode.plan import LaunchPlan, gpus_per_node, multinode_launch, \
    problems
from services.training.multinode.settings import ClusterSettings
from services.training.multinode.trainjob import trainjob_state

__all__ = ["ClusterSettings", "Host", "HostfileError", "LaunchPlan", "TrainJobClient",
           "gpus_per_node", "multinode_launch", "parse_hostfile", "problems", "trainjob_state"]
