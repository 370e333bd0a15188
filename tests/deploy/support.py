"""Reading deployment files the way their tools and our processes read them."""

import os
import re
import shlex
from pathlib import Path
from unittest import mock
from urllib.parse import urlparse

from services.common.settings import CommonSettings
from services.common.settings_doc import env_fields, settings_class
from tests.conftest import ROOT

DOCKER = ROOT / "deploy" / "docker"
K8S = ROOT / "deploy" / "k8s"
SERVICES = ("registry", "dataset", "training", "inference")
NEEDS_GPU = ("training", "inference")


def settings_for(process: str, env: dict[str, str]) -> CommonSettings:
    """The settings `process` reads from exactly `env`: no .env file, nothing else inherited."""
    with mock.patch.dict(os.environ, env, clear=True):
        return settings_class(process)(_env_file=None)


def unknown_settings(process: str, names) -> list[str]:
    """The TUNEFORGE_* names among `names` that are no setting of `process`."""
    known = set(env_fields(settings_class(process)))
    return sorted(n for n in names if n.startswith("TUNEFORGE_") and n not in known)


def host_port(address: str) -> tuple[str, int]:
    """(host, port) of `host:port` or of a URL."""
    u = urlparse(address if "://" in address else f"tcp://{address}")
    return u.hostname, u.port


def listen_port(process: str, settings: CommonSettings) -> int:
    """The port a process binds, as its server code derives it from its settings."""
    if process == "gateway":
        return settings.port
    return host_port(settings.listen_addr or getattr(settings, f"{process}_addr"))[1]


def dial_addresses(settings: CommonSettings) -> dict[str, str]:
    """Service name -> the address this process dials it at."""
    return {s: getattr(settings, f"{s}_addr") for s in SERVICES}


def module_command(process: str) -> list[str]:
    """How a process is started: `python -m services.<name>` or `python -m gateway`."""
    return ["python", "-m", "gateway" if process == "gateway" else f"services.{process}"]


class Dockerfile:
    """The instructions of a Dockerfile, with ARG defaults substituted into FROM lines."""

    def __init__(self, path: Path):
        self.path = path
        text = re.sub(r"\\\n", " ", "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")))
        self.instructions = [(kw.upper(), rest.strip()) for kw, _, rest in
                             (line.strip().partition(" ") for line in text.splitlines())
                             if kw]
        args = {}
        for kw, rest in self.instructions:
            if kw == "FROM":
                break
            if kw == "ARG" and "=" in rest:
                name, _, value = rest.partition("=")
                args[name] = value
        self.base_images = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
                            for kw, rest in self.instructions if kw == "FROM"]

    def final_stage(self) -> list[tuple[str, str]]:
        """Instructions after the last FROM."""
        last = max(i for i, (kw, _) in enumerate(self.instructions) if kw == "FROM")
        return self.instructions[last + 1:]

    def env(self) -> dict[str, str]:
        """ENV of the final stage (the `KEY=VALUE ...` form)."""
        out = {}
        for kw, rest in self.final_stage():
            if kw == "ENV":
                out.update(pair.split("=", 1) for pair in shlex.split(rest))
        return out

    def arg_default(self, name: str) -> str | None:
        for kw, rest in self.instructions:
            if kw == "ARG" and rest.startswith(f"{name}="):
                return rest.split("=", 1)[1]
        return None


def image_env(image: str) -> dict[str, str]:
    """TUNEFORGE_* defaults an image sets (tuneforge or tuneforge-gpu), without PATH and co."""
    name = "Dockerfile.gpu" if image.split(":")[0].endswith("-gpu") else "Dockerfile"
    return {k: v for k, v in Dockerfile(DOCKER / name).env().items() if k.startswith("TUNEFORGE_")}


