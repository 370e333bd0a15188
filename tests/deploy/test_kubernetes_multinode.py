"""deploy/k8s/multinode: the platform plus Kubeflow Trainer's runtime, and the TrainJobs the
training service creates against it.

The Trainer's custom resources are not in the Kubernetes schemas, so they are checked against
the fields of their CRDs (kubeflow/trainer pkg/apis/trainer/v1alpha1, JobSet v1alpha2), and
every part that is a core type (Job template, container env and resources) against the schema
of that type.
"""

import os
import re
from pathlib import Path
from unittest import mock

import kubernetes_validate as kv
import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.training.multinode import ClusterSettings, multinode_launch
from services.training.settings import TrainingSettings
from services.training.trainer.config import Hyperparameters
from tests.deploy.kustomize import kustomization, pod_specs, render
from tests.deploy.support import DOCKER, K8S, Dockerfile
from tests.deploy.test_kubernetes import KUBERNETES_VERSION, env_of, find

OVERLAY = K8S / "multinode"
TRAINER_API = "trainer.kubeflow.org/v1alpha1"
TRAINER_KINDS = {"TrainingRuntime", "ClusterTrainingRuntime", "TrainJob"}
# Fields of the CRDs, as far as our objects go.
RUNTIME_SPEC = {"mlPolicy", "podGroupPolicy", "template"}
ML_POLICY = {"numNodes", "torch", "mpi", "flux"}
TORCH_POLICY = {"numProcPerNode", "elasticPolicy"}
JOBSET_SPEC = {"replicatedJobs", "network", "successPolicy", "failurePolicy", "startupPolicy",
               "suspend", "coordinator", "managedBy", "ttlSecondsAfterFinished"}
REPLICATED_JOB = {"name", "groupName", "template", "replicas", "dependsOn"}
TRAINJOB_SPEC = {"runtimeRef", "initializer", "trainer", "runtimePatches", "suspend",
                 "activeDeadlineSeconds", "managedBy"}
RUNTIME_REF = {"name", "apiGroup", "kind"}
TRAINER = {"image", "command", "args", "env", "numNodes", "resourcesPerNode", "numProcPerNode"}


class WiredTrainingSettings(TrainingSettings):
    """The training settings with `cluster` read as docs/multinode.md says the service reads it."""

    model_config = SettingsConfigDict(env_nested_delimiter="__")  # merged with the parent's
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return render(OVERLAY)


@pytest.fixture(scope="module")
def settings(objects) -> WiredTrainingSettings:
    with mock.patch.dict(os.environ, env_of(objects, "training"), clear=True):
        return WiredTrainingSettings(_env_file=None)


def runtime(objects) -> dict:
    return find(objects, "TrainingRuntime", "tuneforge-torch")


def keys_within(obj: dict, allowed: set[str], where: str) -> None:
    assert set(obj) <= allowed, f"{where}: fields {sorted(set(obj) - allowed)} are not in the CRD"


def valid(obj: dict) -> None:
    try:
        kv.validate(obj, KUBERNETES_VERSION, strict=True)
    except kv.ValidationError as e:
        pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {e.message}")


def test_overlay_has_the_platform_and_the_multinode_parts(objects):
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {(o["kind"], o["metadata"]["name"]) for o in render(K8S)} < names
    assert {("PersistentVolumeClaim", "tuneforge-training-jobs"),
            ("TrainingRuntime", "tuneforge-torch")} <= names


def test_core_objects_are_valid_for_the_kubernetes_schemas(objects):
    for obj in objects:
        if obj["kind"] not in TRAINER_KINDS:
            valid(obj)


def test_runtime_has_only_fields_of_the_crd_and_valid_job_templates(objects):
    rt = runtime(objects)
    assert rt["apiVersion"] == TRAINER_API
    keys_within(rt["spec"], RUNTIME_SPEC, "spec")
    keys_within(rt["spec"]["mlPolicy"], ML_POLICY, "spec.mlPolicy")
    keys_within(rt["spec"]["mlPolicy"]["torch"], TORCH_POLICY, "spec.mlPolicy.torch")
    keys_within(rt["spec"]["template"]["spec"], JOBSET_SPEC, "spec.template.spec")
    for job in rt["spec"]["template"]["spec"]["replicatedJobs"]:
        keys_within(job, REPLICATED_JOB, f"replicatedJobs[{job['name']}]")
        valid({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": job["name"]},
               "spec": job["template"]["spec"]})
        # A rule of the API server that the schema does not carry.
        assert job["template"]["spec"]["template"]["spec"]["restartPolicy"] in (
            "Never", "OnFailure")


