"""One error vocabulary: proto enum, gRPC status and HTTP status agree."""

import grpc
import pytest
from fastapi.exceptions import RequestValidationError

from gateway.errors import validation_error
from services.common.errors import ERROR_TABLE, ErrorCode, TuneForgeError
from tuneforge.v1 import common_pb2


def test_every_proto_error_code_has_exactly_one_row_in_the_table():
    proto_names = {n.removeprefix("ERROR_CODE_").lower()
                   for n in common_pb2.ErrorCode.keys() if n != "ERROR_CODE_UNSPECIFIED"}
    assert {c.value for c in ErrorCode} == proto_names
    assert set(ERROR_TABLE) == proto_names


@pytest.mark.parametrize("code,http", [
    ("invalid_argument", 400), ("invalid_file", 400), ("context_length_exceeded", 400),
    ("unauthenticated", 401), ("permission_denied", 403), ("not_found", 404),
    ("model_not_found", 404), ("conflict", 409), ("payload_too_large", 413),
    ("rate_limited", 429), ("internal", 500), ("unavailable", 503),
])
def test_code_maps_to_openai_http_status(code, http):
    assert TuneForgeError(code, "m").kind.http_status == http


def test_envelope_has_message_type_param_and_code():
    err = TuneForgeError("not_found", "No file found with id 'file-x'.", "file_id")
    assert err.to_openai() == {"error": {
        "message": "No file found with id 'file-x'.", "type": "invalid_request_error",
        "param": "file_id", "code": "not_found"}}


class _FakeRpcError(grpc.aio.AioRpcError):
    def __init__(self, status, details, md):
        super().__init__(status, grpc.aio.Metadata(), grpc.aio.Metadata(*md), details)


def test_rpc_error_round_trips_code_and_param_through_trailing_metadata():
    original = TuneForgeError("model_not_found", "The model 'x' does not exist.", "model")
    back = TuneForgeError.from_rpc_error(_FakeRpcError(
        original.kind.grpc_status, original.message, original.grpc_metadata()))
    assert (back.code, back.message, back.param) == ("model_not_found", original.message,
                                                     "model")


def test_rpc_error_without_code_is_classified_by_grpc_status():
    err = TuneForgeError.from_rpc_error(
        _FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused", ()))
    assert err.code == "unavailable"
    assert "unavailable" in err.message and "connection refused" in err.message


def test_request_validation_error_names_the_parameter():
    exc = RequestValidationError([
        {"loc": ("body", "hyperparameters", "n_epochs"), "msg": "Input should be a valid integer",
         "type": "int_parsing"}])
    err = validation_error(exc)
    assert err.param == "hyperparameters.n_epochs"
    assert err.kind.http_status == 400
    assert "hyperparameters.n_epochs: Input should be a valid integer" in err.message
