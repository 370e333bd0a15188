"""Who a piece of work is for: the request id and the project, carried in contextvars.

The gateway sets both for each HTTP request; gRPC metadata (`x-request-id`,
`x-tuneforge-project`) carries them to every service, whose server interceptor binds them
again, and whose client interceptor forwards them on every call it makes. Logs and events
read them from here.

Work outside any request (a job runner, a consumer of events) sets the project itself:

    with project_context(job.project):
        await lifecycle.move(...)      # events, logs and calls made here carry job.project
"""

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from services.common.errors import TuneForgeError

REQUEST_ID_KEY = "x-request-id"
PROJECT_KEY = "x-tuneforge-project"
# Owner of whatever is done outside a project's request: the gateway's default project, which
# also owns objects created before tenancy or behind the gateway's back.
DEFAULT_PROJECT = "default"
NO_REQUEST_ID = "-"

# A project is one token of a NATS subject: no '.', '*', '>' or whitespace. The gateway's
# project ids ([a-z0-9][a-z0-9_-]*) all pass.
PROJECT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST_ID)
project: ContextVar[str] = ContextVar("project", default="")


def check_project(value: str, param: str = "project") -> str:
    """`value` if it can name a project (and be a subject token); else invalid_argument."""
    if not PROJECT_PATTERN.fullmatch(value):
        raise TuneForgeError(
            "invalid_argument",
            f"Invalid {param} {value!r}: a project is 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit.", param)
    return value


def current_project() -> str:
    """The project of the work in progress; DEFAULT_PROJECT outside any."""
    return project.get() or DEFAULT_PROJECT


@contextmanager
def project_context(value: str) -> Iterator[str]:
    """Run a block as work of project `value` (its events, logs and outgoing calls)."""
    token = project.set(check_project(value))
    try:
        yield value
    finally:
        project.reset(token)


def outgoing_metadata() -> list[tuple[str, str]]:
    """gRPC metadata that carries the current request id and project to the callee."""
    md = [(REQUEST_ID_KEY, request_id.get())]
    if p := project.get():
        md.append((PROJECT_KEY, p))
    return md


def bind_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> None:
    """Set both contextvars from a call's metadata; a missing key resets its value, so
    nothing leaks in from the context the server was started in."""
    rid, proj = NO_REQUEST_ID, ""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY:
            rid = value if isinstance(value, str) else value.decode(errors="replace")
        elif key == PROJECT_KEY:
            proj = value if isinstance(value, str) else value.decode(errors="replace")
    request_id.set(rid)
    project.set(check_project(proj, f"{PROJECT_KEY} metadata") if proj else "")
