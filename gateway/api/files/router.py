"""/v1/files: upload, list, get, download and delete datasets."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Form, Query, UploadFile
from fastapi.responses import StreamingResponse

from gateway.api.common import ERRORS, ListResponse
from gateway.api.files.protocol import FileDeleted, FileObject
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


@router.delete("/{file_id}", response_model=FileDeleted, summary="Delete a file")
async def delete_file(file_id: str, clients: ClientsDep) -> FileDeleted:
    r = await clients.dataset.DeleteFile(pb.DeleteFileRequest(id=file_id),
                                         timeout=clients.timeout)
    return FileDeleted(id=r.id, deleted=r.deleted)
