"""deploy/k8s checked against the Kubernetes schemas and the settings classes."""

import re

import pytest

from tests.deploy.kustomize import containers, kustomization, pod_spec, render
from tests.deploy.support import (
    DOCKER,
    NEEDS_GPU,
    ROOT,
    SERVICES,
    Dockerfile,
    dial_addresses,
    host_port,
    image_env,
    listen_port,
    module_command,
    settings_for,
    unknown_settings,
)

PROCESSES = (*SERVICES, "gateway")
# The oldest Kubernetes release the manifests promise to work on (native gRPC probes: 1.27).
KUBERNETES_VERSION = "1.30"
SECRET = "tuneforge-secrets"
# Values the cluster fills in at run time, so the settings can be read here.
DOWNWARD = {"status.podIP": "10.0.0.7", "metadata.name": "inference-5d8f-abcde"}
SECRET_VALUES = {"database-url": "postgresql://tuneforge:pw@postgres:5432/tuneforge",
                 "s3-access-key": "tuneforge", "s3-secret-key": "pw", "admin-key": "tf-admin-x"}


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return render()


def find(objects: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def container_of(objects, process: str) -> dict:
    return containers(find(objects, "Deployment", process))[0]


def env_of(objects, process: str) -> dict[str, str]:
    """The environment the process's container gets: image ENV, ConfigMaps, env entries."""
    c = container_of(objects, process)
    env = image_env(c["image"])
    for source in c.get("envFrom", []):
        env |= find(objects, "ConfigMap", source["configMapRef"]["name"])["data"]
    for e in c.get("env", []):
        ref = e.get("valueFrom", {})
        if "secretKeyRef" in ref:
            env[e["name"]] = SECRET_VALUES[ref["secretKeyRef"]["key"]]
        elif "fieldRef" in ref:
            env[e["name"]] = DOWNWARD[ref["fieldRef"]["fieldPath"]]
        else:  # $(VAR) refers to a variable defined earlier in the list
            env[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], e["value"])
    return env


def settings_of(objects, process: str):
    return settings_for(process, env_of(objects, process))


def named_port(objects, process: str, name: str) -> int:
    ports = {p["name"]: p["containerPort"] for p in container_of(objects, process)["ports"]}
    return ports[name]


def test_manifests_are_valid_for_the_kubernetes_schemas(objects):
    import kubernetes_validate as kv
    errors = []
    for obj in objects:
        try:
            kv.validate(obj, KUBERNETES_VERSION, strict=True)
        except kv.ValidationError as e:
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: {e.message}")
    assert not errors, "\n".join(errors)


def test_everything_lands_in_one_namespace_that_the_manifests_create(objects):
    namespace = kustomization()["namespace"]
    find(objects, "Namespace", namespace)
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        namespace}


@pytest.mark.parametrize("process", PROCESSES)
def test_process_gets_only_variables_that_are_its_settings(objects, process):
    assert not unknown_settings(process, env_of(objects, process))


@pytest.mark.parametrize("process", PROCESSES)
def test_process_runs_its_module_from_the_right_image(objects, process):
    c = container_of(objects, process)
    assert c["command"] == module_command(process)
    image = "tuneforge-gpu" if process in NEEDS_GPU else "tuneforge"
    assert c["image"].split(":")[0] == image


@pytest.mark.parametrize("process", SERVICES)
def test_grpc_port_and_probes_match_the_listen_address(objects, process):
    s = settings_of(objects, process)
    port = listen_port(process, s)
    assert host_port(s.listen_addr)[0] == "0.0.0.0"
    c = container_of(objects, process)
    assert named_port(objects, process, "grpc") == port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["grpc"] == {"port": port, "service": process}, f"{process} {probe}"


def test_gateway_listens_on_its_port_and_probes_health_and_readiness(objects):
    s = settings_of(objects, "gateway")
    assert s.host == "0.0.0.0" and named_port(objects, "gateway", "http") == s.port
    c = container_of(objects, "gateway")
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}


