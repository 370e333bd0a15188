"""What a model is served with (tokenizer, chat template, generation config, stop ids), and
the round-trip check that serving renders exactly the token ids training used."""

import fnmatch
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from services.common.artifacts import ArtifactStore
from services.common.chat import (
    IGNORE_INDEX,
    render_chat,
    stop_token_ids,
    tokenize_for_training,
    tokenize_prompt,
)

# The files that decide tokenization and generation, as transformers saves them.
TOKENIZER_PATTERNS = ("tokenizer*", "*.jinja", "chat_template.json", "special_tokens_map.json",
                      "added_tokens.json", "vocab*", "merges.txt", "*.tiktoken", "spiece.model",
                      "generation_config.json")
_UNLIMITED = 1 << 30


class CheckFailed(Exception):
    """The model cannot be served as it was trained; the message says which example and why."""

    def __init__(self, message: str, param: str = "chat_template"):
        super().__init__(message)
        self.message, self.param = message, param


@dataclass(frozen=True)
class ServingSpec:
    chat_template: str
    stop_token_ids: list[int]
    generation_config: dict
    tokenizer_sha256: str

    def to_dict(self) -> dict:
        return asdict(self)


def is_tokenizer_file(name: str) -> bool:
    return "/" not in name and any(fnmatch.fnmatch(name, p) for p in TOKENIZER_PATTERNS)


def download_tokenizer(artifacts: ArtifactStore, prefix: str, dest: Path) -> list[str]:
    """Fetch the tokenizer files (and config.json, which names the tokenizer class)."""
    prefix = prefix.rstrip("/") + "/"
    names = []
    for obj in artifacts.list(prefix):
        name = obj.key[len(prefix):]
        if is_tokenizer_file(name) or name == "config.json":
            artifacts.get_file(obj.key, dest / name)
            names.append(name)
    return sorted(n for n in names if n != "config.json")


def load_tokenizer(folder: Path, whose: str):
    """The tokenizer as the training and inference services load it."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(folder)
    except Exception as e:  # noqa: BLE001 - any load failure is the model's problem
        raise CheckFailed(f"{whose} tokenizer cannot be loaded: {type(e).__name__}: {e}",
                          "tokenizer") from None


def serving_spec(tokenizer, folder: Path, files: list[str]) -> ServingSpec:
    """The spec stored with the model version; the inference service serves with exactly it."""
    template = tokenizer.chat_template
    if isinstance(template, dict):  # several named templates: the default one is used
        template = template.get("default")
    if not template:
        raise CheckFailed("the tokenizer has no chat template, so chat requests cannot be "
                          "rendered as training rendered them")
    gen_file = folder / "generation_config.json"
    try:
        generation = json.loads(gen_file.read_text()) if gen_file.is_file() else {}
        stops = stop_token_ids(tokenizer, folder)
    except (ValueError, OSError) as e:
        raise CheckFailed(f"generation_config.json cannot be read: {e}",
                          "generation_config") from None
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return ServingSpec(template, stops, generation, digest.hexdigest())


def round_trip(tokenizer, stop_ids: list[int], reference, samples: list[dict]) -> None:
    """Raise CheckFailed unless each sample renders through `tokenizer` to the ids training
    (`tokenize_for_training` with `reference`) used, and every reply ends with a stop id."""
    for sample in samples:
        where = f"example '{sample.get('id', '?')}'"
        # Weights only choose what is trained; every assistant turn must render and stop.
        messages = [{"role": m["role"], "content": m["content"]} for m in sample["messages"]]
        trained = _render(lambda: tokenize_for_training(reference, messages, _UNLIMITED),
                          where, "the training side")
        served = _render(lambda: _encode(tokenizer, render_chat(tokenizer, messages)),
                         where, "the stored chat template")
        if served != trained.input_ids:
            raise CheckFailed(f"{where}: the stored chat template and tokenizer render "
                              f"{len(served)} tokens where training used "
                              f"{len(trained.input_ids)}; "
                              + _first_difference(tokenizer, served, trained.input_ids))
        _check_prompts(tokenizer, messages, trained, where)
        _check_stops(tokenizer, stop_ids, trained.input_ids, trained.labels, where)


def _check_prompts(tokenizer, messages: list[dict], trained, where: str) -> None:
    """What the server sends before each reply must be what training saw before it."""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = tokenize_prompt(tokenizer, messages[:i])
        n = len(prompt)
        starts_reply = n < len(trained.labels) and trained.labels[n] != IGNORE_INDEX and (
            n == 0 or trained.labels[n - 1] == IGNORE_INDEX)
        if trained.input_ids[:n] != prompt or not starts_reply:
            raise CheckFailed(f"{where}, message {i}: the prompt the server renders before this "
                              f"reply ({n} tokens) is not what training saw before it")


def _check_stops(tokenizer, stop_ids: list[int], ids: list[int], labels: list[int],
                 where: str) -> None:
    ends = [i for i, label in enumerate(labels) if label != IGNORE_INDEX
            and (i + 1 == len(labels) or labels[i + 1] == IGNORE_INDEX)]
    for turn, end in enumerate(ends, start=1):
        if ids[end] not in stop_ids:
            raise CheckFailed(
                f"{where}, assistant turn {turn}: the reply ends with {_token(tokenizer, ids[end])}"
                f", which is not a stop token the server honours (stop ids {stop_ids}); "
                "generation would not stop there", "stop_token_ids")


def _render(fn, where: str, side: str):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - jinja and masking errors alike fail the check
        raise CheckFailed(f"{where}: {side} cannot render it: {type(e).__name__}: {e}") from None


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _token(tokenizer, token_id: int) -> str:
    return f"{tokenizer.decode([token_id])!r} (id {token_id})"


def _first_difference(tokenizer, served: list[int], trained: list[int]) -> str:
    k = next((i for i, (a, b) in enumerate(zip(served, trained)) if a != b),
             min(len(served), len(trained)))
    serving = _token(tokenizer, served[k]) if k < len(served) else "the end"
    training = _token(tokenizer, trained[k]) if k < len(trained) else "the end"
    return f"first difference at token {k}: serving {serving}, training {training}"
