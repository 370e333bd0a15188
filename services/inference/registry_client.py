"""The registry service as the inference service sees it: models to look up by name."""

import grpc

from services.common.errors import TuneForgeError
from tuneforge.v1 import registry_pb2, registry_pb2_grpc

LOOKUP_TIMEOUT_S = 10.0


class RegistryModels:
    """Looks models up in the registry over gRPC."""

    def __init__(self, channel: grpc.aio.Channel):
        self.stub = registry_pb2_grpc.RegistryServiceStub(channel)

    async def children(self, parent: str) -> list[registry_pb2.Model]:
        """Every registered model whose parent is `parent` (its fine-tunes and adapters)."""
        found, after = [], ""
        while True:
            try:
                page = await self.stub.ListModels(
                    registry_pb2.ListModelsRequest(limit=100, after=after),
                    timeout=LOOKUP_TIMEOUT_S)
            except grpc.aio.AioRpcError as e:
                raise TuneForgeError.from_rpc_error(e) from None
            found += [m for m in page.data if m.parent == parent]
            if not page.has_more or not page.data:
                return found
            after = page.data[-1].id

    async def get(self, model: str) -> registry_pb2.Model:
        """The registered model; raises model_not_found (param "model") when there is none."""
        try:
            return await self.stub.GetModel(registry_pb2.GetModelRequest(id=model),
                                            timeout=LOOKUP_TIMEOUT_S)
        except grpc.aio.AioRpcError as e:
            raise TuneForgeError.from_rpc_error(e) from None
