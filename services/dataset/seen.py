"""Which record ids a file has used, in bounded memory even for millions of records."""

import numpy as np

# Recent ids stay in a dict; older ones move to sorted arrays of 8-byte hashes, about 16 bytes
# an id instead of the ~150 a dict entry with its string costs.
_RECENT = 65_536
# One bit per hash bucket says whether an older id may have it, so a new id (nearly all of
# them) is told apart without a binary search. 4 MiB: under 10% false hits up to 3M ids.
_FILTER_BITS = 1 << 25


class SeenIds:
    """Remembers each id with the line that first used it (for one file, in one process)."""

    def __init__(self):
        self.recent: dict[str, int] = {}
        self.hashes = np.empty(0, dtype=np.int64)  # sorted
        self.lines = np.empty(0, dtype=np.int64)  # line of each hash
        self.filter = bytearray(_FILTER_BITS // 8)

    def first_use(self, record_id: str, line: int) -> int | None:
        """The line that used `record_id` before, or None (and `line` is remembered)."""
        if (seen := self.recent.get(record_id)) is not None:
            return seen
        # Python's str hash: 64 bits (SipHash), cached on the string, and stable within a
        # process, which this object never leaves. A false duplicate among a million ids has
        # odds of about 3 in 100 million.
        key = hash(record_id)
        bucket = key & (_FILTER_BITS - 1)
        if self.filter[bucket >> 3] >> (bucket & 7) & 1:
            i = int(np.searchsorted(self.hashes, key))
            if i < len(self.hashes) and self.hashes[i] == key:
                return int(self.lines[i])
        self.recent[record_id] = line
        if len(self.recent) >= _RECENT:
            self._compact()
        return None

    def _compact(self) -> None:
        keys = np.fromiter(map(hash, self.recent), dtype=np.int64, count=len(self.recent))
        lines = np.fromiter(self.recent.values(), dtype=np.int64, count=len(self.recent))
        buckets = keys & (_FILTER_BITS - 1)
        bits = np.frombuffer(self.filter, dtype=np.uint8)
        np.bitwise_or.at(bits, buckets >> 3, (1 << (buckets & 7)).astype(np.uint8))
        hashes = np.concatenate([self.hashes, keys])
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.lines = hashes[order], np.concatenate([self.lines, lines])[order]
        self.recent.clear()
