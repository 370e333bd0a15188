"""Object ids in OpenAI's style: a type prefix and a random suffix."""

import secrets
import time


def new_id(prefix: str) -> str:
    """Return e.g. ``file-19ac3f2b1e04f1c...``: ids of one type sort by creation millisecond."""
    return f"{prefix}-{time.time_ns() // 1_000_000:011x}{secrets.token_hex(5)}"


def now() -> int:
    """Unix seconds, the timestamp unit of every TuneForge object."""
    return int(time.time())
