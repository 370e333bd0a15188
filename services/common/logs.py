"""Process logging: one JSON object per line (or a text line), with the request id and project.

A JSON line has `time`, `level`, `service`, `logger`, `message`, `request_id`, `project`, any
`extra=` fields of the call, and `exc_info` with the traceback when there is one.
"""

import logging
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from services.common import context as ctx

LogFormat = Literal["json", "text"]
JSON_FIELDS = ("levelname", "name", "message", "request_id", "project")
RENAMED = {"levelname": "level", "name": "logger"}


class ContextFilter(logging.Filter):
    """Stamps each record with the request id and project of the code that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = ctx.request_id.get()
        record.project = ctx.project.get() or "-"
        return True


def formatter(service: str, fmt: LogFormat) -> logging.Formatter:
    """The formatter of `service`'s log lines."""
    if fmt == "json":
        # timestamp: ISO 8601 in UTC, which log collectors parse without being told a format.
        return JsonFormatter(list(JSON_FIELDS), rename_fields=RENAMED, timestamp="time",
                             static_fields={"service": service}, json_ensure_ascii=False)
    if fmt == "text":
        return logging.Formatter(f"%(asctime)s %(levelname)s {service} "
                                 "[%(request_id)s %(project)s] %(name)s: %(message)s")
    raise ValueError(f"Unknown log format {fmt!r} (log_format): use 'json' or 'text'.")


def configure_logging(service: str, level: str = "INFO", fmt: LogFormat = "json") -> None:
    """Send every logger's records to stderr as `fmt` lines, at `level` and above."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter(service, fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
