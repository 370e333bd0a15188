"""The gateway routes by the replicas' NATS heartbeats: balancing, failure, adapters on bases."""

import asyncio
import time
from collections import Counter
from contextlib import AsyncExitStack

import nats
import openai
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from services.inference.heartbeat import heartbeat_subject
from tests.integration.inference_stack import (
    gateway,
    inference_server,
    replica_settings,
    services,
    tiny_model_source,
    wait_for_status,
    write_model,
)
from tests.support import free_port
from tests.unit.inference_fakes import FakeEngine
from tuneforge.v1 import inference_pb2 as pb
from tuneforge.v1 import registry_pb2

MODEL, ADAPTER = "routed-model", "ft:routed-model:adapter"
HI = [{"role": "user", "content": "hi"}]
pytestmark = pytest.mark.timeout(120)


class SlowEngine(FakeEngine):
    """Names its replica (and the adapter it was asked for), one token per 10 ms."""

    def __init__(self, replica: str):
        super().__init__(lambda r: f"{replica}:{r.adapter.name if r.adapter else 'base'}"
                                   "<|im_end|>")
        self.adapters_seen: list[str] = []

    async def generate(self, request):
        async for token in super().generate(request):
            await asyncio.sleep(0.01)
            yield token


@pytest.fixture
async def cluster(tmp_path, nats_url, event_prefix, database_url):
    """A registry, replicas "a" and "b" both serving MODEL, and the gateway."""
    models = tmp_path / "models"
    write_model(models, MODEL)
    async with AsyncExitStack() as stack:
        s = await stack.enter_async_context(services(
            tmp_path / "a", nats_url, event_prefix, database_url, models,
            lambda spec: SlowEngine("a")))
        b = replica_settings({**s.common, "data_dir": tmp_path / "b",
                              "database_url": f"sqlite:///{tmp_path / 'b.db'}"},
                             s.settings.registry_addr)
        s.b = await stack.enter_async_context(inference_server(b, lambda spec: SlowEngine("b")))
        for stub in (s.inference, s.b):
            d = await stub.CreateDeployment(pb.CreateDeploymentRequest(model=MODEL))
            await wait_for_status(stub, d.id, "ready")
        s.url = await stack.enter_async_context(gateway(s.settings))
        s.client = openai.AsyncOpenAI(base_url=f"{s.url}/v1", api_key="x", max_retries=0)
        await asyncio.sleep(0.5)  # both replicas have beaten since they became ready
        yield s


async def ask(client, model: str = MODEL) -> str:
    resp = await client.chat.completions.create(model=model, messages=HI)
    return resp.choices[0].message.content


async def test_concurrent_requests_go_to_the_replica_with_fewest_outstanding(cluster):
    replies = await asyncio.gather(*(ask(cluster.client) for _ in range(8)))

    assert Counter(r.split(":")[0] for r in replies) == {"a": 4, "b": 4}


async def test_a_replica_that_died_silently_is_routed_around(cluster, nats_url, event_prefix,
                                                             caplog):
    nc = await nats.connect(nats_url)
    ghost = pb.ReplicaHeartbeat(  # beats as if ready and idle, but nothing listens there
        replica_id="ghost", address=f"127.0.0.1:{free_port()}", interval_s=30,
        models=[pb.ServedModel(model=MODEL, status="ready", base_model=MODEL)])
    await nc.publish(heartbeat_subject(event_prefix), ghost.SerializeToString())
    await nc.drain()
    await asyncio.sleep(0.2)

    # Concurrent, so that the idle-looking ghost is the least busy for some of them.
    replies = await asyncio.gather(*(ask(cluster.client) for _ in range(6)))

    assert all(r.split(":")[0] in ("a", "b") for r in replies)
    assert f"replica ghost at {ghost.address} is unreachable; routing around it" in caplog.text


async def test_a_replica_that_stops_beating_is_dropped_with_a_clear_503(cluster, nats_url,
                                                                       event_prefix):
    nc = await nats.connect(nats_url)
    beat = pb.ReplicaHeartbeat(replica_id="gone", address="127.0.0.1:9", interval_s=0.1,
                               models=[pb.ServedModel(model="only-there", status="ready")])
    await nc.publish(heartbeat_subject(event_prefix), beat.SerializeToString())
    await nc.drain()
    await asyncio.sleep(0.5)  # more than three intervals of silence

    with pytest.raises(openai.InternalServerError) as err:
        await ask(cluster.client, "only-there")

    assert err.value.status_code == 503
    assert err.value.body["message"] == (
        "No replica serving the model 'only-there' is reachable: gone (127.0.0.1:9) stopped "
        "sending heartbeats or could not be reached. Try again shortly.")


async def test_a_replica_stopping_gracefully_gets_no_more_requests(cluster):
    await cluster.stop_inference()  # replica "a" says it is stopping as it goes

    replies = [await ask(cluster.client) for _ in range(3)]

    assert {r.split(":")[0] for r in replies} == {"b"}


async def test_an_adapter_is_served_on_the_replica_holding_its_base(cluster, tmp_path):
    torch.manual_seed(0)
    adapter = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_source()),
                             LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    prefix = "models/routed-adapter"
    adapter.save_pretrained(cluster.settings.artifact_root / prefix)
    registered = await cluster.registry.RegisterModel(registry_pb2.RegisterModelRequest(
        id=ADAPTER, kind="fine-tuned", parent=MODEL, artifact_prefix=prefix))
    assert registered.status == "ready", registered.error

    replies = await asyncio.gather(*(ask(cluster.client, ADAPTER) for _ in range(4)))

    assert {r.split(":", 1)[1] for r in replies} == {ADAPTER}
    started = time.monotonic()
    assert (await ask(cluster.client, ADAPTER)).endswith(ADAPTER)
    assert time.monotonic() - started < 2  # resolved once, then cached
