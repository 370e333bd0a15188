"""What a stored model folder holds, read from its config and safetensors headers only."""

import json
import struct
from collections import Counter
from dataclasses import dataclass

from services.common.artifacts import ArtifactNotFound, ArtifactStore
from services.common.errors import invalid

ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack",
                   ".onnx")
# A header bigger than this is not a safetensors file we can trust to parse.
_MAX_HEADER = 100 * 1024 * 1024
_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
           "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "I64": "int64",
           "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}
_INTEGER = {"int64", "int32", "int16", "int8", "uint8"}


@dataclass
class Facts:
    format: str = "full"                # full | lora
    architecture: str = ""
    context_length: int = 0
    num_parameters: int = 0
    dtype: str = ""
    size_bytes: int = 0
    quantization: str = ""              # why the weights cannot be merged into; "" if they can
    adapter_base: str = ""              # base_model_name_or_path of a LoRA adapter
    problem: str = ""                   # why the folder cannot be served; "" if it can


def inspect(artifacts: ArtifactStore, prefix: str) -> Facts:
    """Facts about the model under `prefix` (blocking); raises when it holds no model config."""
    prefix = prefix.rstrip("/")
    objects = artifacts.list(prefix + "/")
    names = {o.key[len(prefix) + 1:] for o in objects}
    facts = Facts(size_bytes=sum(o.size for o in objects))
    if "config.json" in names:
        _read_config(facts, _json(artifacts, f"{prefix}/config.json"))
    elif ADAPTER_CONFIG in names:
        facts.format = "lora"
        facts.adapter_base = _json(artifacts, f"{prefix}/{ADAPTER_CONFIG}").get(
            "base_model_name_or_path") or ""
    else:
        raise invalid(f"No config.json (or {ADAPTER_CONFIG}) under artifact prefix '{prefix}'.",
                      "artifact_prefix")
    tensors = [o.key for o in objects if o.key.endswith(".safetensors")]
    others = sorted(n for n in names if n.endswith(WEIGHT_SUFFIXES[1:]))
    if not tensors:
        facts.problem = (f"its weights are not in safetensors format ({', '.join(others[:3])}); "
                         "convert them first" if others else
                         f"no weights: '{prefix}' holds no *.safetensors file")
        return facts
    dtypes: Counter[str] = Counter()
    for key in tensors:
        try:
            for dtype, count in _tensor_counts(artifacts, key):
                dtypes[dtype] += count
        except (ValueError, KeyError, TypeError, struct.error) as e:
            facts.problem = f"'{key}' is not a valid safetensors file ({type(e).__name__}: {e})"
            return facts
    facts.num_parameters = sum(dtypes.values())
    facts.dtype = facts.dtype or dtypes.most_common(1)[0][0]
    if facts.format == "full" and not facts.quantization and facts.dtype in _INTEGER:
        facts.quantization = f"{facts.dtype} weights"
    return facts


def _read_config(facts: Facts, config: dict) -> None:
    facts.architecture = (config.get("architectures") or [config.get("model_type", "")])[0]
    facts.context_length = int(config.get("max_position_embeddings") or 0)
    facts.dtype = str(config.get("dtype") or config.get("torch_dtype") or "")
    if quant := config.get("quantization_config"):
        facts.quantization = f"quantised with {quant.get('quant_method', 'an unknown method')}"


def _json(artifacts: ArtifactStore, key: str) -> dict:
    try:
        return json.loads(artifacts.get_bytes(key))
    except ArtifactNotFound:
        raise invalid(f"No {key.rsplit('/', 1)[-1]} at '{key}'.", "artifact_prefix") from None
    except ValueError as e:
        raise invalid(f"'{key}' is not valid JSON: {e}", "artifact_prefix") from None


def _tensor_counts(artifacts: ArtifactStore, key: str) -> list[tuple[str, int]]:
    """(dtype, element count) of every tensor in a safetensors file, from its header alone."""
    (n,) = struct.unpack("<Q", _read_head(artifacts, key, 8))
    if n > _MAX_HEADER:
        raise ValueError(f"a header of {n} bytes")
    header = json.loads(_read_head(artifacts, key, 8 + n)[8:])
    out = []
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for d in meta["shape"]:
            count *= d
        out.append((_DTYPES.get(meta["dtype"], meta["dtype"].lower()), count))
    return out


def _read_head(artifacts: ArtifactStore, key: str, n: int) -> bytes:
    """The first `n` bytes of an object, without reading the rest."""
    chunks = artifacts.iter_chunks(key, chunk_size=n)
    head = b""
    try:
        for chunk in chunks:
            head += chunk
            if len(head) >= n:
                break
    finally:
        chunks.close()  # releases the S3 connection of a partly read object
    return head[:n]