def test_runtime_names_the_trainer_step_and_container_as_kubeflow_trainer_expects(objects):
    [job] = runtime(objects)["spec"]["template"]["spec"]["replicatedJobs"]
    labels = job["template"]["metadata"]["labels"]
    assert labels["trainer.kubeflow.org/trainjob-ancestor-step"] == "trainer"
    assert [c["name"] for c in job["template"]["spec"]["template"]["spec"]["containers"]] == [
        "node"]


def test_ranks_and_service_share_the_job_folders_at_the_service_work_dir(objects, settings):
    claim = find(objects, "PersistentVolumeClaim", "tuneforge-training-jobs")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    training_pod = pod_specs(find(objects, "Deployment", "training"))[0]
    for pod in [training_pod, *pod_specs(runtime(objects))]:
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        volume = volumes[mounts[str(settings.work_root)]]
        assert volume["persistentVolumeClaim"]["claimName"] == "tuneforge-training-jobs"


def test_runtime_pods_run_the_gpu_image_as_its_non_root_user(objects):
    base_tags = {i["name"]: i["newTag"] for i in kustomization(K8S)["images"]}
    [pod] = pod_specs(runtime(objects))
    image = pod["containers"][0]["image"]
    assert image == f"tuneforge-gpu:{base_tags['tuneforge-gpu']}"
    uid = [r for kw, r in Dockerfile(DOCKER / "Dockerfile.gpu").final_stage() if kw == "USER"][-1]
    assert str(pod["securityContext"]["runAsUser"]) == uid.split(":")[0]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in (
        pod["tolerations"])


def test_training_service_uses_the_kubernetes_backend_and_this_runtime(objects, settings):
    cluster = settings.cluster
    assert cluster.backend == "kubernetes"
    assert (cluster.runtime_kind, cluster.runtime) == ("TrainingRuntime", "tuneforge-torch")
    # Unset: the service's own namespace, where kustomize puts the runtime too.
    assert cluster.namespace is None
    assert runtime(objects)["metadata"]["namespace"] == kustomization(OVERLAY)["namespace"]


def test_trainjob_the_service_creates_fits_the_crd_and_the_core_schemas(objects, settings):
    hp = Hyperparameters(num_nodes=2, num_gpus=16, batch_size=16)
    run = settings.work_root / "ftjob-0193ab12cd3f1e2d3c4b5a" / "run.json"
    cluster = settings.cluster.model_copy(update={"namespace": "tuneforge"})
    job = multinode_launch("ftjob-0193ab12cd3f1e2d3c4b5a", hp, run, cluster, "python").trainjob
    assert job["apiVersion"] == TRAINER_API and job["kind"] == "TrainJob"
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", job["metadata"]["name"])
    keys_within(job["spec"], TRAINJOB_SPEC, "spec")
    keys_within(job["spec"]["runtimeRef"], RUNTIME_REF, "spec.runtimeRef")
    keys_within(job["spec"]["trainer"], TRAINER, "spec.trainer")
    ref = job["spec"]["runtimeRef"]
    rt = find(objects, ref["kind"], ref["name"])
    assert rt["metadata"]["namespace"] == job["metadata"]["namespace"]
    trainer = job["spec"]["trainer"]
    container = {"name": "node", "image": "tuneforge-gpu", "command": trainer["command"],
                 "env": trainer["env"], "resources": trainer["resourcesPerNode"]}
    valid({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "node"},
           "spec": {"containers": [container]}})
    assert Path(trainer["command"][-1]).is_relative_to(settings.work_root)


def test_training_role_allows_every_call_the_trainjob_client_makes(objects):
    rules = find(objects, "Role", "tuneforge-training")["rules"]

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
                   for r in rules)

    for group, resource, verb in [("trainer.kubeflow.org", "trainjobs", "create"),
                                  ("trainer.kubeflow.org", "trainjobs", "get"),
                                  ("trainer.kubeflow.org", "trainjobs", "delete"),
                                  ("", "pods", "list"), ("", "pods/log", "get")]:
        assert allowed(group, resource, verb), f"{verb} {group}/{resource}"