@pytest.mark.parametrize("process", PROCESSES)
def test_scrape_annotations_name_the_port_that_serves_metrics(objects, process):
    s = settings_of(objects, process)
    port = s.port if process == "gateway" else s.metrics_port
    assert port, f"{process} serves no metrics"
    if process != "gateway":
        assert named_port(objects, process, "metrics") == port
    pod = find(objects, "Deployment", process)["spec"]["template"]["metadata"]
    assert pod["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                                  "prometheus.io/path": "/metrics"}


@pytest.mark.parametrize("process", PROCESSES)
def test_addresses_name_a_service_that_routes_to_the_listen_port(objects, process):
    for target, address in dial_addresses(settings_of(objects, process)).items():
        host, port = host_port(address)
        service = find(objects, "Service", host)
        routed = {p["port"]: p["targetPort"] for p in service["spec"]["ports"]}
        assert port in routed, f"{process} dials {address}; Service {host} has no port {port}"
        assert named_port(objects, target, routed[port]) == listen_port(
            target, settings_of(objects, target))


def test_inference_advertises_its_pod_address_on_its_listen_port(objects):
    s = settings_of(objects, "inference")
    assert host_port(s.advertise_addr) == (DOWNWARD["status.podIP"], listen_port("inference", s))


def test_every_selector_matches_its_pods(objects):
    templates = {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
                 for o in objects if o["kind"] == "Deployment"}
    for o in objects:
        selector = (o["spec"]["selector"].get("matchLabels") if o["kind"] in
                    ("Deployment", "PodDisruptionBudget") else
                    o["spec"]["selector"] if o["kind"] == "Service" else None)
        if selector is not None:
            assert any(selector.items() <= labels.items() for labels in templates.values()), (
                f"{o['kind']} {o['metadata']['name']} selects no pods")


@pytest.mark.parametrize("process", NEEDS_GPU)
def test_gpu_services_request_gpus_and_tolerate_gpu_nodes(objects, process):
    deployment = find(objects, "Deployment", process)
    resources = container_of(objects, process)["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == resources["requests"]["nvidia.com/gpu"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in (
        pod_spec(deployment)["tolerations"])
    # The old pod must free its GPUs before the new one can have them.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_gateway_scales_on_cpu_and_keeps_a_replica_through_disruptions(objects):
    hpa = find(objects, "HorizontalPodAutoscaler", "gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "gateway"}
    assert 1 < hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert container_of(objects, "gateway")["resources"]["requests"]["cpu"]
    assert find(objects, "PodDisruptionBudget", "gateway")["spec"]["minAvailable"] >= 1


def test_training_may_manage_trainjobs_through_its_service_account(objects):
    account = pod_spec(find(objects, "Deployment", "training"))["serviceAccountName"]
    binding = find(objects, "RoleBinding", account)
    assert binding["subjects"][0]["name"] == account
    rules = find(objects, "Role", binding["roleRef"]["name"])["rules"]
    assert {"apiGroups": ["trainer.kubeflow.org"], "resources": ["trainjobs"],
            "verbs": ["create", "get", "list", "watch", "delete"]} in rules


@pytest.mark.parametrize("process", PROCESSES)
def test_pods_run_as_the_images_non_root_user(objects, process):
    c = container_of(objects, process)
    image = "Dockerfile.gpu" if process in NEEDS_GPU else "Dockerfile"
    uid = [r for kw, r in Dockerfile(DOCKER / image).final_stage() if kw == "USER"][-1]
    context = pod_spec(find(objects, "Deployment", process))["securityContext"]
    assert context["runAsNonRoot"] and str(context["runAsUser"]) == uid.split(":")[0]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("process", SERVICES)
def test_data_dir_is_a_mounted_volume(objects, process):
    mounts = [m["mountPath"] for m in container_of(objects, process)["volumeMounts"]]
    assert str(settings_of(objects, process).data_dir) in mounts


def test_secrets_come_from_one_secret_whose_keys_the_operations_doc_creates(objects):
    doc = (ROOT / "docs" / "operations.md").read_text()
    keys = {e["valueFrom"]["secretKeyRef"]["key"]: e["valueFrom"]["secretKeyRef"]["name"]
            for p in PROCESSES for e in container_of(objects, p).get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})}
    assert set(keys.values()) == {SECRET}
    assert set(keys) == set(SECRET_VALUES)
    for key in keys:
        assert f"--from-literal={key}=" in doc, f"docs/operations.md does not create {key}"


def test_training_agents_scale_out_on_gpus_with_the_training_service_settings(objects):
    agent = find(objects, "Deployment", "training-agent")
    (c,) = containers(agent)
    assert c["command"] == ["python", "-m", "services.training.agent"]
    assert c["image"].startswith("tuneforge-gpu")
    assert int(c["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    env = env_of(objects, "training-agent")
    service = env_of(objects, "training")
    from services.training.settings import TrainingSettings

    settings = TrainingSettings(_env_file=None, **{k.removeprefix("TUNEFORGE_TRAINING_").lower(): v
                                                   for k, v in env.items()
                                                   if k.startswith("TUNEFORGE_TRAINING_")})
    assert settings.agent_id == DOWNWARD["metadata.name"]  # one id per pod
    for key in ("TUNEFORGE_TRAINING_DATABASE_URL", "TUNEFORGE_NATS_URL",
                "TUNEFORGE_EVENTS_SUBJECT_PREFIX", "TUNEFORGE_S3_ENDPOINT"):
        assert env.get(key) == service.get(key), key  # the same queue, store and database
    port = c["livenessProbe"]["httpGet"]["port"]
    assert {"name": "metrics", "containerPort": settings.metrics_port} in c["ports"]
    assert port == "metrics"
