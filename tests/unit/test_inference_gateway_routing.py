"""The gateway's replica table: what each heartbeat changes and where a request goes."""

import time

import grpc
import pytest

from gateway.routing import ReplicaRouter
from services.common.errors import TuneForgeError
from tuneforge.v1 import inference_pb2 as pb
from tuneforge.v1 import registry_pb2

FALLBACK = object()


class Registry:
    """GetModel of a registry that knows one adapter and its parent."""

    async def GetModel(self, request, timeout=None):
        if request.id == "my-adapter":
            return registry_pb2.Model(id="my-adapter", parent="base")
        raise _NotFound()


class _NotFound(grpc.aio.AioRpcError):
    def __init__(self):
        super().__init__(grpc.StatusCode.NOT_FOUND, None, None, "no such model")


def beat(replica: str, *models: tuple[str, str], outstanding: int = 0, interval: float = 5,
         stopping: bool = False) -> pb.ReplicaHeartbeat:
    return pb.ReplicaHeartbeat(
        replica_id=replica, address=f"127.0.0.1:{5000 + ord(replica[-1])}",
        outstanding=outstanding, interval_s=interval, stopping=stopping,
        models=[pb.ServedModel(model=m, status=s, base_model=m) for m, s in models])


@pytest.fixture
async def router():
    r = ReplicaRouter(FALLBACK, Registry(), timeout_s=1)
    yield r
    await r.close()


async def test_the_replica_with_fewest_requests_in_flight_gets_the_next_one(router):
    router.observe(beat("r1", ("m", "ready")))
    router.observe(beat("r2", ("m", "ready")))

    leases = [await router.lease("m") for _ in range(3)]
    chosen = [lease.replica for lease in leases]
    busiest = chosen[2]  # both had one in flight; it now has two
    idle = next(r for r in router.replicas.values() if r is not busiest)
    leases[chosen.index(idle)].release()

    assert sorted(r.replica_id for r in chosen[:2]) == ["r1", "r2"]
    assert (busiest.in_flight, idle.in_flight) == (2, 0)
    assert (await router.lease("m")).replica is idle


async def test_the_replicas_own_report_breaks_ties(router):
    router.observe(beat("r1", ("m", "ready"), outstanding=5))
    router.observe(beat("r2", ("m", "ready"), outstanding=1))

    assert (await router.lease("m")).replica.replica_id == "r2"


async def test_a_ready_replica_is_preferred_to_one_still_loading(router):
    router.observe(beat("r1", ("m", "loading")))
    router.observe(beat("r2", ("m", "ready"), outstanding=9))

    assert (await router.lease("m")).replica.replica_id == "r2"


async def test_a_replica_stopping_gets_nothing_and_then_only_the_503_names_it(router):
    router.observe(beat("r1", ("m", "ready"), stopping=True))

    with pytest.raises(TuneForgeError) as err:
        await router.lease("m")

    assert (err.value.code, err.value.param) == ("unavailable", "model")
    assert "r1 (127.0.0.1:5049) stopped sending heartbeats" in err.value.message


async def test_a_replica_silent_for_three_intervals_is_taken_for_dead(router):
    router.observe(beat("r1", ("m", "ready"), interval=0.01))
    router.observe(beat("r2", ("m", "ready"), outstanding=50))
    time.sleep(0.05)

    assert (await router.lease("m")).replica.replica_id == "r2"


async def test_an_adapter_goes_where_its_parent_is(router):
    router.observe(beat("r1", ("other", "ready")))
    router.observe(beat("r2", ("base", "ready")))

    assert (await router.lease("my-adapter")).replica.replica_id == "r2"


async def test_a_model_no_replica_knows_goes_to_the_configured_service(router):
    router.observe(beat("r1", ("m", "ready")))

    lease = await router.lease("unknown")

    assert lease.replica is None and lease.stub is FALLBACK
