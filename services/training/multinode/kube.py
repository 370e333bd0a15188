"""Creating, reading and deleting TrainJobs through the Kubernetes API (extra `k8s`).

The `kubernetes` client is synchronous: call these methods from a thread
(`asyncio.to_thread`). It is imported only when a client is made, so the service runs without
it unless the kubernetes backend is chosen.
"""

from collections.abc import Iterator
from pathlib import Path

from services.common.errors import TuneForgeError
from services.training.multinode.settings import ClusterSettings
from services.training.multinode.trainjob import GROUP, PLURAL, VERSION

IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# Labels JobSet and the Job controller put on the pods of a TrainJob.
_JOBSET_NAME = "jobset.sigs.k8s.io/jobset-name"
_NODE_INDEX = "batch.kubernetes.io/job-completion-index"


def resolve_namespace(cluster: ClusterSettings, in_cluster: Path = IN_CLUSTER_NAMESPACE) -> str:
    """The configured namespace, else the pod's own, else `default`."""
    if cluster.namespace:
        return cluster.namespace
    try:
        return in_cluster.read_text().strip() or "default"
    except OSError:
        return "default"


def _kubernetes():
    try:
        import kubernetes
    except ImportError as e:
        raise TuneForgeError(
            "unavailable", "The kubernetes backend needs the `kubernetes` package: install "
            "TuneForge with the `k8s` extra (pip install 'tuneforge[k8s]').") from e
    return kubernetes


class TrainJobClient:
    """TrainJobs and their rank-0 pod, as the training service's service account sees them."""

    def __init__(self, api_client):
        k = _kubernetes()
        self._api = api_client
        self._custom = k.client.CustomObjectsApi(api_client)
        self._core = k.client.CoreV1Api(api_client)

    @classmethod
    def connect(cls, cluster: ClusterSettings) -> "TrainJobClient":
        """A client from `cluster.kubeconfig`, or from the pod's service account."""
        k = _kubernetes()
        if cluster.kubeconfig:
            return cls(k.config.new_client_from_config(config_file=str(cluster.kubeconfig)))
        k.config.load_incluster_config()
        return cls(k.client.ApiClient())

    def close(self) -> None:
        self._api.close()

    def create(self, manifest: dict) -> dict:
        """Create the TrainJob; one that already exists (a retry after a restart) is returned."""
        ns, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
        try:
            return self._custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL,
                                                                manifest)
        except self._api_exception() as e:
            if e.status == 409:
                return self.get(ns, name) or manifest
            raise self._error(e, f"creating TrainJob {ns}/{name}") from e

    def get(self, namespace: str, name: str) -> dict | None:
        """The TrainJob with its status, or None when there is none."""
        try:
            return self._custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                             name)
        except self._api_exception() as e:
            if e.status == 404:
                return None
            raise self._error(e, f"reading TrainJob {namespace}/{name}") from e

    def delete(self, namespace: str, name: str) -> bool:
        """Delete the TrainJob and, through their owner references, its pods; False if gone."""
        try:
            self._custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, propagation_policy="Background")
        except self._api_exception() as e:
            if e.status == 404:
                return False
            raise self._error(e, f"deleting TrainJob {namespace}/{name}") from e
        return True

    def rank0_pod(self, namespace: str, name: str) -> str | None:
        """The pod of node 0 (completion index 0), which runs rank 0; None until it exists."""
        selector = f"{_JOBSET_NAME}={name},{_NODE_INDEX}=0"
        try:
            pods = self._core.list_namespaced_pod(namespace, label_selector=selector)
        except self._api_exception() as e:
            raise self._error(e, f"listing the pods of TrainJob {namespace}/{name}") from e
        names = sorted(p.metadata.name for p in pods.items)
        return names[0] if names else None

    def follow_log(self, namespace: str, pod: str) -> Iterator[str]:
        """The pod's output line by line until it ends: rank 0's progress protocol."""
        try:
            resp = self._core.read_namespaced_pod_log(pod, namespace, follow=True,
                                                      _preload_content=False)
        except self._api_exception() as e:
            raise self._error(e, f"following the log of pod {namespace}/{pod}") from e
        try:
            pending = b""
            for chunk in resp.stream(64 * 1024):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from (line.decode("utf-8", "replace") for line in lines)
            if pending:
                yield pending.decode("utf-8", "replace")
        finally:
            resp.release_conn()

    @staticmethod
    def _api_exception():
        return _kubernetes().client.exceptions.ApiException

    @staticmethod
    def _error(e, doing: str) -> TuneForgeError:
        hint = {403: " (does the training service's service account have the Role in "
                     "deploy/k8s/training.yaml?)",
                404: " (is Kubeflow Trainer installed, with its TrainJob CRD?)"}.get(e.status, "")
        return TuneForgeError("unavailable", f"Kubernetes API: {doing} failed with "
                                             f"{e.status} {e.reason}{hint}")
