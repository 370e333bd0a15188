"""Model ids, the names their versions share, and references by alias or version."""

import re
from dataclasses import dataclass

from services.common.errors import invalid

# An id is what clients send as "model"; '@' is kept for references, whitespace never fits.
_ID = re.compile(r"^[^\s@]{1,256}$")
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_CHECKPOINT = re.compile(r":ckpt-step-(\d+)$")


def check_id(model_id: str, param: str = "id") -> None:
    """Refuse an id clients could not send back unambiguously."""
    if not _ID.match(model_id or ""):
        raise invalid(f"'{model_id}' is not a valid model id: use 1 to 256 characters without "
                      "whitespace or '@' ('@' selects an alias or version).", param)


def check_alias(alias: str) -> None:
    if not _ALIAS.match(alias or ""):
        raise invalid(f"'{alias}' is not a valid alias: start with a lower-case letter, then "
                      "up to 63 lower-case letters, digits, '-' or '_'.", "alias")


def checkpoint_step(model_id: str) -> int:
    """N of an intermediate checkpoint named '…:ckpt-step-N', else 0."""
    m = _CHECKPOINT.search(model_id)
    return int(m.group(1)) if m else 0


def default_name(model_id: str) -> str:
    """The name versions share: 'ft:<base>:<suffix>' for the training service's models.

    Every job with the same base and suffix, and every checkpoint of those jobs, is a version
    of one name, so an alias such as 'production' can move between them.
    """
    stem = _CHECKPOINT.sub("", model_id)
    parts = stem.split(":")
    if parts[0] == "ft" and len(parts) >= 4:
        return ":".join(parts[:-1])  # drop the short job id
    return stem


@dataclass(frozen=True)
class Reference:
    """A model named by id, by '<name>@<alias>' or by '<name>@<version>'."""

    model_id: str = ""
    name: str = ""
    alias: str = ""
    version: int = 0


def parse_reference(ref: str) -> Reference:
    if "@" not in ref:
        return Reference(model_id=ref)
    name, _, tag = ref.rpartition("@")
    if tag.isdigit():
        return Reference(name=name, version=int(tag))
    return Reference(name=name, alias=tag)
