from tuneforge.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Lineage(_message.Message):
    __slots__ = ("base_model", "training_file", "training_file_sha256", "job_id", "hyperparameters_json", "metrics", "created_by", "validation_file", "validation_file_sha256", "merged_from")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FILE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FILE_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    MERGED_FROM_FIELD_NUMBER: _ClassVar[int]
    base_model: str
    training_file: str
    training_file_sha256: str
    job_id: str
    hyperparameters_json: str
    metrics: _containers.ScalarMap[str, float]
    created_by: str
    validation_file: str
    validation_file_sha256: str
    merged_from: str
    def __init__(self, base_model: _Optional[str] = ..., training_file: _Optional[str] = ..., training_file_sha256: _Optional[str] = ..., job_id: _Optional[str] = ..., hyperparameters_json: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., created_by: _Optional[str] = ..., validation_file: _Optional[str] = ..., validation_file_sha256: _Optional[str] = ..., merged_from: _Optional[str] = ...) -> None: ...

class ServingSpec(_message.Message):
    __slots__ = ("chat_template", "stop_token_ids", "generation_config_json", "tokenizer_sha256")
    CHAT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    STOP_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    TOKENIZER_SHA256_FIELD_NUMBER: _ClassVar[int]
    chat_template: str
    stop_token_ids: _containers.RepeatedScalarFieldContainer[int]
    generation_config_json: str
    tokenizer_sha256: str
    def __init__(self, chat_template: _Optional[str] = ..., stop_token_ids: _Optional[_Iterable[int]] = ..., generation_config_json: _Optional[str] = ..., tokenizer_sha256: _Optional[str] = ...) -> None: ...

class RoundTripCheck(_message.Message):
    __slots__ = ("passed", "source", "examples_checked", "message")
    PASSED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    passed: bool
    source: str
    examples_checked: int
    message: str
    def __init__(self, passed: _Optional[bool] = ..., source: _Optional[str] = ..., examples_checked: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("id", "created_at", "owned_by", "kind", "parent", "artifact_prefix", "architecture", "num_parameters", "context_length", "lineage", "status", "name", "version", "aliases", "format", "root", "dtype", "size_bytes", "checkpoint_step", "serving", "round_trip", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    OWNED_BY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    NUM_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_STEP_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    ROUND_TRIP_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_at: int
    owned_by: str
    kind: str
    parent: str
    artifact_prefix: str
    architecture: str
    num_parameters: int
    context_length: int
    lineage: Lineage
    status: str
    name: str
    version: int
    aliases: _containers.RepeatedScalarFieldContainer[str]
    format: str
    root: str
    dtype: str
    size_bytes: int
    checkpoint_step: int
    serving: ServingSpec
    round_trip: RoundTripCheck
    error: _common_pb2.Error
    def __init__(self, id: _Optional[str] = ..., created_at: _Optional[int] = ..., owned_by: _Optional[str] = ..., kind: _Optional[str] = ..., parent: _Optional[str] = ..., artifact_prefix: _Optional[str] = ..., architecture: _Optional[str] = ..., num_parameters: _Optional[int] = ..., context_length: _Optional[int] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ..., status: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., aliases: _Optional[_Iterable[str]] = ..., format: _Optional[str] = ..., root: _Optional[str] = ..., dtype: _Optional[str] = ..., size_bytes: _Optional[int] = ..., checkpoint_step: _Optional[int] = ..., serving: _Optional[_Union[ServingSpec, _Mapping]] = ..., round_trip: _Optional[_Union[RoundTripCheck, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ...) -> None: ...

class SampleMessage(_message.Message):
    __slots__ = ("role", "content", "weight")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    weight: int
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ..., weight: _Optional[int] = ...) -> None: ...

class SampleConversation(_message.Message):
    __slots__ = ("id", "messages")
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    id: str
    messages: _containers.RepeatedCompositeFieldContainer[SampleMessage]
    def __init__(self, id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[SampleMessage, _Mapping]]] = ...) -> None: ...

class RegisterModelRequest(_message.Message):
    __slots__ = ("id", "kind", "parent", "artifact_prefix", "owned_by", "lineage", "source", "name", "samples")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    OWNED_BY_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    parent: str
    artifact_prefix: str
    owned_by: str
    lineage: Lineage
    source: str
    name: str
    samples: _containers.RepeatedCompositeFieldContainer[SampleConversation]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., parent: _Optional[str] = ..., artifact_prefix: _Optional[str] = ..., owned_by: _Optional[str] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ..., source: _Optional[str] = ..., name: _Optional[str] = ..., samples: _Optional[_Iterable[_Union[SampleConversation, _Mapping]]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("limit", "after", "name")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    limit: int
    after: str
    name: str
    def __init__(self, limit: _Optional[int] = ..., after: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("data", "has_more")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Model]
    has_more: bool
    def __init__(self, data: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteModelResponse(_message.Message):
    __slots__ = ("id", "deleted")
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    id: str
    deleted: bool
    def __init__(self, id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class MergeAdapterRequest(_message.Message):
    __slots__ = ("id", "new_id", "owned_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    NEW_ID_FIELD_NUMBER: _ClassVar[int]
    OWNED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    new_id: str
    owned_by: str
    def __init__(self, id: _Optional[str] = ..., new_id: _Optional[str] = ..., owned_by: _Optional[str] = ...) -> None: ...

class Alias(_message.Message):
    __slots__ = ("name", "alias", "model", "version", "previous_model", "updated_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_MODEL_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    alias: str
    model: str
    version: int
    previous_model: str
    updated_at: int
    def __init__(self, name: _Optional[str] = ..., alias: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., previous_model: _Optional[str] = ..., updated_at: _Optional[int] = ...) -> None: ...

class SetAliasRequest(_message.Message):
    __slots__ = ("name", "alias", "model")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    alias: str
    model: str
    def __init__(self, name: _Optional[str] = ..., alias: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class DeleteAliasRequest(_message.Message):
    __slots__ = ("name", "alias")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    name: str
    alias: str
    def __init__(self, name: _Optional[str] = ..., alias: _Optional[str] = ...) -> None: ...

class ExportModelRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ExportHeader(_message.Message):
    __slots__ = ("filename", "size_bytes", "url", "expires_at")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    filename: str
    size_bytes: int
    url: str
    expires_at: int
    def __init__(self, filename: _Optional[str] = ..., size_bytes: _Optional[int] = ..., url: _Optional[str] = ..., expires_at: _Optional[int] = ...) -> None: ...

class ExportChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: ExportHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[ExportHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...
