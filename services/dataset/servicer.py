"""DatasetService RPCs: proto messages to domain calls and back."""

from collections.abc import AsyncIterator

from services.common.errors import invalid
from services.common.grpc_server import rpc
from services.dataset.service import DatasetService
from services.dataset.store import FileRecord
from tuneforge.v1 import dataset_pb2 as pb
from tuneforge.v1 import dataset_pb2_grpc

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def file_to_pb(rec: FileRecord) -> pb.File:
    return pb.File(
        id=rec.id, filename=rec.filename, purpose=rec.purpose, bytes=rec.bytes,
        created_at=rec.created_at, status=rec.status, status_details=rec.status_details,
        sha256=rec.sha256, artifact_key=rec.artifact_key, num_examples=rec.num_examples,
        format=rec.format,
    )


async def _chunks(requests: AsyncIterator[pb.UploadFileRequest]) -> AsyncIterator[bytes]:
    async for request in requests:
        if request.HasField("header"):
            raise invalid("An upload carries one header, as its first message.", "header")
        yield request.chunk


class DatasetServicer(dataset_pb2_grpc.DatasetServiceServicer):
    def __init__(self, service: DatasetService):
        self.service = service

    @rpc
    async def UploadFile(self, request_iterator: AsyncIterator[pb.UploadFileRequest],
                         context) -> pb.File:
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.HasField("header"):
            raise invalid("The first message of an upload must be its header "
                          "(filename and purpose).", "header")
        rec = await self.service.upload(first.header.filename, first.header.purpose,
                                        _chunks(request_iterator))
        return file_to_pb(rec)

    @rpc
    async def GetFile(self, request: pb.GetFileRequest, context) -> pb.File:
        return file_to_pb(await self.service.get(request.id))

    @rpc
    async def ListFiles(self, request: pb.ListFilesRequest, context) -> pb.ListFilesResponse:
        limit = request.limit or DEFAULT_LIMIT
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIMIT}, not {limit}.", "limit")
        recs, more = await self.service.list(limit, request.after, request.purpose)
        return pb.ListFilesResponse(data=[file_to_pb(r) for r in recs], has_more=more)

    @rpc
    async def DeleteFile(self, request: pb.DeleteFileRequest, context) -> pb.DeleteFileResponse:
        await self.service.delete(request.id)
        return pb.DeleteFileResponse(id=request.id, deleted=True)

    @rpc
    async def DownloadFile(self, request: pb.DownloadFileRequest,
                           context) -> AsyncIterator[pb.FileChunk]:
        async for chunk in self.service.download(request.id):
            yield pb.FileChunk(data=chunk)
