"""DatasetService RPCs: proto messages to domain calls and back."""

from collections.abc import AsyncIterator

from services.common.errors import invalid
from services.common.grpc_server import rpc
from services.dataset.analysis import Analysis
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
        format=rec.format, num_errors=rec.num_errors, num_warnings=rec.num_warnings,
    )


def problem_to_pb(entry: dict) -> pb.ReportProblem:
    """One line of a report (report.py) as a message."""
    index = entry["index"]
    return pb.ReportProblem(
        number=entry["number"], severity=entry["severity"], line=entry["line"] or 0,
        index=-1 if index is None else index, path=entry["path"], message=entry["message"],
        text=entry["text"])


def stats_to_pb(file_id: str, model: str, s: dict) -> pb.FileStats:
    warnings = [pb.ReportProblem(number=n, severity="warning", line=0, index=-1, text=text,
                                 message=text) for n, text in enumerate(s["warnings"], start=1)]
    fields = {k: v for k, v in s.items() if k not in ("tokens_per_example", "warnings")}
    return pb.FileStats(file_id=file_id, model=model, **fields, warnings=warnings,
                        tokens_per_example=pb.Distribution(**s["tokens_per_example"]))


async def _chunks(requests: AsyncIterator[pb.UploadFileRequest]) -> AsyncIterator[bytes]:
    async for request in requests:
        if request.HasField("header"):
            raise invalid("An upload carries one header, as its first message.", "header")
        yield request.chunk


class DatasetServicer(dataset_pb2_grpc.DatasetServiceServicer):
    def __init__(self, service: DatasetService, analysis: Analysis):
        self.service, self.analysis = service, analysis

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
        limit = _limit(request.limit)
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

    @rpc
    async def GetFileReport(self, request: pb.GetFileReportRequest, context) -> pb.FileReport:
        entries, more = await self.service.report(request.id, request.after,
                                                  _limit(request.limit))
        rec = await self.service.get(request.id)
        total = rec.num_errors + rec.num_warnings
        return pb.FileReport(
            data=[problem_to_pb(e) for e in entries], has_more=more, num_errors=rec.num_errors,
            num_warnings=rec.num_warnings,
            truncated=total > self.service.settings.max_report_problems)

    @rpc
    async def GetFileStats(self, request: pb.GetFileStatsRequest, context) -> pb.FileStats:
        s = await self.analysis.stats(request.id, request.model, request.model_max_length)
        return stats_to_pb(request.id, request.model, s)

    @rpc
    async def PreviewFile(self, request: pb.PreviewFileRequest, context) -> pb.FilePreview:
        length, examples = await self.analysis.preview(
            request.id, request.model, request.n or 3, request.model_max_length)
        return pb.FilePreview(file_id=request.id, model=request.model, model_max_length=length,
                              data=[pb.PreviewExample(
                                  id=e["id"], num_tokens=e["num_tokens"],
                                  num_trained_tokens=e["num_trained_tokens"],
                                  truncated=e["truncated"],
                                  segments=[pb.PreviewSegment(**seg) for seg in e["segments"]])
                                  for e in examples])

    @rpc
    async def GetTokenizedFile(self, request: pb.GetTokenizedFileRequest,
                               context) -> pb.TokenizedFile:
        meta, prefix, built = await self.analysis.tokenized(request.id, request.model,
                                                            request.max_length)
        return pb.TokenizedFile(
            artifact_prefix=prefix, content_sha256=meta["content_sha256"],
            tokenizer_sha256=meta["tokenizer_sha256"], template_sha256=meta["template_sha256"],
            max_length=meta["max_length"], num_examples=meta["num_examples"],
            num_tokens=meta["num_tokens"], built=built)


def _limit(requested: int) -> int:
    limit = requested or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit must be between 1 and {MAX_LIMIT}, not {limit}.", "limit")
    return limit
