"""Base models' tokenizers: found in the registry, copied from the artifact store, hashed."""

import asyncio
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grpc

from services.common.artifacts import ArtifactStore
from services.common.errors import TuneForgeError
from tuneforge.v1 import registry_pb2, registry_pb2_grpc

# Everything AutoTokenizer may read; weights are never copied.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json", "vocab.json", "merges.txt", "tokenizer.model",
                   "chat_template.jinja", "chat_template.json", "config.json")
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


@dataclass(frozen=True)
class ModelTokenizer:
    model: str
    directory: Path
    context_length: int
    tokenizer_sha256: str  # of the tokenizer files, templates aside
    template_sha256: str


class TokenizerSource:
    def __init__(self, channel: grpc.aio.Channel, artifacts: ArtifactStore, cache_dir: Path,
                 timeout_s: float = 10.0):
        self.registry = registry_pb2_grpc.RegistryServiceStub(channel)
        self.artifacts, self.cache_dir, self.timeout_s = artifacts, cache_dir, timeout_s
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, model: str) -> ModelTokenizer:
        """The model's tokenizer files in a local folder; raises model_not_found."""
        if not model:
            raise TuneForgeError("invalid_argument", "A model is needed to tokenize with.",
                                 "model")
        try:
            record = await self.registry.GetModel(registry_pb2.GetModelRequest(id=model),
                                                  timeout=self.timeout_s)
        except grpc.aio.AioRpcError as e:
            err = TuneForgeError.from_rpc_error(e)
            raise TuneForgeError(err.code, err.message, "model") from None
        prefix = record.artifact_prefix.rstrip("/")
        folder = self.cache_dir / hashlib.sha256(prefix.encode()).hexdigest()[:24]
        async with self._locks.setdefault(prefix, asyncio.Lock()):
            if not folder.is_dir():
                await asyncio.to_thread(self._download, model, prefix, folder)
        tokenizer_sha, template_sha = await asyncio.to_thread(_hashes, folder)
        return ModelTokenizer(model, folder, record.context_length, tokenizer_sha, template_sha)

    def _download(self, model: str, prefix: str, folder: Path) -> None:
        wanted = [o.key for o in self.artifacts.list(prefix + "/")
                  if o.key[len(prefix) + 1:] in TOKENIZER_FILES]
        if not any(k.endswith(("/tokenizer.json", "/tokenizer.model", "/vocab.json"))
                   for k in wanted):
            raise TuneForgeError("invalid_argument",
                                 f"Model '{model}' has no tokenizer files under '{prefix}'.",
                                 "model")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".download-"))
        try:
            for key in wanted:
                self.artifacts.get_file(key, tmp / key[len(prefix) + 1:])
            tmp.rename(folder)  # whole or not at all
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _hashes(folder: Path) -> tuple[str, str]:
    tokenizer, template = hashlib.sha256(), hashlib.sha256()
    for name in sorted(p.name for p in folder.iterdir()):
        if name in TEMPLATE_FILES or name == "config.json":
            continue
        tokenizer.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    template.update(_template_text(folder).encode())
    return tokenizer.hexdigest(), template.hexdigest()


def _template_text(folder: Path) -> str:
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    for name, key in (("chat_template.json", "chat_template"),
                      ("tokenizer_config.json", "chat_template")):
        if (folder / name).is_file():
            value = json.loads((folder / name).read_text(encoding="utf-8")).get(key)
            if value:
                return json.dumps(value, sort_keys=True)
    return ""
