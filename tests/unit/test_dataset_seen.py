"""Record ids are remembered across a whole file, also once they leave the recent window."""

from services.dataset.seen import SeenIds


def test_id_used_long_before_names_its_first_line():
    seen = SeenIds()
    for n in range(200_000):
        assert seen.first_use(f"conv-{n}", n + 1) is None
    assert seen.first_use("conv-7", 200_001) == 8  # compacted into the sorted hashes
    assert seen.first_use("conv-199999", 200_002) == 200_000  # still recent
    assert seen.first_use("conv-200000", 200_003) is None


def test_new_ids_after_compaction_are_not_duplicates():
    seen = SeenIds()
    for n in range(100_000):
        seen.first_use(str(n), n + 1)
    assert all(seen.first_use(f"new-{n}", 0) is None for n in range(100_000))
