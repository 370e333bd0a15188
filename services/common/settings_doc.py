"""Render every process's settings into docs/operations.md, so the documentation cannot drift.

Run `python -m services.common.settings_doc` after changing a settings class; a test fails when
the configuration section of docs/operations.md is stale. Deployment tests use `env_fields` to
check that every TUNEFORGE_* variable a compose file or manifest sets is a real setting.
"""

import importlib
import json
import re
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from services.common.settings import CommonSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
BEGIN = "<!-- BEGIN GENERATED: settings (python -m services.common.settings_doc) -->"
END = "<!-- END GENERATED: settings -->"

# Every deployable process and its one settings class, in the order services start.
PROCESSES = {
    "registry": "services.registry.settings:RegistrySettings",
    "dataset": "services.dataset.settings:DatasetSettings",
    "training": "services.training.settings:TrainingSettings",
    "inference": "services.inference.settings:InferenceSettings",
    "gateway": "gateway.settings:GatewaySettings",
}

# Defaults computed from the machine that renders the doc would make it differ per checkout.
_MACHINE_DEFAULTS = {sys.executable: "the Python running the service"}
_BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


def settings_class(process: str) -> type[CommonSettings]:
    """The settings class of a process named in PROCESSES."""
    module, _, name = PROCESSES[process].partition(":")
    return getattr(importlib.import_module(module), name)


def env_name(cls: type[CommonSettings], field_name: str) -> str:
    """The environment variable a field is read from."""
    alias = cls.model_fields[field_name].validation_alias
    if alias is not None:
        return alias.choices[0]
    return f"{cls.model_config.get('env_prefix', '')}{field_name}".upper()


def env_fields(cls: type[CommonSettings], own_only: bool = False) -> dict[str, FieldInfo]:
    """Environment variable -> field of a settings class (only its own fields if `own_only`)."""
    names = [n for n in cls.model_fields
             if not (own_only and n in CommonSettings.model_fields)]
    return {env_name(cls, n): cls.model_fields[n] for n in names}


def _type(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return " or ".join(_type(a) for a in rest) + (", optional" if len(rest) < len(args) else "")
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"JSON list of {_type(args[0])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"JSON object ({annotation.__name__})"
    named = {Path: "path", SecretStr: "secret"}
    return named.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _constraints(field: FieldInfo) -> str:
    out = []
    for m in field.metadata:
        for attr, sign in _BOUNDS.items():
            if getattr(m, attr, None) is not None:
                out.append(f"{sign} {getattr(m, attr)}")
        if getattr(m, "pattern", None):
            out.append(f"matches `{m.pattern}`")
    return ", ".join(out)


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "—"
    if isinstance(value, str) and value in _MACHINE_DEFAULTS:
        return _MACHINE_DEFAULTS[value]
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, (list, dict, bool)):
        value = json.dumps(value, default=str)
    return f"`{value}`"


def _cell(text: str, prose: bool = False) -> str:
    # A pipe inside a cell would end it early, even within backticks; in prose, markdown would
    # take `<data_dir>` for an HTML tag and hide it.
    if prose:
        text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\n", " ")


def _table(cls: type[CommonSettings], own_only: bool) -> list[str]:
    lines = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    for env, field in env_fields(cls, own_only).items():
        if not field.description:
            raise ValueError(f"{cls.__name__}: setting {env} has no description")
        kind = _type(field.annotation)
        if bounds := _constraints(field):
            kind += f" ({bounds})"
        lines.append(f"| `{env}` | {_cell(kind)} | {_cell(_default(field))} | "
                     f"{_cell(field.description, prose=True)} |")
    return lines


def render_section() -> str:
    """The generated configuration section, markers included."""
    lines = [BEGIN, "", "### Every process", "",
             "Read by every service and the gateway under the same name.", "",
             *_table(CommonSettings, own_only=False)]
    for process in PROCESSES:
        cls = settings_class(process)
        entry = "gateway" if process == "gateway" else f"services.{process}"
        lines += ["", f"### {process}", "",
                  f"`python -m {entry}`, settings class `{cls.__module__}.{cls.__name__}`.", "",
                  *_table(cls, own_only=True)]
    return "\n".join([*lines, "", END])


def render(doc: str) -> str:
    """`doc` with its generated configuration section replaced by the current one."""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(doc):
        raise ValueError(f"{DOC.name} has no generated settings section ({BEGIN} … {END})")
    return pattern.sub(lambda _: render_section(), doc, count=1)


def main() -> int:
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the configuration section of {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
