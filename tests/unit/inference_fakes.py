"""Test doubles for the inference service: a byte-level tokenizer, scripted engines, and
random LoRA adapters of a real base model."""

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from services.common.chat import stop_token_ids
from services.inference.engines import Adapter, Engine, GenerationRequest, SampledToken

CHATML = (Path(__file__).resolve().parents[2] / "services" / "registry" / "chatml.jinja")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


@functools.cache
def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A real HF tokenizer with one token per UTF-8 byte, so a Chinese character is three."""
    vocab = {t: i for i, t in enumerate(SPECIALS + sorted(pre_tokenizers.ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                      pad_token="<|endoftext|>",
                                      additional_special_tokens=SPECIALS[1:])
    wrapped.chat_template = CHATML.read_text(encoding="utf-8")
    return wrapped


def encode(text: str) -> list[int]:
    return byte_tokenizer()(text, add_special_tokens=False)["input_ids"]


class FakeEngine(Engine):
    """Streams a scripted reply's tokens; a reply may end with '<|im_end|>' like a real model."""

    def __init__(self, reply: str | Callable[[GenerationRequest], str] = "",
                 context_length: int = 4096):
        self.reply = reply
        self._context_length = context_length
        self.requests: list[GenerationRequest] = []
        self.tokens_yielded = 0
        self.streams_ended = 0
        self.load_gate: asyncio.Event | None = None  # set it to hold load() until released
        self.load_error: Exception | None = None
        self.closed = False

    async def load(self) -> None:
        if self.load_gate is not None:
            await self.load_gate.wait()
        if self.load_error is not None:
            raise self.load_error

    @property
    def tokenizer(self) -> PreTrainedTokenizerFast:
        return byte_tokenizer()

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def stop_token_ids(self) -> frozenset[int]:
        return frozenset(stop_token_ids(byte_tokenizer()))

    async def generate(self, request: GenerationRequest) -> AsyncIterator[SampledToken]:
        self.requests.append(request)
        reply = self.reply(request) if callable(self.reply) else self.reply
        try:
            for token in encode(reply)[:request.max_tokens]:
                await asyncio.sleep(0)  # a real engine hands over control between tokens
                self.tokens_yielded += 1
                yield SampledToken(token)
                if token in request.stop_token_ids:
                    return
        finally:
            self.streams_ended += 1

    async def close(self) -> None:
        self.closed = True


def write_lora_adapter(base_dir: Path, out: Path, rank: int, seed: int) -> Adapter:
    """A LoRA adapter of the model in `base_dir` with random (not zero) weights, so it changes
    the model's output; saved as PEFT saves a fine-tune."""
    torch.manual_seed(seed)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_dir),
        LoraConfig(r=rank, lora_alpha=32, target_modules=["q_proj", "v_proj", "down_proj"],
                   init_lora_weights=False))
    model.save_pretrained(out)
    return Adapter(out.name, out, rank)
