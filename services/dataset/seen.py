"""Which record ids a file has used, in bounded memory even for millions of records."""

import hashlib

import numpy as np

# Recent ids stay in a dict; older ones move to sorted arrays of 8-byte hashes, about 16 bytes
# an id instead of the ~150 a dict entry with its string costs.
_RECENT = 65_536


class SeenIds:
    """Remembers each id with the line that first used it."""

    def __init__(self):
        self.recent: dict[str, int] = {}
        self.hashes = np.empty(0, dtype=np.int64)  # sorted
        self.lines = np.empty(0, dtype=np.int64)  # line of each hash

    def first_use(self, record_id: str, line: int) -> int | None:
        """The line that used `record_id` before, or None (and `line` is remembered)."""
        if (seen := self.recent.get(record_id)) is not None:
            return seen
        key = _hash(record_id)
        i = int(np.searchsorted(self.hashes, key))
        if i < len(self.hashes) and self.hashes[i] == key:
            return int(self.lines[i])
        self.recent[record_id] = line
        if len(self.recent) >= _RECENT:
            self._compact()
        return None

    def _compact(self) -> None:
        keys = np.fromiter((_hash(k) for k in self.recent), dtype=np.int64, count=len(self.recent))
        lines = np.fromiter(self.recent.values(), dtype=np.int64, count=len(self.recent))
        hashes = np.concatenate([self.hashes, keys])
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.lines = hashes[order], np.concatenate([self.lines, lines])[order]
        self.recent.clear()


def _hash(record_id: str) -> int:
    # 64 bits: a false duplicate among a billion ids has odds of about 3 in 100 million.
    digest = hashlib.blake2b(record_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)
