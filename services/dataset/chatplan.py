"""A chat template reduced to text around each message, so a dataset renders without Jinja.

Most templates (ChatML among them) render every message as prefix(role) + content +
suffix(role), independent of the others. `ChatPlan.compile` finds those pieces by rendering
a marker, and `tokenize.py` keeps the plan only if it tokenizes probe conversations exactly as
`services.common.chat.tokenize_for_training` does; any other template takes that slow path.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from services.common.chat import ChatMessage, render_chat

_MARK = "\ue000TUNEFORGE\ue000"  # private-use characters no template touches
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatPlan:
    prefix: dict[str, str]
    suffix: dict[str, str]

    @classmethod
    def compile(cls, tokenizer) -> "ChatPlan | None":
        """The plan of the tokenizer's template, or None if it is not message by message."""
        prefix, suffix = {}, {}
        for role in ROLES:
            try:
                text = render_chat(tokenizer, [{"role": role, "content": _MARK}])
            except Exception:  # noqa: BLE001 - a template may refuse a lone message
                return None
            if text.count(_MARK) != 1:
                return None
            prefix[role], suffix[role] = text.split(_MARK)
        return cls(prefix, suffix)

    def render(self, messages: Sequence[ChatMessage]) -> str:
        return "".join(self.prefix[m["role"]] + m["content"] + self.suffix[m["role"]]
                       for m in messages)

    def segments(self, messages: Sequence[ChatMessage]) -> list[str]:
        """The rendered text cut where training starts and stops, as `tokenize_for_training`
        cuts it: even pieces are context, odd ones carry loss."""
        pieces, context = [], []
        for m in messages:
            role = m["role"]
            if role != "assistant" or m.get("weight", 1) == 0:
                context += (self.prefix[role], m["content"], self.suffix[role])
                continue
            context.append(self.prefix[role])
            pieces.append("".join(context))
            reply = m["content"] + self.suffix[role]
            # The separator after the end token (ChatML's newline) is not the reply.
            trained = reply.rstrip()
            pieces.append(trained)
            context = [reply[len(trained):]]
        pieces.append("".join(context))
        return pieces
