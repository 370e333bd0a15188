from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Lineage(_message.Message):
    __slots__ = ("base_model", "training_file", "training_file_sha256", "job_id", "hyperparameters_json", "metrics")
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
    base_model: str
    training_file: str
    training_file_sha256: str
    job_id: str
    hyperparameters_json: str
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, base_model: _Optional[str] = ..., training_file: _Optional[str] = ..., training_file_sha256: _Optional[str] = ..., job_id: _Optional[str] = ..., hyperparameters_json: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("id", "created_at", "owned_by", "kind", "parent", "artifact_prefix", "architecture", "num_parameters", "context_length", "lineage", "status")
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
    def __init__(self, id: _Optional[str] = ..., created_at: _Optional[int] = ..., owned_by: _Optional[str] = ..., kind: _Optional[str] = ..., parent: _Optional[str] = ..., artifact_prefix: _Optional[str] = ..., architecture: _Optional[str] = ..., num_parameters: _Optional[int] = ..., context_length: _Optional[int] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class RegisterModelRequest(_message.Message):
    __slots__ = ("id", "kind", "parent", "artifact_prefix", "owned_by", "lineage")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    OWNED_BY_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    parent: str
    artifact_prefix: str
    owned_by: str
    lineage: Lineage
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., parent: _Optional[str] = ..., artifact_prefix: _Optional[str] = ..., owned_by: _Optional[str] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("limit", "after")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    limit: int
    after: str
    def __init__(self, limit: _Optional[int] = ..., after: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("data", "has_more")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Model]
    has_more: bool
    def __init__(self, data: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...
