"""deploy/k8s rendered as `kubectl kustomize` renders it, for the transformers it uses.

Neither kubectl nor kustomize is a project dependency; this does the few steps the folder's
kustomization.yaml asks for and refuses one it does not know, rather than ignore it.
"""

from pathlib import Path

import yaml

from tests.deploy.support import K8S

_KNOWN = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "patches"}
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
    docs = []
    for name in k["resources"]:
        path = folder / name
        # A folder is a base (an overlay builds on it): rendered with its own kustomization.
        docs += render(path) if path.is_dir() else [
            d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in k.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"patch options {sorted(set(patch) - {'path'})} not applied")
        _apply_patch(docs, yaml.safe_load((folder / patch["path"]).read_text()))
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
    """The containers (init containers included) of a workload's pod templates."""
    return [c for pod in pod_specs(obj)
            for c in (*pod.get("initContainers", []), *pod.get("containers", []))]


def pod_specs(obj: dict) -> list[dict]:
    """Every pod template of an object: a workload's one, or each job of a training runtime."""
    if obj["kind"] in ("TrainingRuntime", "ClusterTrainingRuntime"):
        return [job["template"]["spec"]["template"]["spec"]
                for job in obj["spec"]["template"]["spec"]["replicatedJobs"]]
    pod = pod_spec(obj)
    return [pod] if pod else []


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


def _apply_patch(docs: list[dict], patch: dict) -> None:
    """A strategic-merge patch, for what ours use: maps merge, lists of named items merge by
    name, other lists are replaced."""
    targets = [d for d in docs if d["kind"] == patch["kind"]
               and d["metadata"]["name"] == patch["metadata"]["name"]]
    if len(targets) != 1:
        raise ValueError(f"patch for {patch['kind']} {patch['metadata']['name']} matches "
                         f"{len(targets)} objects")
    _merge(targets[0], {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")})


def _merge(into: dict, patch: dict) -> None:
    for key, value in patch.items():
        old = into.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            _merge(old, value)
        elif isinstance(old, list) and value and all(
                isinstance(v, dict) and "name" in v for v in old + value):
            by_name = {item["name"]: item for item in old}
            for item in value:
                if item["name"] in by_name:
                    _merge(by_name[item["name"]], item)
                else:
                    old.append(item)
        else:
            into[key] = value
