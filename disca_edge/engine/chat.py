"""Chat template and tokens: render two-turn prompts, tokenise, find prefixes and A/B ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import DiscaError
from .plan import common_prefix_len

__all__ = ["ChatPrompt", "ChatTokens"]

#: Stand-in user texts that differ in their first character: the renderings of one system
#: text with each of them part where the user content starts.
_SENTINEL_USERS = ("\x02", "\x03")


@dataclass(frozen=True)
class ChatPrompt:
    """One two-turn chat: a system text and a user text (the generation prompt is added)."""

    system: str
    user: str


class ChatTokens:
    """A GGUF model's chat template and tokenizer, as the engine uses them.

    Args:
        model: a loaded ``llama_cpp._internals.LlamaModel``.
        template_source: Jinja chat template.
    """

    def __init__(self, model, template_source: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._model = model
        self.bos_text = self._token_text(model.token_bos())
        self.eos_text = self._token_text(model.token_eos())
        self._formatter = Jinja2ChatFormatter(
            template=template_source,
            eos_token=self.eos_text,
            bos_token=self.bos_text,
            add_generation_prompt=True,
        )
        self.system_role = self._probe_system_role()
        self._decision_cache: dict[str, tuple[int, int]] = {}
        self._prefix_cache: dict[str, tuple[int, ...]] = {}

    def _token_text(self, token: int) -> str:
        return "" if token < 0 else self._model.token_get_text(token)

    def _apply_template(self, messages: list[Any]) -> str:
        # enable_thinking=False turns off "thinking" modes in templates that have one (spec §10).
        return self._formatter(messages=messages, enable_thinking=False).prompt

    def _probe_system_role(self) -> bool:
        sentinel_sys, sentinel_user = "\x01SYSTEM\x01", "\x01USER\x01"
        try:
            text = self._apply_template(
                [
                    {"role": "system", "content": sentinel_sys},
                    {"role": "user", "content": sentinel_user},
                ]
            )
        except Exception:  # templates that reject a system role raise
            return False
        return sentinel_sys in text and sentinel_user in text

    def render(self, prompt: ChatPrompt) -> str:
        """The full chat-templated text of a prompt, generation prompt included.

        Templates without a system role get the system text prepended to the user
        turn, separated by a blank line (spec §2.1).
        """
        if self.system_role:
            messages = [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ]
        else:
            messages = [{"role": "user", "content": f"{prompt.system}\n\n{prompt.user}"}]
        return self._apply_template(messages)

    def tokenize(self, text: str) -> list[int]:
        """Tokenise rendered text, parsing special tokens and never adding a second BOS."""
        add_bos = bool(self._model.add_bos_token()) and not (
            self.bos_text and text.startswith(self.bos_text)
        )
        return self._model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def decision_tokens(self, text: str, tokens: Sequence[int] | None = None) -> tuple[int, int]:
        """Ids of ``A`` and ``B`` as continuations of `text` (spec §2.4).

        Tokenise F and F+"A"; the id is the first token of F+"A" that differs from F's
        tokens. Cached per prompt ending (the chat template's generation header).
        """
        key = text[-48:]
        if key in self._decision_cache:
            return self._decision_cache[key]
        base = list(tokens) if tokens is not None else self.tokenize(text)
        ids = []
        for letter in ("A", "B"):
            extended = self.tokenize(text + letter)
            pos = common_prefix_len(base, extended)
            if pos < len(base) or pos >= len(extended):
                raise DiscaError(
                    f"cannot resolve the decision token {letter!r}: it merges into the prompt's "
                    "last token under this template"
                )
            ids.append(int(extended[pos]))
        if ids[0] == ids[1]:
            raise DiscaError("decision tokens A and B resolve to the same id")
        self._decision_cache[key] = (ids[0], ids[1])
        return ids[0], ids[1]

    def prefix_tokens(self, system: str) -> tuple[int, ...]:
        """Tokens of the rendered system prefix: what every prompt with this system text shares.

        Found template-agnostically: render the system text with two sentinel user turns,
        tokenise both and keep their common start. A prompt's pinned prefix is the part
        of this that its own tokens start with (tokens can merge across the boundary).
        """
        cached = self._prefix_cache.get(system)
        if cached is None:
            one, two = (self.tokenize(self.render(ChatPrompt(system, u))) for u in _SENTINEL_USERS)
            cached = self._prefix_cache[system] = tuple(one[: common_prefix_len(one, two)])
        return cached

    def prefix_len(self, system: str) -> int:
        """Tokens of the rendered system prefix of `system` (`prefix_tokens`)."""
        return len(self.prefix_tokens(system))

    def pinned_len(self, prompt: ChatPrompt, tokens: Sequence[int]) -> int:
        """Length of a prompt's pinned prefix: its system prefix, never its last token."""
        return min(common_prefix_len(self.prefix_tokens(prompt.system), tokens), len(tokens) - 1)
