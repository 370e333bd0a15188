"""deploy/k8s rendered as `kubectl kustomize` renders it, for the transformers it uses.

Neither kubectl nor kustomize is a project dependency; this does the few steps the folder's
kustomization.yaml asks for and refuses one it does not know, rather than ignore it.
"""

from pathlib import Path

import yaml

from tests.deploy.support import K8S

_KNOWN = {"apiVersion", "kind", "namespace", "labels", "resources", "images"}
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                   "StorageClass", "CustomResourceDefinition", "PriorityClass"}


def kustomization(folder: Path = K8S) -> dict:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def render(folder: Path = K8S) -> list[dict]:
    """Every object of the folder's resources, with namespace, labels and images applied."""
    k = kustomization(folder)
    if unknown := set(k) - _KNOWN:
        raise ValueError(f"kustomization.yaml uses {sorted(unknown)}, which this renderer "
                         "does not apply; teach tests/deploy/kustomize.py")
    docs = [d for name in k["resources"]
            for d in yaml.safe_load_all((folder / name).read_text()) if d]
    for d in docs:
        meta = d["metadata"]
        if k.get("namespace") and d["kind"] not in _CLUSTER_SCOPED:
            meta["namespace"] = k["namespace"]
            for subject in d.get("subjects", []):
                if subject["kind"] == "ServiceAccount":
                    subject["namespace"] = k["namespace"]
        for entry in k.get("labels", []):
            if set(entry) - {"pairs"}:
                raise ValueError(f"labels options {sorted(set(entry) - {'pairs'})} not applied")
            meta.setdefault("labels", {}).update(entry["pairs"])
        for container in containers(d):
            _set_image(container, k.get("images", []))
    return docs


def containers(obj: dict) -> list[dict]:
    """The containers (init containers included) of a workload's pod template."""
    pod = pod_spec(obj)
    return [*pod.get("initContainers", []), *pod.get("containers", [])] if pod else []


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def _set_image(container: dict, images: list[dict]) -> None:
    name, _, tag = container["image"].partition(":")
    for image in images:
        if image["name"] == name:
            name = image.get("newName", name)
            tag = image.get("newTag", tag)
    container["image"] = f"{name}:{tag}" if tag else name
