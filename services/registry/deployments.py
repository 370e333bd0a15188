"""What the inference service has deployed, asked over its gRPC API."""

import grpc

from services.common.errors import TuneForgeError
from tuneforge.v1 import inference_pb2, inference_pb2_grpc

# A deployment in these states holds (or is about to hold) the model's files.
ACTIVE = ("pending", "loading", "ready")
_PAGE = 100


class InferenceDeployments:
    def __init__(self, channel: grpc.aio.Channel, address: str, timeout_s: float):
        self.stub = inference_pb2_grpc.InferenceServiceStub(channel)
        self.address, self.timeout_s = address, timeout_s

    async def active(self) -> list[inference_pb2.Deployment]:
        """Every deployment that is pending, loading or ready; unavailable when unreachable."""
        found, after = [], ""
        while True:
            try:
                page = await self.stub.ListDeployments(
                    inference_pb2.ListDeploymentsRequest(limit=_PAGE, after=after),
                    timeout=self.timeout_s)
            except grpc.aio.AioRpcError as e:
                raise TuneForgeError(
                    "unavailable", f"The inference service at {self.address} cannot say what is "
                    f"deployed ({e.code().name}: {e.details()}); try again when it is up.",
                    "model") from None
            found += [d for d in page.data if d.status in ACTIVE]
            if not page.has_more or not page.data:
                return found
            after = page.data[-1].id
