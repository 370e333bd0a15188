"""The check every registration runs: load the stored tokenizer, record the serving spec, and
render sample conversations as serving would and as training did."""

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from services.common.artifacts import ArtifactStore
from services.registry.serving import (
    CheckFailed,
    download_tokenizer,
    load_tokenizer,
    round_trip,
    serving_spec,
)


@dataclass
class Verification:
    serving: dict = field(default_factory=dict)
    round_trip: dict = field(default_factory=dict)
    error: dict = field(default_factory=dict)
    """code, message, param; empty when the model can be served as trained."""


def verify(artifacts: ArtifactStore, prefix: str, parent_prefix: str, source: str,
           samples: list[dict], scratch: Path) -> Verification:
    """Check the model under `prefix` (blocking). Training tokenized with the parent's
    tokenizer when there is a parent, so that is the reference serving must match."""
    scratch.mkdir(parents=True, exist_ok=True)
    result = Verification(round_trip={"passed": False, "source": source,
                                      "examples_checked": len(samples), "message": ""})
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        try:
            tokenizer, reference, spec = _load(artifacts, prefix, parent_prefix, Path(tmp))
            result.serving = spec.to_dict()
            round_trip(tokenizer, spec.stop_token_ids, reference, samples)
        except CheckFailed as e:
            result.round_trip["message"] = e.message
            result.error = {"code": "invalid_argument", "param": e.param,
                            "message": f"The model cannot be served as it was trained: "
                                       f"{e.message}."}
            return result
    result.round_trip["passed"] = True
    return result


def _load(artifacts: ArtifactStore, prefix: str, parent_prefix: str, tmp: Path):
    own_dir, parent_dir = tmp / "model", tmp / "parent"
    own_files = download_tokenizer(artifacts, prefix, own_dir)
    parent_files = download_tokenizer(artifacts, parent_prefix, parent_dir) \
        if parent_prefix else []
    if _has_tokenizer(own_files):
        tokenizer = load_tokenizer(own_dir, "the model's")
        spec = serving_spec(tokenizer, own_dir, own_files)
    elif _has_tokenizer(parent_files):  # a LoRA adapter saved without its base's tokenizer
        tokenizer = load_tokenizer(parent_dir, "the parent's")
        spec = serving_spec(tokenizer, parent_dir, parent_files)
    else:
        raise CheckFailed(f"there are no tokenizer files under '{prefix}'", "tokenizer")
    if not parent_prefix:
        return tokenizer, tokenizer, spec
    if not _has_tokenizer(parent_files):
        raise CheckFailed(f"the parent's tokenizer, which training used, is missing from "
                          f"'{parent_prefix}'", "parent")
    return tokenizer, load_tokenizer(parent_dir, "the parent's (training's)"), spec


def _has_tokenizer(names: list[str]) -> bool:
    return any(n.startswith("tokenizer") or n in ("vocab.json", "spiece.model")
               or n.endswith(".tiktoken") for n in names)
