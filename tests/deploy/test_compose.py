"""docker-compose.yml checked statically against the compose spec and the settings classes."""

import json
import re
import subprocess
from importlib import resources

import pytest
from sqlalchemy.engine import make_url

from tests.deploy import compose
from tests.deploy.support import (
    DOCKER,
    NEEDS_GPU,
    SERVICES,
    dial_addresses,
    host_port,
    image_env,
    listen_port,
    module_command,
    settings_for,
    unknown_settings,
)
from tests.support import nats_server_binary

PROCESSES = (*SERVICES, "gateway")
NATS_CONF = compose.ROOT / "deploy" / "nats" / "nats.conf"
INFRA = {"nats", "minio", "postgres"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return compose.load()


def env_of(spec: dict, process: str) -> dict[str, str]:
    """What the process sees: its image's ENV, then the compose file's environment."""
    service = spec["services"][process]
    return {**image_env(service["image"]), **{k: str(v) for k, v in service["environment"].items()}}


def settings_of(spec: dict, process: str):
    return settings_for(process, env_of(spec, process))


def test_compose_file_follows_the_compose_specification(spec):
    import jsonschema
    schema = json.loads(resources.files("check_jsonschema.builtin_schemas.vendor")
                        .joinpath("compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    for files in ((compose.COMPOSE,), (compose.COMPOSE, compose.CPU_OVERRIDE)):
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(compose.load(*files))]
        assert not errors, f"{[f.name for f in files]}:\n" + "\n".join(errors)


def test_every_interpolated_variable_is_in_env_example_or_has_a_default():
    example = compose.read_dotenv()
    refs = compose.references(compose.raw(compose.COMPOSE, compose.CPU_OVERRIDE))
    missing = sorted(name for name, has_default in refs.items()
                     if not has_default and name not in example)
    assert not missing, f"set these in .env.example or give them a default: {missing}"


def test_env_example_holds_only_variables_the_compose_file_uses():
    refs = compose.references(compose.raw(compose.COMPOSE, compose.CPU_OVERRIDE))
    unused = sorted(set(compose.read_dotenv()) - set(refs))
    assert not unused, f".env.example sets variables no compose file reads: {unused}"


def test_required_secrets_stop_compose_when_unset():
    env = compose.read_dotenv()
    del env["POSTGRES_PASSWORD"]
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        compose.load(env=env)


@pytest.mark.parametrize("process", PROCESSES)
def test_process_gets_only_variables_that_are_its_settings(spec, process):
    assert not unknown_settings(process, env_of(spec, process)), (
        f"{process}: not a setting of {process} (typo, or a setting that was renamed)")


@pytest.mark.parametrize("process", PROCESSES)
def test_process_runs_its_module_and_its_health_check_asks_its_listen_port(spec, process):
    service = spec["services"][process]
    port = listen_port(process, settings_of(spec, process))
    assert service["command"] == module_command(process)
    check = service["healthcheck"]["test"]
    if process == "gateway":
        assert check == ["CMD", "python", "-m", "services.common.healthcheck",
                         f"http://127.0.0.1:{port}/ready"]
    else:
        assert check == ["CMD", "python", "-m", "services.common.healthcheck",
                         f"127.0.0.1:{port}", process]


def test_services_bind_every_interface_and_only_the_gateway_is_published(spec):
    for process in SERVICES:
        host, _ = host_port(settings_of(spec, process).listen_addr)
        assert host == "0.0.0.0", f"{process} must bind 0.0.0.0 to be reachable from others"
        assert "ports" not in spec["services"][process], f"{process} must not be published"
    gateway = settings_of(spec, "gateway")
    assert gateway.host == "0.0.0.0"
    published = [p.rsplit(":", 1) for p in spec["services"]["gateway"]["ports"]]
    assert [int(container) for _, container in published] == [gateway.port]


@pytest.mark.parametrize("process", PROCESSES)
def test_addresses_name_the_compose_service_and_port_that_serve_them(spec, process):
    for target, address in dial_addresses(settings_of(spec, process)).items():
        host, port = host_port(address)
        assert host == target, f"{process} dials {target} at {address}"
        assert port == listen_port(target, settings_of(spec, target)), (
            f"{process} dials {target} at {address}, but {target} listens elsewhere")


@pytest.mark.parametrize("process", SERVICES)
def test_service_reaches_nats_minio_and_postgres_of_this_file(spec, process):
    s = settings_of(spec, process)
    pg = spec["services"]["postgres"]["environment"]
    assert host_port(s.nats_url) == ("nats", _nats_conf()["port"])
    assert s.artifact_backend == "s3" and host_port(s.s3_endpoint) == ("minio", 9000)
    minio = spec["services"]["minio"]["environment"]
    assert (s.s3_access_key, s.s3_secret_key.get_secret_value()) == (
        minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"])
    url = make_url(s.database_url)
    assert (url.host, url.port, url.username, url.password, url.database) == (
        "postgres", 5432, pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"])


def test_every_container_has_a_health_check_and_waits_for_healthy_dependencies(spec):
    for name, service in spec["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        for dep, how in service.get("depends_on", {}).items():
            assert how == {"condition": "service_healthy"}, f"{name} -> {dep}: {how}"


@pytest.mark.parametrize("process", PROCESSES)
def test_process_starts_after_everything_it_dials_is_healthy(spec, process):
    s = settings_of(spec, process)
    needed = {host_port(s.nats_url)[0]}
    if process == "gateway":
        needed |= set(SERVICES)  # its readiness asks every service
    else:
        needed |= {host_port(s.s3_endpoint)[0], make_url(s.database_url).host}
    assert needed <= set(spec["services"][process]["depends_on"])


@pytest.mark.parametrize("process", SERVICES)
def test_service_state_lives_on_a_named_volume(spec, process):
    s = settings_of(spec, process)
    mounts = _named_mounts(spec, process)
    assert str(s.data_dir) in mounts, f"{process} keeps {s.data_dir} on no named volume"


def test_registry_reads_base_models_from_the_mounted_models_folder(spec):
    s = settings_of(spec, "registry")
    mounts = {v.split(":")[1]: v for v in spec["services"]["registry"]["volumes"]}
    assert mounts[str(s.base_models_dir)].endswith(":ro"), "the registry only reads base models"
    assert s.base_models_dir in s.import_dirs


def test_infrastructure_state_lives_on_named_volumes(spec):
    assert _nats_conf()["jetstream"]["store_dir"] in _named_mounts(spec, "nats")
    assert "/var/lib/postgresql/data" in _named_mounts(spec, "postgres")
    minio = spec["services"]["minio"]
    assert minio["command"][:2] == ["server", "/data"] and "/data" in _named_mounts(spec, "minio")


def test_nats_config_is_valid_and_fsyncs_every_write():
    result = subprocess.run([nats_server_binary(), "-t", "-c", str(NATS_CONF)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr + result.stdout
    assert _nats_conf()["jetstream"]["sync_interval"] == "always"


def test_nats_mounts_its_config_and_its_health_check_needs_jetstream(spec):
    nats = spec["services"]["nats"]
    assert f"./deploy/nats/nats.conf:{nats['command'][-1]}:ro" in nats["volumes"]
    assert f"http://127.0.0.1:{_nats_conf()['http_port']}/healthz?js-enabled-only=true" in (
        nats["healthcheck"]["test"])


@pytest.mark.parametrize("process", NEEDS_GPU)
def test_gpu_services_reserve_nvidia_gpus_and_shared_memory(spec, process):
    service = spec["services"][process]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert service["image"].startswith("tuneforge-gpu:")
    assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile.gpu"
    assert "shm_size" in service


@pytest.mark.parametrize("process", NEEDS_GPU)
def test_cpu_override_runs_gpu_services_from_the_cpu_image_without_reservations(process):
    service = compose.load(compose.COMPOSE, compose.CPU_OVERRIDE)["services"][process]
    assert "deploy" not in service
    assert service["image"].startswith("tuneforge:")
    assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile"


def test_images_are_pinned_and_built_ones_come_from_deploy_docker(spec):
    for name, service in spec["services"].items():
        repo, _, tag = service["image"].rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: pin a tag, not {service['image']!r}"
        if "build" in service:
            assert (compose.ROOT / service["build"]["dockerfile"]).parent == DOCKER
            assert service["build"]["context"] == "."


def test_tuneforge_services_restart_and_run_under_an_init(spec):
    for process in PROCESSES:
        service = spec["services"][process]
        assert service["restart"] == "unless-stopped" and service["init"] is True, process


def _named_mounts(spec: dict, name: str) -> dict[str, str]:
    """Container path -> named volume, for the volumes declared at the top level."""
    out = {}
    for v in spec["services"][name].get("volumes", []):
        source, target = v.split(":")[:2]
        if source in (spec.get("volumes") or {}):
            out[target] = source
    return out


def _nats_conf() -> dict:
    """The few keys of nats.conf the checks need (`key: value` lines and the jetstream block)."""
    conf: dict = {"jetstream": {}}
    block = conf
    for line in NATS_CONF.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("jetstream"):
            block = conf["jetstream"]
        elif line == "}":
            block = conf
        elif m := re.fullmatch(r"(\w+)\s*:\s*(\S+)", line):
            block[m.group(1)] = int(m.group(2)) if m.group(2).isdigit() else m.group(2)
    return conf


@pytest.mark.parametrize("process", SERVICES)
def test_service_exposes_its_metrics_port_to_the_network_only(spec, process):
    port = settings_of(spec, process).metrics_port
    assert port and spec["services"][process]["expose"] == [str(port)]
