"""/v1/admin: projects and their API keys, for the admin key only."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from gateway.api.common import ERRORS, ListResponse
from gateway.auth.keys import create_key
from gateway.auth.tenancy import Tenancy
from gateway.store import ApiKey, Project
from services.common.errors import TuneForgeError

router = APIRouter(prefix="/v1/admin", tags=["admin"],
                   responses={**ERRORS, 401: ERRORS[404], 403: ERRORS[404]})

PROJECT_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def get_tenancy(request: Request) -> Tenancy:
    tenancy = getattr(request.app.state, "tenancy", None)
    if tenancy is None:
        raise TuneForgeError("unavailable", "The gateway database is not open.")
    return tenancy


TenancyDep = Annotated[Tenancy, Depends(get_tenancy)]


class CreateProject(BaseModel):
    id: str = Field(pattern=PROJECT_ID, description="Lower-case id, e.g. team-search.")
    name: str = Field(default="", max_length=256, description="Display name.")


class ProjectObject(BaseModel):
    object: str = "project"
    id: str = Field(description="The project's id.")
    name: str = Field(description="Display name.")
    created_at: int = Field(description="Unix seconds.")

    @classmethod
    def of(cls, p: Project) -> "ProjectObject":
        return cls(id=p.id, name=p.name, created_at=p.created_at)


class CreateKey(BaseModel):
    project_id: str = Field(pattern=PROJECT_ID, description="Project the key acts for.")
    name: str = Field(default="", max_length=256, description="What the key is for.")


class KeyObject(BaseModel):
    object: str = "api_key"
    id: str = Field(description="The key's id, used to revoke it.")
    project_id: str = Field(description="Project the key acts for.")
    name: str = Field(description="What the key is for.")
    prefix: str = Field(description="First characters of the key, to recognise it.")
    created_at: int = Field(description="Unix seconds.")
    revoked_at: int | None = Field(default=None, description="Unix seconds; null while valid.")

    @classmethod
    def of(cls, k: ApiKey) -> "KeyObject":
        return cls(id=k.id, project_id=k.project_id, name=k.name, prefix=k.prefix,
                   created_at=k.created_at, revoked_at=k.revoked_at)


class CreatedKey(KeyObject):
    key: str = Field(description="The secret key. Shown this once; only its hash is kept.")


@router.post("/projects", response_model=ProjectObject, summary="Create a project")
async def create_project(body: CreateProject, t: TenancyDep) -> ProjectObject:
    return ProjectObject.of(await t.store.create_project(body.id, body.name or body.id))


@router.get("/projects", response_model=ListResponse[ProjectObject], summary="List projects")
async def list_projects(t: TenancyDep) -> ListResponse[ProjectObject]:
    return ListResponse(data=[ProjectObject.of(p) for p in await t.store.list_projects()])


@router.post("/keys", response_model=CreatedKey, summary="Create an API key (shown once)")
async def create_api_key(body: CreateKey, t: TenancyDep) -> CreatedKey:
    key, secret = await create_key(t.store, body.project_id, body.name)
    return CreatedKey(**KeyObject.of(key).model_dump(), key=secret)


@router.get("/keys", response_model=ListResponse[KeyObject], summary="List API keys")
async def list_api_keys(
    t: TenancyDep,
    project_id: Annotated[str | None, Query(description="Only this project's keys.")] = None,
) -> ListResponse[KeyObject]:
    return ListResponse(data=[KeyObject.of(k) for k in await t.store.list_keys(project_id)])


@router.delete("/keys/{key_id}", response_model=KeyObject, summary="Revoke an API key")
async def revoke_api_key(key_id: str, t: TenancyDep) -> KeyObject:
    """Takes effect at once on every gateway replica: the next request with the key is
    refused."""
    return KeyObject.of(await t.auth.revoke(key_id))
