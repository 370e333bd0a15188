"""Registry and training services in-process on free ports, for the training tests.

The dataset service is a small fake behind real gRPC: it hands out canonical JSONL files the
test writes to the artifact store, so these tests depend only on the dataset contract.
"""

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nats

from services.common.artifacts import LocalArtifactStore
from services.common.errors import not_found
from services.common.events import Event, decode
from services.common.grpc_client import channel
from services.common.grpc_server import rpc, running_server
from services.common.ids import new_id, now
from services.registry.server import make_setup as registry_setup
from services.registry.settings import RegistrySettings
from services.training.server import make_setup as training_setup
from services.training.settings import TrainingSettings
from tuneforge.v1 import (dataset_pb2, dataset_pb2_grpc, inference_pb2, inference_pb2_grpc,
                          registry_pb2_grpc)
from tuneforge.v1 import training_pb2 as pb
from tuneforge.v1 import training_pb2_grpc

FINISHED = ("succeeded", "failed", "cancelled")


class FakeDatasetServicer(dataset_pb2_grpc.DatasetServiceServicer):
    """GetFile over files added with `add`; the other RPCs are not needed by training."""

    def __init__(self, store: LocalArtifactStore):
        self.store, self.files = store, {}

    def add(self, records: list[dict], status: str = "processed") -> dataset_pb2.File:
        """Store records in the canonical format ({id, messages}) as a processed file."""
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
        sha = hashlib.sha256(data).hexdigest()
        f = dataset_pb2.File(id=new_id("file"), filename="train.jsonl", purpose="fine-tune",
                             bytes=len(data), created_at=now(), status=status, sha256=sha,
                             artifact_key=f"datasets/{sha}/canonical.jsonl",
                             num_examples=len(records), format="messages-jsonl")
        self.store.put_bytes(f.artifact_key, data)
        self.files[f.id] = f
        return f

    @rpc
    async def GetFile(self, request, context) -> dataset_pb2.File:
        if request.id not in self.files:
            raise not_found("file", request.id, "file_id")
        return self.files[request.id]


class FakeInferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    """Deployments recorded, not served: what the registry and auto_deploy ask of inference."""

    def __init__(self):
        self.deployments: list[inference_pb2.Deployment] = []

    @rpc
    async def ListDeployments(self, request, context) -> inference_pb2.ListDeploymentsResponse:
        return inference_pb2.ListDeploymentsResponse(data=self.deployments)

    @rpc
    async def CreateDeployment(self, request, context) -> inference_pb2.Deployment:
        d = inference_pb2.Deployment(id=new_id("deploy"), model=request.model, status="pending",
                                     created_at=now())
        self.deployments.append(d)
        return d


def canonical(records: list[dict]) -> list[dict]:
    """Seed-format records ({conversations: [{from, value}]}) as the dataset service stores them."""
    return [{"id": r.get("id", str(i)),
             "messages": [{"role": t["from"], "content": t["value"]} for t in r["conversations"]]}
            for i, r in enumerate(records)]


@dataclass
class Stack:
    training: training_pb2_grpc.TrainingServiceStub
    dataset: FakeDatasetServicer
    registry: registry_pb2_grpc.RegistryServiceStub
    settings: TrainingSettings
    inference: FakeInferenceServicer
    events: list[Event] = field(default_factory=list)

    async def upload(self, records: list[dict]) -> dataset_pb2.File:
        """A processed training file holding the seed-format `records`."""
        return self.dataset.add(canonical(records))

    async def wait_for(self, job_id: str, statuses=FINISHED, timeout: float = 240) -> pb.Job:
        """The job once its status is one of `statuses`."""
        async def job_in_status():
            job = await self.training.GetJob(pb.GetJobRequest(id=job_id))
            return job if job.status in statuses else None
        return await until(job_in_status, timeout, f"job {job_id} to reach {statuses}")

    async def job_events(self, job_id: str) -> list[pb.JobEvent]:
        """Every event of the job, oldest first."""
        resp = await self.training.ListJobEvents(pb.ListJobEventsRequest(job_id=job_id,
                                                                          limit=1000))
        return list(reversed(resp.data))


async def until(check, timeout: float, what: str):
    """Poll the coroutine function `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.2)
    raise TimeoutError(f"waited {timeout}s for {what}")


@asynccontextmanager
async def services(root: Path, nats_url: str, prefix: str, database_url: str,
                   base_models_dir: Path, **training) -> AsyncIterator[Stack]:
    """Registry, fake dataset and training on one artifact folder, database and prefix."""
    common = dict(data_dir=root, artifact_dir=root / "artifacts", nats_url=nats_url,
                  events_subject_prefix=prefix, events_stream=f"S{prefix}",
                  database_url=database_url, _env_file=None)
    async with AsyncExitStack() as stack:
        async def serve(name, setup):
            port = await stack.enter_async_context(running_server(name, "127.0.0.1:0", setup))
            return await stack.enter_async_context(channel(f"127.0.0.1:{port}")), port

        inference = FakeInferenceServicer()

        async def inference_setup(_stack, server) -> None:
            inference_pb2_grpc.add_InferenceServiceServicer_to_server(inference, server)

        _, inference_port = await serve("inference", inference_setup)
        common["inference_addr"] = f"127.0.0.1:{inference_port}"
        registry_ch, registry_port = await serve("registry", registry_setup(
            RegistrySettings(base_models_dir=base_models_dir, **common)))
        dataset = FakeDatasetServicer(LocalArtifactStore(root / "artifacts"))

        async def dataset_setup(_stack, server) -> None:
            dataset_pb2_grpc.add_DatasetServiceServicer_to_server(dataset, server)

        _, dataset_port = await serve("dataset", dataset_setup)
        settings = TrainingSettings(registry_addr=f"127.0.0.1:{registry_port}",
                                    dataset_addr=f"127.0.0.1:{dataset_port}",
                                    metrics_publish_interval_s=0, **common, **training)
        training_ch, _ = await serve("training", training_setup(settings))
        result = Stack(training_pb2_grpc.TrainingServiceStub(training_ch),
                       dataset,
                       registry_pb2_grpc.RegistryServiceStub(registry_ch), settings, inference)
        nc = await nats.connect(nats_url)
        stack.push_async_callback(nc.drain)

        async def collect(msg) -> None:
            result.events.append(decode(msg.subject, msg.data))

        await nc.subscribe(f"{prefix}.v1.*.training.>", cb=collect)
        yield result
