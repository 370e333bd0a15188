"""Wire types of /v1/files (OpenAI's file object) and TuneForge's dataset extensions."""

from typing import Literal

from pydantic import BaseModel, Field

from tuneforge.v1 import dataset_pb2 as pb


class FileObject(BaseModel):
    id: str = Field(description="File id, used as training_file.")
    object: Literal["file"] = "file"
    bytes: int = Field(description="Size of the uploaded file.")
    created_at: int = Field(description="Unix seconds.")
    filename: str = Field(description="Name the file was uploaded with.")
    purpose: str = Field(description="Always fine-tune for datasets.")
    status: str = Field(description="processed, or error when validation found errors.")
    status_details: str | None = Field(
        default=None, description="The first errors and their total count; "
        "GET /v1/files/{id}/report lists every problem.")
    sha256: str = Field(description="SHA-256 of the content.")
    num_examples: int = Field(description="Valid training examples found.")
    format: str = Field(description="Detected input format, e.g. conversations-jsonl.")
    num_errors: int = Field(default=0, description="Problems that block training.")
    num_warnings: int = Field(default=0,
                              description="Problems reported that do not block training.")

    @classmethod
    def from_pb(cls, f: pb.File) -> "FileObject":
        return cls(id=f.id, bytes=f.bytes, created_at=f.created_at, filename=f.filename,
                   purpose=f.purpose, status=f.status, status_details=f.status_details or None,
                   sha256=f.sha256, num_examples=f.num_examples, format=f.format,
                   num_errors=f.num_errors, num_warnings=f.num_warnings)


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool


class Problem(BaseModel):
    number: int = Field(description="Position in the report from 1; pass it as `after`.")
    severity: Literal["error", "warning"] = Field(description="Errors block training.")
    line: int | None = Field(description="Line where the record starts; null for the file.")
    index: int | None = Field(description="Index of the record in a JSON array.")
    path: str = Field(description="Field path in the record, e.g. conversations[3].from.")
    message: str = Field(description="What is wrong, in plain words.")
    text: str = Field(description='All of it on one line, e.g. "line 17: conversations[3]'
                      '.from: unknown role "bot" (expected user, assistant or system)".')

    @classmethod
    def from_pb(cls, p: pb.ReportProblem) -> "Problem":
        return cls(number=p.number, severity=p.severity, line=p.line or None,
                   index=None if p.index < 0 else p.index, path=p.path, message=p.message,
                   text=p.text)


class FileReport(BaseModel):
    object: Literal["list"] = "list"
    data: list[Problem] = Field(description="The page of problems, in file order.")
    has_more: bool = Field(description="Whether another page follows.")
    num_errors: int = Field(description="Errors in the whole file.")
    num_warnings: int = Field(description="Warnings in the whole file.")
    truncated: bool = Field(description="The report keeps fewer problems than were found; "
                            "the counts stay exact.")


class TokenDistribution(BaseModel):
    min: int
    mean: float
    p50: float
    p95: float
    max: int


class FileStats(BaseModel):
    object: Literal["file.stats"] = "file.stats"
    file_id: str
    model: str = Field(description="Base model whose tokenizer and chat template were used.")
    model_max_length: int = Field(description="Context the examples are truncated to.")
    num_examples: int
    num_turns: int = Field(description="Messages of every role.")
    num_characters: int = Field(description="Characters of message contents.")
    tokens_per_example: TokenDistribution = Field(
        description="Tokens of each rendered example, before truncation.")
    total_tokens: int = Field(description="All tokens, before truncation.")
    assistant_tokens: int = Field(description="Tokens that carry loss, after truncation.")
    num_truncated: int = Field(description="Examples longer than model_max_length.")
    num_without_trained_tokens: int = Field(
        description="Examples left with nothing to learn after truncation (training skips them).")
    tokens_per_epoch: int = Field(description="Tokens one epoch feeds the model.")
    suggested_epochs: int = Field(description='The "auto" n_epochs for this file.')
    estimated_trained_tokens: int = Field(
        description="tokens_per_epoch x suggested_epochs.")
    warnings: list[str] = Field(description="The first examples that will be truncated.")

    @classmethod
    def from_pb(cls, s: pb.FileStats) -> "FileStats":
        d = s.tokens_per_example
        return cls(
            file_id=s.file_id, model=s.model, model_max_length=s.model_max_length,
            num_examples=s.num_examples, num_turns=s.num_turns,
            num_characters=s.num_characters,
            tokens_per_example=TokenDistribution(min=d.min, mean=d.mean, p50=d.p50, p95=d.p95,
                                                 max=d.max),
            total_tokens=s.total_tokens, assistant_tokens=s.assistant_tokens,
            num_truncated=s.num_truncated,
            num_without_trained_tokens=s.num_without_trained_tokens,
            tokens_per_epoch=s.tokens_per_epoch, suggested_epochs=s.suggested_epochs,
            estimated_trained_tokens=s.estimated_trained_tokens,
            warnings=[w.text for w in s.warnings])


class PreviewSegment(BaseModel):
    text: str = Field(description="Decoded text of the tokens.")
    trained: bool = Field(description="Whether the model learns these tokens (they carry loss).")
    token_ids: list[int]


class PreviewExample(BaseModel):
    id: str = Field(description="Record id.")
    segments: list[PreviewSegment] = Field(
        description="In order; together they are exactly what the model is fed.")
    num_tokens: int = Field(description="Tokens after truncation.")
    num_trained_tokens: int
    truncated: bool


class FilePreview(BaseModel):
    object: Literal["file.preview"] = "file.preview"
    file_id: str
    model: str
    model_max_length: int
    data: list[PreviewExample]

    @classmethod
    def from_pb(cls, p: pb.FilePreview) -> "FilePreview":
        return cls(file_id=p.file_id, model=p.model, model_max_length=p.model_max_length,
                   data=[PreviewExample(
                       id=e.id, num_tokens=e.num_tokens, num_trained_tokens=e.num_trained_tokens,
                       truncated=e.truncated,
                       segments=[PreviewSegment(text=s.text, trained=s.trained,
                                                token_ids=list(s.token_ids))
                                 for s in e.segments]) for e in p.data])
