"""Each service, started as its process starts it, answers /metrics on its metrics port with
the gRPC metrics and its own; every metric is in docs/operations.md's table."""

import re
from pathlib import Path

import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from services.common import metrics as m
from services.common.grpc_client import channel
from services.common.grpc_server import running_server
from services.common.metrics import ServiceMetrics
from services.dataset.server import make_setup as dataset_setup
from services.dataset.settings import DatasetSettings
from services.inference.server import make_setup as inference_setup
from services.inference.settings import InferenceSettings
from services.registry.server import make_setup as registry_setup
from services.registry.settings import RegistrySettings
from services.training.server import make_setup as training_setup
from services.training.settings import TrainingSettings
from tests.support import free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
COMMON = {m.GRPC_HANDLED, m.GRPC_HANDLING, m.GRPC_IN_FLIGHT, m.EVENTS_PUBLISHED}
OWN = {
    "dataset": {m.DATASET_FILES_PROCESSED},
    "training": {m.TRAINING_JOBS, m.TRAINING_TOKENS},
    "registry": set(),
    "inference": {m.INFERENCE_GENERATED_TOKENS, m.INFERENCE_PROMPT_TOKENS, m.INFERENCE_TTFT,
                  m.INFERENCE_RUNNING},
}
SETUPS = {
    "dataset": (DatasetSettings, lambda s, metrics: dataset_setup(s, metrics)),
    "training": (TrainingSettings, lambda s, metrics: training_setup(s, metrics)),
    "registry": (RegistrySettings, lambda s, metrics: registry_setup(s, metrics)),
    "inference": (InferenceSettings, lambda s, metrics: inference_setup(s, metrics=metrics)),
}


def families(text: str) -> dict:
    """Metric families by their name as scraped (a counter's with `_total`)."""
    out = {}
    for f in text_string_to_metric_families(text):
        out[f.name + "_total" if f.type == "counter" else f.name] = f
    return out


@pytest.mark.parametrize("service", list(SETUPS))
async def test_service_answers_metrics_with_grpc_and_its_own_metrics(
        service, tmp_path, nats_url, event_prefix, database_url):
    settings_class, make = SETUPS[service]
    extra = {"base_models_dir": tmp_path / "no-models"} if service == "registry" else {}
    settings = settings_class(_env_file=None, data_dir=tmp_path, nats_url=nats_url,
                              events_subject_prefix=event_prefix,
                              events_stream=f"S{event_prefix}", database_url=database_url,
                              **extra)
    metrics, port = ServiceMetrics(service), free_port()
    async with running_server(service, "127.0.0.1:0", make(settings, metrics),
                              metrics=metrics, metrics_port=port) as grpc_port:
        async with channel(f"127.0.0.1:{grpc_port}") as ch:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
        async with httpx.AsyncClient() as http:
            r = await http.get(f"http://127.0.0.1:{port}/metrics")

    assert r.status_code == 200
    found = families(r.text)
    assert COMMON | OWN[service] <= found.keys(), sorted(COMMON | OWN[service] - found.keys())
    handled = {tuple(sorted(s.labels.items())): s.value
               for s in found[m.GRPC_HANDLED].samples if s.name == m.GRPC_HANDLED}
    assert handled[(("code", "OK"), ("method", "Health/Check"), ("service", service))] == 1
    if service == "training":
        jobs = {s.labels["status"]: s.value for s in found[m.TRAINING_JOBS].samples}
        assert jobs["queued"] == 0 and set(m.JOB_STATUSES) <= jobs.keys()


async def test_metrics_port_in_use_fails_the_start_naming_the_setting(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def setup(_stack, _server):
            pass
        with pytest.raises(OSError, match=rf"127.0.0.1:{port} \(metrics_port\)"):
            async with running_server("registry", "127.0.0.1:0", setup, metrics_port=port):
                pass


def test_every_service_metric_is_in_the_operations_table():
    documented = set(re.findall(r"^\| `(tuneforge_\w+)` \|", DOC.read_text(), re.MULTILINE))
    names = {v for k, v in vars(m).items() if k.isupper() and isinstance(v, str)
             and v.startswith("tuneforge_")}
    assert names == COMMON.union(*OWN.values())
    assert names <= documented, sorted(names - documented)


def test_each_service_has_its_own_default_metrics_port():
    ports = {name: cls.model_fields["metrics_port"].default
             for name, (cls, _) in SETUPS.items()}
    assert len(set(ports.values())) == len(ports) and all(ports.values()), ports
