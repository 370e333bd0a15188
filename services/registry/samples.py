"""Conversations for the round-trip check: the caller's, the training file's, or probes."""

import json

from services.common.artifacts import ArtifactNotFound, ArtifactStore

# Used when no training example is at hand (base models): single and multi-turn, no system
# turn, because some templates (Gemma's) refuse one.
PROBES = [
    {"id": "probe-single-turn", "messages": [
        {"role": "user", "content": "Hello! Who are you?"},
        {"role": "assistant", "content": "I am a helpful assistant."}]},
    {"id": "probe-multi-turn", "messages": [
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "2 + 2 = 4."},
        {"role": "user", "content": "And times three?"},
        {"role": "assistant", "content": "12."}]},
]


def dataset_key(sha256: str) -> str:
    """Where the dataset service keeps a file's canonical JSONL."""
    return f"datasets/{sha256}/canonical.jsonl"


def pick_samples(artifacts: ArtifactStore, given: list[dict], lineage: dict,
                 limit: int) -> tuple[str, list[dict]]:
    """(source, conversations): the request's, else the training file's first, else probes."""
    if given:
        return "request", given[:limit]
    sha = lineage.get("training_file_sha256")
    if sha:
        examples = _first_records(artifacts, dataset_key(sha), limit)
        if examples:
            return "training_file", examples
    return "probe", PROBES


def _first_records(artifacts: ArtifactStore, key: str, limit: int) -> list[dict]:
    """The first `limit` records of a JSONL object, read no further than needed."""
    try:
        chunks = artifacts.iter_chunks(key, chunk_size=64 * 1024)
    except ArtifactNotFound:
        return []  # the dataset was deleted since; the probes still check the template
    records, buffer = [], b""
    try:
        for chunk in chunks:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            records += [json.loads(line) for line in lines if line.strip()]
            if len(records) >= limit:
                break
        else:
            if buffer.strip():
                records.append(json.loads(buffer))
    finally:
        chunks.close()
    return [{"id": str(r.get("id", i)), "messages": r["messages"]}
            for i, r in enumerate(records[:limit])]
