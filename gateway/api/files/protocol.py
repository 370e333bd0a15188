"""Wire types of /v1/files (OpenAI's file object)."""

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
    status: str = Field(description="processed or error.")
    status_details: str | None = Field(default=None, description="Why validation failed.")
    sha256: str = Field(description="SHA-256 of the content.")
    num_examples: int = Field(description="Training examples found.")
    format: str = Field(description="Detected input format.")

    @classmethod
    def from_pb(cls, f: pb.File) -> "FileObject":
        return cls(id=f.id, bytes=f.bytes, created_at=f.created_at, filename=f.filename,
                   purpose=f.purpose, status=f.status, status_details=f.status_details or None,
                   sha256=f.sha256, num_examples=f.num_examples, format=f.format)


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool
