from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadFileHeader(_message.Message):
    __slots__ = ("filename", "purpose")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    filename: str
    purpose: str
    def __init__(self, filename: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class UploadFileRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadFileHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadFileHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class File(_message.Message):
    __slots__ = ("id", "filename", "purpose", "bytes", "created_at", "status", "status_details", "sha256", "artifact_key", "num_examples", "format", "num_errors", "num_warnings")
    ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_KEY_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    NUM_ERRORS_FIELD_NUMBER: _ClassVar[int]
    NUM_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    status: str
    status_details: str
    sha256: str
    artifact_key: str
    num_examples: int
    format: str
    num_errors: int
    num_warnings: int
    def __init__(self, id: _Optional[str] = ..., filename: _Optional[str] = ..., purpose: _Optional[str] = ..., bytes: _Optional[int] = ..., created_at: _Optional[int] = ..., status: _Optional[str] = ..., status_details: _Optional[str] = ..., sha256: _Optional[str] = ..., artifact_key: _Optional[str] = ..., num_examples: _Optional[int] = ..., format: _Optional[str] = ..., num_errors: _Optional[int] = ..., num_warnings: _Optional[int] = ...) -> None: ...

class GetFileRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListFilesRequest(_message.Message):
    __slots__ = ("limit", "after", "purpose")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    limit: int
    after: str
    purpose: str
    def __init__(self, limit: _Optional[int] = ..., after: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class ListFilesResponse(_message.Message):
    __slots__ = ("data", "has_more")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[File]
    has_more: bool
    def __init__(self, data: _Optional[_Iterable[_Union[File, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class DeleteFileRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteFileResponse(_message.Message):
    __slots__ = ("id", "deleted")
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    id: str
    deleted: bool
    def __init__(self, id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class DownloadFileRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class FileChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class ReportProblem(_message.Message):
    __slots__ = ("number", "severity", "line", "index", "path", "message", "text")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    number: int
    severity: str
    line: int
    index: int
    path: str
    message: str
    text: str
    def __init__(self, number: _Optional[int] = ..., severity: _Optional[str] = ..., line: _Optional[int] = ..., index: _Optional[int] = ..., path: _Optional[str] = ..., message: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class GetFileReportRequest(_message.Message):
    __slots__ = ("id", "after", "limit")
    ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    id: str
    after: int
    limit: int
    def __init__(self, id: _Optional[str] = ..., after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class FileReport(_message.Message):
    __slots__ = ("data", "has_more", "num_errors", "num_warnings", "truncated")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    NUM_ERRORS_FIELD_NUMBER: _ClassVar[int]
    NUM_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[ReportProblem]
    has_more: bool
    num_errors: int
    num_warnings: int
    truncated: bool
    def __init__(self, data: _Optional[_Iterable[_Union[ReportProblem, _Mapping]]] = ..., has_more: _Optional[bool] = ..., num_errors: _Optional[int] = ..., num_warnings: _Optional[int] = ..., truncated: _Optional[bool] = ...) -> None: ...

class GetFileStatsRequest(_message.Message):
    __slots__ = ("id", "model", "model_max_length")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    model_max_length: int
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., model_max_length: _Optional[int] = ...) -> None: ...

class Distribution(_message.Message):
    __slots__ = ("min", "mean", "p50", "p95", "max")
    MIN_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    P50_FIELD_NUMBER: _ClassVar[int]
    P95_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    min: int
    mean: float
    p50: float
    p95: float
    max: int
    def __init__(self, min: _Optional[int] = ..., mean: _Optional[float] = ..., p50: _Optional[float] = ..., p95: _Optional[float] = ..., max: _Optional[int] = ...) -> None: ...

class FileStats(_message.Message):
    __slots__ = ("file_id", "model", "model_max_length", "num_examples", "num_turns", "num_characters", "tokens_per_example", "total_tokens", "assistant_tokens", "num_truncated", "num_without_trained_tokens", "tokens_per_epoch", "suggested_epochs", "estimated_trained_tokens", "warnings")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    NUM_TURNS_FIELD_NUMBER: _ClassVar[int]
    NUM_CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_EXAMPLE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    NUM_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    NUM_WITHOUT_TRAINED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_TRAINED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    model: str
    model_max_length: int
    num_examples: int
    num_turns: int
    num_characters: int
    tokens_per_example: Distribution
    total_tokens: int
    assistant_tokens: int
    num_truncated: int
    num_without_trained_tokens: int
    tokens_per_epoch: int
    suggested_epochs: int
    estimated_trained_tokens: int
    warnings: _containers.RepeatedCompositeFieldContainer[ReportProblem]
    def __init__(self, file_id: _Optional[str] = ..., model: _Optional[str] = ..., model_max_length: _Optional[int] = ..., num_examples: _Optional[int] = ..., num_turns: _Optional[int] = ..., num_characters: _Optional[int] = ..., tokens_per_example: _Optional[_Union[Distribution, _Mapping]] = ..., total_tokens: _Optional[int] = ..., assistant_tokens: _Optional[int] = ..., num_truncated: _Optional[int] = ..., num_without_trained_tokens: _Optional[int] = ..., tokens_per_epoch: _Optional[int] = ..., suggested_epochs: _Optional[int] = ..., estimated_trained_tokens: _Optional[int] = ..., warnings: _Optional[_Iterable[_Union[ReportProblem, _Mapping]]] = ...) -> None: ...

class PreviewFileRequest(_message.Message):
    __slots__ = ("id", "model", "n", "model_max_length")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    MODEL_MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    n: int
    model_max_length: int
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., n: _Optional[int] = ..., model_max_length: _Optional[int] = ...) -> None: ...

class PreviewSegment(_message.Message):
    __slots__ = ("text", "trained", "token_ids")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TRAINED_FIELD_NUMBER: _ClassVar[int]
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    trained: bool
    token_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, text: _Optional[str] = ..., trained: _Optional[bool] = ..., token_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class PreviewExample(_message.Message):
    __slots__ = ("id", "segments", "num_tokens", "num_trained_tokens", "truncated")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    NUM_TOKENS_FIELD_NUMBER: _ClassVar[int]
    NUM_TRAINED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    segments: _containers.RepeatedCompositeFieldContainer[PreviewSegment]
    num_tokens: int
    num_trained_tokens: int
    truncated: bool
    def __init__(self, id: _Optional[str] = ..., segments: _Optional[_Iterable[_Union[PreviewSegment, _Mapping]]] = ..., num_tokens: _Optional[int] = ..., num_trained_tokens: _Optional[int] = ..., truncated: _Optional[bool] = ...) -> None: ...

class FilePreview(_message.Message):
    __slots__ = ("file_id", "model", "model_max_length", "data")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    model: str
    model_max_length: int
    data: _containers.RepeatedCompositeFieldContainer[PreviewExample]
    def __init__(self, file_id: _Optional[str] = ..., model: _Optional[str] = ..., model_max_length: _Optional[int] = ..., data: _Optional[_Iterable[_Union[PreviewExample, _Mapping]]] = ...) -> None: ...

class GetTokenizedFileRequest(_message.Message):
    __slots__ = ("id", "model", "max_length")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    max_length: int
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., max_length: _Optional[int] = ...) -> None: ...

class TokenizedFile(_message.Message):
    __slots__ = ("artifact_prefix", "content_sha256", "tokenizer_sha256", "template_sha256", "max_length", "num_examples", "num_tokens", "built")
    ARTIFACT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    CONTENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    TOKENIZER_SHA256_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_SHA256_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    NUM_TOKENS_FIELD_NUMBER: _ClassVar[int]
    BUILT_FIELD_NUMBER: _ClassVar[int]
    artifact_prefix: str
    content_sha256: str
    tokenizer_sha256: str
    template_sha256: str
    max_length: int
    num_examples: int
    num_tokens: int
    built: bool
    def __init__(self, artifact_prefix: _Optional[str] = ..., content_sha256: _Optional[str] = ..., tokenizer_sha256: _Optional[str] = ..., template_sha256: _Optional[str] = ..., max_length: _Optional[int] = ..., num_examples: _Optional[int] = ..., num_tokens: _Optional[int] = ..., built: _Optional[bool] = ...) -> None: ...
