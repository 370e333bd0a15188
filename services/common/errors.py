"""One error vocabulary: the ErrorCode enum from proto, one exception, one mapping table.

Services raise `TuneForgeError`; the gRPC layer turns it into a status plus trailing
metadata, the gateway turns that back into the exception and then into OpenAI's envelope.
"""

import enum
from dataclasses import dataclass

import grpc

from tuneforge.v1 import common_pb2

# Built from the proto enum so there is exactly one list of codes.
ErrorCode = enum.StrEnum(
    "ErrorCode",
    {
        name.removeprefix("ERROR_CODE_"): name.removeprefix("ERROR_CODE_").lower()
        for name in common_pb2.ErrorCode.keys()
        if name != "ERROR_CODE_UNSPECIFIED"
    },
)


@dataclass(frozen=True)
class ErrorKind:
    grpc_status: grpc.StatusCode
    http_status: int
    openai_type: str


# The one table from code to gRPC status, HTTP status and OpenAI error type.
ERROR_TABLE: dict[str, ErrorKind] = {
    "invalid_argument": ErrorKind(grpc.StatusCode.INVALID_ARGUMENT, 400, "invalid_request_error"),
    "invalid_file": ErrorKind(grpc.StatusCode.INVALID_ARGUMENT, 400, "invalid_request_error"),
    "context_length_exceeded": ErrorKind(
        grpc.StatusCode.INVALID_ARGUMENT, 400, "invalid_request_error"
    ),
    "unauthenticated": ErrorKind(grpc.StatusCode.UNAUTHENTICATED, 401, "authentication_error"),
    "permission_denied": ErrorKind(grpc.StatusCode.PERMISSION_DENIED, 403, "permission_error"),
    "not_found": ErrorKind(grpc.StatusCode.NOT_FOUND, 404, "invalid_request_error"),
    "model_not_found": ErrorKind(grpc.StatusCode.NOT_FOUND, 404, "invalid_request_error"),
    "conflict": ErrorKind(grpc.StatusCode.FAILED_PRECONDITION, 409, "invalid_request_error"),
    "payload_too_large": ErrorKind(
        grpc.StatusCode.RESOURCE_EXHAUSTED, 413, "invalid_request_error"
    ),
    "rate_limited": ErrorKind(grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "rate_limit_error"),
    "internal": ErrorKind(grpc.StatusCode.INTERNAL, 500, "server_error"),
    "unavailable": ErrorKind(grpc.StatusCode.UNAVAILABLE, 503, "server_error"),
}

# Used when a gRPC failure carries no TuneForge code (e.g. a service is down).
_FROM_GRPC_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: "invalid_argument",
    grpc.StatusCode.NOT_FOUND: "not_found",
    grpc.StatusCode.FAILED_PRECONDITION: "conflict",
    grpc.StatusCode.ALREADY_EXISTS: "conflict",
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
    grpc.StatusCode.PERMISSION_DENIED: "permission_denied",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "rate_limited",
    grpc.StatusCode.UNAVAILABLE: "unavailable",
    grpc.StatusCode.DEADLINE_EXCEEDED: "unavailable",
}

CODE_KEY = "tf-error-code"
PARAM_KEY = "tf-error-param"


class TuneForgeError(Exception):
    """An error with a code from the shared vocabulary, a message and the parameter at fault."""

    def __init__(self, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.param = param

    @property
    def kind(self) -> ErrorKind:
        return ERROR_TABLE[self.code]

    def to_openai(self) -> dict:
        """OpenAI's error envelope."""
        return {
            "error": {
                "message": self.message,
                "type": self.kind.openai_type,
                "param": self.param,
                "code": self.code.value,
            }
        }

    def grpc_metadata(self) -> tuple[tuple[str, str], ...]:
        md = [(CODE_KEY, self.code.value)]
        if self.param:
            md.append((PARAM_KEY, self.param))
        return tuple(md)

    @classmethod
    def from_rpc_error(cls, err: grpc.aio.AioRpcError) -> "TuneForgeError":
        """Rebuild the error a service raised, or classify a transport failure."""
        md = dict(err.trailing_metadata() or ())
        code = md.get(CODE_KEY) or _FROM_GRPC_STATUS.get(err.code(), "internal")
        message = err.details() or err.code().name
        if CODE_KEY not in md and err.code() == grpc.StatusCode.UNAVAILABLE:
            message = f"a TuneForge service is unavailable: {message}"
        return cls(code, message, md.get(PARAM_KEY))


def not_found(what: str, ident: str, param: str | None = None) -> TuneForgeError:
    return TuneForgeError("not_found", f"No {what} found with id '{ident}'.", param)


def invalid(message: str, param: str | None = None) -> TuneForgeError:
    return TuneForgeError("invalid_argument", message, param)
