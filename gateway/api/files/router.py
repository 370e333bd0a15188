"""/v1/files: upload, list, get, download and delete datasets; their validation report,
token statistics and a preview of what the model learns."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Form, Query, UploadFile
from fastapi.responses import StreamingResponse

from gateway.api.common import ERRORS, ListResponse
from gateway.api.files.protocol import (
    FileDeleted,
    FileObject,
    FilePreview,
    FileReport,
    FileStats,
    Problem,
)
from gateway.clients import ClientsDep
from tuneforge.v1 import dataset_pb2 as pb

router = APIRouter(prefix="/v1/files", tags=["files"], responses=ERRORS)

CHUNK = 1024 * 1024


async def _upload_stream(file: UploadFile, purpose: str) -> AsyncIterator[pb.UploadFileRequest]:
    yield pb.UploadFileRequest(header=pb.UploadFileHeader(filename=file.filename or "upload",
                                                          purpose=purpose))
    while chunk := await file.read(CHUNK):
        yield pb.UploadFileRequest(chunk=chunk)


@router.post("", response_model=FileObject, summary="Upload a dataset")
async def upload_file(
    clients: ClientsDep,
    file: Annotated[UploadFile, Form(description="The dataset: JSONL or a JSON array.")],
    purpose: Annotated[str, Form(description="Must be fine-tune.")],
) -> FileObject:
    # Starlette spooled the body to disk; it goes on to the dataset service in pieces.
    f = await clients.dataset.UploadFile(_upload_stream(file, purpose))
    return FileObject.from_pb(f)


@router.get("", response_model=ListResponse[FileObject], summary="List files")
async def list_files(
    clients: ClientsDep,
    after: Annotated[str | None, Query(description="Id of the last file of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
    purpose: str | None = None,
) -> ListResponse[FileObject]:
    resp = await clients.dataset.ListFiles(
        pb.ListFilesRequest(limit=limit, after=after or "", purpose=purpose or ""),
        timeout=clients.timeout)
    return ListResponse(data=[FileObject.from_pb(f) for f in resp.data], has_more=resp.has_more)


@router.get("/{file_id}", response_model=FileObject, summary="Get a file")
async def get_file(file_id: str, clients: ClientsDep) -> FileObject:
    return FileObject.from_pb(
        await clients.dataset.GetFile(pb.GetFileRequest(id=file_id), timeout=clients.timeout))


@router.get("/{file_id}/content", summary="Download a file's content",
            response_class=StreamingResponse)
async def file_content(file_id: str, clients: ClientsDep) -> StreamingResponse:
    f = await clients.dataset.GetFile(pb.GetFileRequest(id=file_id), timeout=clients.timeout)
    stream = clients.dataset.DownloadFile(pb.DownloadFileRequest(id=file_id))

    async def body():
        async for chunk in stream:
            yield chunk.data

    return StreamingResponse(body(), media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{f.filename}"'})


ModelQuery = Annotated[str, Query(description="Base model whose tokenizer and chat template "
                                              "are used, e.g. tiny-qwen2.")]
MaxLengthQuery = Annotated[int | None, Query(
    ge=1, description="Context examples are truncated to; defaults to the model's.")]


@router.get("/{file_id}/report", response_model=FileReport,
            summary="Every validation problem of a file, in file order")
async def file_report(
    file_id: str, clients: ClientsDep,
    after: Annotated[int, Query(ge=0, description="Number of the last problem of the "
                                                  "previous page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> FileReport:
    r = await clients.dataset.GetFileReport(
        pb.GetFileReportRequest(id=file_id, after=after, limit=limit), timeout=clients.timeout)
    return FileReport(data=[Problem.from_pb(p) for p in r.data], has_more=r.has_more,
                      num_errors=r.num_errors, num_warnings=r.num_warnings,
                      truncated=r.truncated)


@router.get("/{file_id}/stats", response_model=FileStats,
            summary="Token statistics under a base model, with the suggested epochs")
async def file_stats(file_id: str, clients: ClientsDep, model: ModelQuery,
                     model_max_length: MaxLengthQuery = None) -> FileStats:
    # Tokenizing a large file the first time takes a while; later calls read the cache.
    r = await clients.dataset.GetFileStats(
        pb.GetFileStatsRequest(id=file_id, model=model, model_max_length=model_max_length or 0))
    return FileStats.from_pb(r)


@router.get("/{file_id}/preview", response_model=FilePreview,
            summary="The first examples as the model sees them, marking what it learns")
async def file_preview(
    file_id: str, clients: ClientsDep, model: ModelQuery,
    n: Annotated[int, Query(ge=1, le=20, description="Examples from the start.")] = 3,
    model_max_length: MaxLengthQuery = None,
) -> FilePreview:
    r = await clients.dataset.PreviewFile(
        pb.PreviewFileRequest(id=file_id, model=model, n=n,
                              model_max_length=model_max_length or 0), timeout=clients.timeout)
    return FilePreview.from_pb(r)


@router.delete("/{file_id}", response_model=FileDeleted, summary="Delete a file")
async def delete_file(file_id: str, clients: ClientsDep) -> FileDeleted:
    r = await clients.dataset.DeleteFile(pb.DeleteFileRequest(id=file_id),
                                         timeout=clients.timeout)
    return FileDeleted(id=r.id, deleted=r.deleted)
