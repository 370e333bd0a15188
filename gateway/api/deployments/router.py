"""/v1/deployments: load a registered model into the inference service."""

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api.common import ERRORS, ListResponse
from gateway.api.deployments.protocol import CreateDeployment, DeploymentObject
from gateway.clients import ClientsDep
from tuneforge.v1 import inference_pb2 as pb

router = APIRouter(prefix="/v1/deployments", tags=["deployments"], responses=ERRORS)


@router.post("", response_model=DeploymentObject, summary="Deploy a model")
async def create_deployment(body: CreateDeployment, clients: ClientsDep) -> DeploymentObject:
    d = await clients.inference.CreateDeployment(body.to_pb(), timeout=clients.timeout)
    return DeploymentObject.from_pb(d)


@router.get("", response_model=ListResponse[DeploymentObject], summary="List deployments")
async def list_deployments(
    clients: ClientsDep,
    after: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ListResponse[DeploymentObject]:
    r = await clients.inference.ListDeployments(
        pb.ListDeploymentsRequest(limit=limit, after=after or ""), timeout=clients.timeout)
    return ListResponse(data=[DeploymentObject.from_pb(d) for d in r.data], has_more=r.has_more)


@router.get("/{deployment_id}", response_model=DeploymentObject, summary="Get a deployment")
async def get_deployment(deployment_id: str, clients: ClientsDep) -> DeploymentObject:
    return DeploymentObject.from_pb(await clients.inference.GetDeployment(
        pb.GetDeploymentRequest(id=deployment_id), timeout=clients.timeout))


@router.delete("/{deployment_id}", response_model=DeploymentObject, summary="Undeploy")
async def delete_deployment(deployment_id: str, clients: ClientsDep) -> DeploymentObject:
    return DeploymentObject.from_pb(await clients.inference.DeleteDeployment(
        pb.DeleteDeploymentRequest(id=deployment_id), timeout=clients.timeout))
