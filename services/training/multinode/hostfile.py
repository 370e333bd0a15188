"""DeepSpeed's hostfile (`host slots=N` per line): reading it strictly, choosing a job's hosts."""

import re
from dataclasses import dataclass
from pathlib import Path

# A host name as pdsh and ssh take it; anything else would be split or interpreted by a shell.
_LINE = re.compile(r"(?P<host>[A-Za-z0-9][A-Za-z0-9._-]*)\s+slots=(?P<slots>\d+)\s*(#.*)?")


class HostfileError(ValueError):
    """A hostfile that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Host:
    name: str
    slots: int

    def line(self) -> str:
        return f"{self.name} slots={self.slots}"


def parse_hostfile(text: str, source: str = "hostfile") -> list[Host]:
    """The hosts of a hostfile in order; blank lines and `#` comments are skipped."""
    hosts: list[Host] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if not match:
            raise HostfileError(f"{source} line {number}: expected `host slots=N` with a host "
                                f"name of letters, digits, '.', '_' or '-' (got {line!r})")
        name, slots = match["host"], int(match["slots"])
        if slots < 1:
            raise HostfileError(f"{source} line {number}: slots must be at least 1 "
                                f"(got {line!r})")
        if name in first_line:
            raise HostfileError(f"{source} line {number}: host {name} is listed again "
                                f"(first on line {first_line[name]})")
        first_line[name] = number
        hosts.append(Host(name, slots))
    if not hosts:
        raise HostfileError(f"{source}: lists no hosts; add one `host slots=N` line per host")
    return hosts


def read_hostfile(path: Path) -> list[Host]:
    """Parse the hostfile at `path`; a missing or unreadable file is a HostfileError too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise HostfileError(f"hostfile {path}: cannot be read ({e.strerror or e})") from e
    return parse_hostfile(text, source=f"hostfile {path}")


def eligible(hosts: list[Host], gpus_per_node: int) -> list[Host]:
    """The hosts with at least `gpus_per_node` slots, in hostfile order."""
    return [h for h in hosts if h.slots >= gpus_per_node]


def choose_hosts(hosts: list[Host], num_nodes: int, gpus_per_node: int) -> list[Host]:
    """The first `num_nodes` hosts with enough slots; the first one hosts rank 0."""
    chosen = eligible(hosts, gpus_per_node)[:num_nodes]
    if len(chosen) < num_nodes:
        raise HostfileError(f"{num_nodes} hosts with at least {gpus_per_node} slots are needed; "
                            f"the hostfile has {len(chosen)}")
    return chosen


def render_hostfile(hosts: list[Host]) -> str:
    """A hostfile naming exactly `hosts`, for DeepSpeed's launcher."""
    return "".join(h.line() + "\n" for h in hosts)
