"""Object ids in OpenAI's style: a type prefix and a random suffix."""

import secrets
import time


def new_id(prefix: str) -> str:
    """Return e.g. ``file-4f1c...``; sortable by creation second within a type."""
    return f"{prefix}-{int(time.time()):x}{secrets.token_hex(6)}"


def now() -> int:
    """Unix seconds, the timestamp unit of every TuneForge object."""
    return int(time.time())
