"""LoRA adapters of one base model, loaded on first use and evicted least recently used.

PEFT applies a different adapter to each row of one batch (`adapter_names`), so requests for
several fine-tunes of a base decode together on one copy of the base weights.
"""

import hashlib
import logging
from collections import OrderedDict

from peft import PeftModel
from transformers import PreTrainedModel

from services.common.errors import TuneForgeError
from services.inference.engines.base import Adapter

log = logging.getLogger(__name__)

BASE = "__base__"  # PEFT's name for "no adapter" in a mixed batch


class AdapterSet:
    """The adapters loaded into a model; only the engine's thread calls it."""

    def __init__(self, model: PreTrainedModel, capacity: int):
        self.model: PreTrainedModel | PeftModel = model
        self.capacity = capacity
        self._loaded: OrderedDict[str, Adapter] = OrderedDict()  # least recently used first

    @property
    def names(self) -> list[str]:
        return list(self._loaded)

    def prepare(self, adapter: Adapter, in_use: set[str]) -> bool:
        """Load the adapter unless loaded; False when every slot holds one in use."""
        if adapter.name in self._loaded:
            self._loaded.move_to_end(adapter.name)
            return True
        victim = None
        if len(self._loaded) >= self.capacity:
            victim = next((n for n in self._loaded if n not in in_use), None)
            if victim is None:
                return False
        self._load(adapter)
        self._loaded[adapter.name] = adapter
        # PEFT needs its active adapter to exist: make the new one active before the eviction.
        self.model.set_adapter(_key(adapter.name))
        if victim is not None:
            self.model.delete_adapter(_key(victim))
            del self._loaded[victim]
            log.info("evicted adapter %s", victim)
        return True

    def _load(self, adapter: Adapter) -> None:
        try:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(adapter.path), adapter_name=_key(adapter.name))
            else:
                self.model = PeftModel.from_pretrained(self.model, str(adapter.path),
                                                       adapter_name=_key(adapter.name))
        except Exception as e:  # noqa: BLE001 - the request that needed it hears why
            raise TuneForgeError(
                "invalid_argument", f"The adapter '{adapter.name}' cannot be loaded on its base "
                f"model: {type(e).__name__}: {e}", "model") from e
        self.model.eval()
        log.info("loaded adapter %s from %s", adapter.name, adapter.path)

    def forward_kwargs(self, adapters: list[str | None]) -> dict:
        """The extra forward arguments that route each row to its adapter."""
        if not isinstance(self.model, PeftModel):
            return {}
        return {"adapter_names": [_key(a) if a else BASE for a in adapters]}


def _key(name: str) -> str:
    # PEFT adapter names become module names, where '.' is not allowed; model names may hold it.
    return "lora_" + hashlib.sha256(name.encode()).hexdigest()[:16]


def lora_rank(adapter_config: dict) -> int:
    """The largest rank an adapter_config.json declares (its r or any rank_pattern value)."""
    ranks = [int(adapter_config.get("r") or 0), *map(int, (adapter_config.get("rank_pattern")
                                                         or {}).values())]
    return max(ranks)

