"""Chat rendering and tokenization shared by the dataset, training and inference services.

Training and inference must see the same tokens for the same conversation, so both go through
the tokenizer's own chat template, rendered here and nowhere else.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, TypedDict

from transformers import GenerationConfig, PreTrainedTokenizerBase

IGNORE_INDEX = -100
"""Label of a position that takes no part in the loss (PyTorch's cross-entropy default)."""

IM_END = "<|im_end|>"


class ChatMessage(TypedDict):
    role: str
    """"system", "user" or "assistant"."""
    content: str
    weight: NotRequired[int]
    """Assistant turns only: 0 keeps the turn as context but trains nothing on it."""


@dataclass(frozen=True)
class TokenizedExample:
    """One conversation as model input, with labels that train only the assistant's turns."""

    input_ids: list[int]
    labels: list[int]
    num_trained_tokens: int
    truncated: bool


def render_chat(
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[ChatMessage],
    add_generation_prompt: bool = False,
) -> str:
    """Render messages to text with the tokenizer's chat template."""
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    return tokenizer.apply_chat_template(
        plain, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def tokenize_prompt(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[ChatMessage]
) -> list[int]:
    """Token ids of the prompt the model continues as the assistant."""
    return _encode(tokenizer, render_chat(tokenizer, messages, add_generation_prompt=True))


def tokenize_for_training(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[ChatMessage], max_length: int
) -> TokenizedExample:
    """Tokenize a conversation; labels cover each trained assistant reply and its end token."""
    text = render_chat(tokenizer, messages)
    spans = _trained_spans(tokenizer, messages, text)
    bounds = [0, *(offset for span in spans for offset in span), len(text)]
    input_ids: list[int] = []
    labels: list[int] = []
    # Even segments are context, odd ones are trained. Segments end where the template puts a
    # special token or a newline, so their token concatenation equals tokenizing `text` whole.
    for index, (start, end) in enumerate(zip(bounds, bounds[1:])):
        ids = _encode(tokenizer, text[start:end])
        input_ids += ids
        labels += ids if index % 2 else [IGNORE_INDEX] * len(ids)
    truncated = len(input_ids) > max_length
    input_ids, labels = input_ids[:max_length], labels[:max_length]
    num_trained = sum(label != IGNORE_INDEX for label in labels)
    return TokenizedExample(input_ids, labels, num_trained, truncated)


def stop_token_ids(
    tokenizer: PreTrainedTokenizerBase,
    generation_config: GenerationConfig | str | Path | None = None,
) -> list[int]:
    """Sorted ids that end a reply: the generation config's eos ids, the tokenizer's, im_end."""
    if isinstance(generation_config, (str, Path)):
        generation_config = _load_generation_config(Path(generation_config))
    configured = generation_config.eos_token_id if generation_config is not None else None
    if isinstance(configured, int):
        configured = [configured]
    ids = set(configured or [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    im_end = tokenizer.get_vocab().get(IM_END)
    if im_end is not None:
        ids.add(im_end)
    return sorted(ids)


def _trained_spans(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[ChatMessage], text: str
) -> list[tuple[int, int]]:
    """Character spans of `text` to train: each assistant reply through its closing token."""
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or message.get("weight", 1) == 0:
            continue
        prompt = render_chat(tokenizer, messages[:i], add_generation_prompt=True)
        through_reply = render_chat(tokenizer, messages[: i + 1])
        if not (text.startswith(through_reply) and through_reply.startswith(prompt)):
            raise ValueError(
                f"the chat template does not render stable prefixes, so assistant turn {i} "
                "cannot be located for label masking"
            )
        # The template's separator after the end token (ChatML's newline) is not the reply.
        end = max(len(prompt), len(through_reply.rstrip()))
        spans.append((len(prompt), end))
    return spans


def _encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    # The rendered template already holds every special token it wants (BOS included).
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _load_generation_config(model_dir: Path) -> GenerationConfig | None:
    if not (model_dir / "generation_config.json").is_file():
        return None
    return GenerationConfig.from_pretrained(model_dir)
