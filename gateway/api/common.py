"""Wire types shared by every API family."""

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class ListResponse(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T] = Field(description="The page of objects.")
    has_more: bool = Field(default=False, description="Whether another page follows.")


class ErrorBody(BaseModel):
    message: str = Field(description="What went wrong, naming the record or field at fault.")
    type: str = Field(description="OpenAI error type, e.g. invalid_request_error.")
    param: str | None = Field(default=None, description="The parameter at fault, if any.")
    code: str | None = Field(default=None, description="TuneForge error code, e.g. not_found.")


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS = {s: {"model": ErrorResponse} for s in (400, 404, 409, 413, 500, 503)}

