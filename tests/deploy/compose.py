"""docker-compose.yml read as Docker Compose reads it: YAML, overrides, then ${VAR} from .env."""

import re
from pathlib import Path

import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
CPU_OVERRIDE = ROOT / "deploy" / "compose" / "cpu.yaml"
ENV_EXAMPLE = ROOT / ".env.example"

# $$ (a literal $), ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR
_VAR = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


class _Reset:
    """Compose's `!reset` tag: the key is removed from what the files before it said."""


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!reset", lambda loader, node: _Reset())


def read_dotenv(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """KEY=VALUE lines of an env file; comments and blank lines skipped."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            out[key.strip()] = value.strip()
    return out


def references(obj) -> dict[str, bool]:
    """Every variable the files interpolate -> whether every use of it has a default."""
    out: dict[str, bool] = {}
    for text in _strings(obj):
        for m in _VAR.finditer(text):
            name = m.group(1) or m.group(4)
            if name:
                out[name] = out.get(name, True) and m.group(2) in (":-", "-")
    return out


def interpolate(obj, env: dict[str, str]):
    """`obj` with every ${VAR} replaced as Compose does; an unset required one raises."""
    if isinstance(obj, dict):
        return {k: interpolate(v, env) for k, v in obj.items()}
    if isinstance(obj, list):
        return [interpolate(v, env) for v in obj]
    if not isinstance(obj, str):
        return obj

    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1) or m.group(4), m.group(2), m.group(3)
        value = env.get(name)
        missing = value is None or (value == "" and op and op.startswith(":"))
        if missing and op and op.endswith("?"):
            raise KeyError(f"{name}: {arg}")
        if missing and op and op.endswith("-"):
            return arg
        return value or ""

    return _VAR.sub(one, obj)


def load(*files: Path, env: dict[str, str] | None = None) -> dict:
    """The merged, interpolated model of `files` (the first is docker-compose.yml)."""
    merged: dict = {}
    for f in files or (COMPOSE,):
        merged = _merge(merged, yaml.load(f.read_text(), Loader=_Loader))
    return interpolate(merged, read_dotenv() if env is None else env)


def raw(*files: Path) -> list[dict]:
    """The files as parsed, before merging and interpolation."""
    return [yaml.load(f.read_text(), Loader=_Loader) for f in files or (COMPOSE,)]


def _merge(base, override):
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, _Reset):
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def _strings(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, str):
        yield obj
