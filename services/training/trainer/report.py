"""What rank 0 tells the service: one JSON object per stdout line, read by the runner."""

import json
import sys


class Reporter:
    """Prints protocol lines on rank 0; other ranks stay silent."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def emit(self, kind: str, **fields) -> None:
        if self.enabled:
            print(json.dumps({"type": kind, **fields}), file=sys.stdout, flush=True)

    def message(self, text: str) -> None:
        self.emit("message", message=text)

    def error(self, code: str, message: str, param: str | None = None) -> None:
        self.emit("error", code=code, message=message, param=param)
