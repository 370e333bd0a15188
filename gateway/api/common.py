"""Wire types shared by every API family."""

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

# Request integers that travel in proto int32/int64 fields: out of range is a 400, not a 500.
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


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

