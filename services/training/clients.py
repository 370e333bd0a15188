"""The training service's view of the dataset and registry services, as small interfaces."""

from typing import Protocol

import grpc

from services.common.errors import TuneForgeError
from tuneforge.v1 import (dataset_pb2, dataset_pb2_grpc, inference_pb2, inference_pb2_grpc,
                          registry_pb2, registry_pb2_grpc)


class DatasetClient(Protocol):
    async def get_file(self, file_id: str) -> dataset_pb2.File:
        """The file's record; raises TuneForgeError (not_found) for an unknown id."""


class RegistryClient(Protocol):
    async def get_model(self, model_id: str) -> registry_pb2.Model:
        """The model's record; raises TuneForgeError (model_not_found) for an unknown id."""

    async def register_model(self, request: registry_pb2.RegisterModelRequest
                             ) -> registry_pb2.Model:
        """Record a model whose files are in the artifact store."""

    async def delete_model(self, model_id: str) -> None:
        """Remove a model (refused while it is deployed or has children)."""

    async def set_alias(self, name: str, alias: str, model_id: str) -> None:
        """Point `name@alias` at the model."""


class InferenceClient(Protocol):
    async def deploy(self, model_id: str) -> inference_pb2.Deployment:
        """Start serving the model with the service's defaults."""


async def _call(method, request):
    """One unary call; a failure comes back as the TuneForgeError the other service raised."""
    try:
        return await method(request)
    except grpc.aio.AioRpcError as e:
        raise TuneForgeError.from_rpc_error(e) from None


class GrpcDatasetClient:
    def __init__(self, channel: grpc.aio.Channel):
        self.stub = dataset_pb2_grpc.DatasetServiceStub(channel)

    async def get_file(self, file_id: str) -> dataset_pb2.File:
        return await _call(self.stub.GetFile, dataset_pb2.GetFileRequest(id=file_id))


class GrpcRegistryClient:
    def __init__(self, channel: grpc.aio.Channel):
        self.stub = registry_pb2_grpc.RegistryServiceStub(channel)

    async def get_model(self, model_id: str) -> registry_pb2.Model:
        return await _call(self.stub.GetModel, registry_pb2.GetModelRequest(id=model_id))

    async def register_model(self, request: registry_pb2.RegisterModelRequest
                             ) -> registry_pb2.Model:
        return await _call(self.stub.RegisterModel, request)

    async def delete_model(self, model_id: str) -> None:
        await _call(self.stub.DeleteModel, registry_pb2.DeleteModelRequest(id=model_id))

    async def set_alias(self, name: str, alias: str, model_id: str) -> None:
        await _call(self.stub.SetAlias,
                    registry_pb2.SetAliasRequest(name=name, alias=alias, model=model_id))


class GrpcInferenceClient:
    def __init__(self, channel: grpc.aio.Channel):
        self.stub = inference_pb2_grpc.InferenceServiceStub(channel)

    async def deploy(self, model_id: str) -> inference_pb2.Deployment:
        return await _call(self.stub.CreateDeployment,
                           inference_pb2.CreateDeploymentRequest(model=model_id))
