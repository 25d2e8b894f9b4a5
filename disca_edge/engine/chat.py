"""Chat template and tokens: render two-turn prompts, tokenise, find prefixes and A/B ids.

A prompt is rendered to one string (what results record) but tokenised in pieces: the
template's own markup with special-token parsing on, the system and user texts with it
off, so a ``<|im_end|>`` or ``<start_of_turn>`` typed in a dilemma or a persona text stays
the tokens of its characters and cannot end a turn or fake one. The markup is found by
rendering the template once with placeholder texts (`ChatTokens.encode`).
"""

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

#: Stand-ins for the system and user texts when the template is rendered to find its own
#: markup: private-use characters, which no template trims.
_PLACEHOLDERS = ("\ue000disca-system\ue001", "\ue000disca-user\ue001")

#: Kinds of token llama.cpp only parses out of text with special-token parsing on
#: (LLAMA_TOKEN_ATTR_UNKNOWN | LLAMA_TOKEN_ATTR_CONTROL); user-defined tokens are
#: ordinary text to it either way.
_SPECIAL_ATTRS = (1 << 0) | (1 << 3)


def _trimmings(text: str) -> tuple[str, ...]:
    """`text` as a template may pass it on: as is, or trimmed (Jinja's ``trim``)."""
    return tuple(dict.fromkeys((text, text.strip(), text.lstrip(), text.rstrip())))


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
        self._frame = self._markup_frame()
        self._markup_cache: dict[str, tuple[str | int, ...]] = {}
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

    def _messages(self, system: str, user: str) -> list[dict[str, str]]:
        if self.system_role:
            return [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return [{"role": "user", "content": f"{system}\n\n{user}"}]

    def render(self, prompt: ChatPrompt) -> str:
        """The full chat-templated text of a prompt, generation prompt included.

        Templates without a system role get the system text prepended to the user
        turn, separated by a blank line (spec §2.1).
        """
        return self._apply_template(self._messages(prompt.system, prompt.user))

    def _adds_bos(self, text: str) -> bool:
        """Whether tokenising `text` adds the BOS (the model wants one; the text has none)."""
        return bool(self._model.add_bos_token()) and not (
            self.bos_text and text.startswith(self.bos_text)
        )

    def tokenize(self, text: str) -> list[int]:
        """Tokenise template text, parsing special tokens and never adding a second BOS.

        Only for text whose special-token markup is meant (the template's own); a
        prompt's tokens, with its texts kept literal, come from `encode`.
        """
        add_bos = self._adds_bos(text)
        return self._model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def tokenize_raw(self, text: str) -> list[int]:
        """Tokenise text as it stands: special-token markup parsed, no BOS added.

        For a prompt sent as one string rather than a chat (`generation_suffix`).
        """
        return self._model.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def generation_suffix(self) -> str:
        """The template's text after the user text: the end of the user turn, the assistant header.

        Found as the released code finds it: the chat rendered with a stand-in user text
        and the generation prompt, cut at the stand-in.
        """
        if self._frame is not None:
            return self._frame[2]
        marker = _PLACEHOLDERS[1]
        text = self._apply_template(self._messages("S", marker))
        return text.partition(marker)[2]

    def _markup_frame(self) -> tuple[str, str, str] | None:
        """The template's text before, between and after the system and user texts.

        None when the template does not pass placeholder texts through once each, in
        order (it then gets `_encode_whole`).
        """
        try:
            text = self._apply_template(self._messages(*_PLACEHOLDERS))
        except Exception:  # a template that cannot render placeholders
            return None
        before, system, rest = text.partition(_PLACEHOLDERS[0])
        between, user, after = rest.partition(_PLACEHOLDERS[1])
        markup = before + between + after
        if not (system and user) or any(p in markup for p in _PLACEHOLDERS):
            return None
        return before, between, after

    def _pieces(self, prompt: ChatPrompt, text: str) -> list[tuple[str, bool]] | None:
        """`text`, the rendering of `prompt`, as (piece, is template markup) in order.

        None when the template changes the texts other than by trimming them.
        """
        if self._frame is None:
            return None
        before, between, after = self._frame
        if len(text) < len(before) + len(after) or not (
            text.startswith(before) and text.endswith(after)
        ):
            return None
        middle = text[len(before) : len(text) - len(after)]
        for system in _trimmings(prompt.system):
            if middle.startswith(system + between):
                user = middle[len(system) + len(between) :]
                if user in _trimmings(prompt.user):
                    return [(before, True), (system, False), (between, True), (user, False),
                            (after, True)]  # fmt: skip
        return None

    def _markup_parts(self, markup: str) -> tuple[str | int, ...]:
        """Template markup as its plain-text runs and the ids of its special tokens."""
        parts = self._markup_cache.get(markup)
        if parts is None:
            out: list[str | int] = []
            cursor = 0
            for token in self._model.tokenize(markup.encode("utf-8"), add_bos=False, special=True):
                if not self._model.token_get_attr(token) & _SPECIAL_ATTRS:
                    continue
                name = self._token_text(token)
                at = markup.find(name, cursor)
                if not name or at < 0:
                    raise DiscaError(
                        f"cannot place the special token {name!r} in the chat template"
                    )
                out += [markup[cursor:at], token]
                cursor = at + len(name)
            out.append(markup[cursor:])
            parts = self._markup_cache[markup] = tuple(p for p in out if p != "")
        return parts

    def encode(self, prompt: ChatPrompt, text: str | None = None, suffix: str = "") -> list[int]:
        """Tokens of a prompt's rendering (then `suffix`), with its texts kept literal.

        The template's markup is tokenised with special-token parsing, the system and
        user texts without. Plain text on both sides of a text's edges is tokenised as
        one run, as llama.cpp tokenises the text between two special tokens, so a prompt
        whose texts hold no special-token markup gets the ids of `tokenize` on its whole
        rendering (tests/integration/test_chat_tokens.py checks the DISCA pool).

        Args:
            prompt: the chat.
            text: its rendering, when already made (`render`).
            suffix: text appended to the rendering (a decision letter).

        Raises:
            DiscaError: the template changes the texts beyond trimming and a text holds
                special-token markup (it cannot be kept literal then).
        """
        text = self.render(prompt) if text is None else text
        pieces = self._pieces(prompt, text)
        if pieces is None:
            return self._encode_whole(prompt, text + suffix)
        pieces[-1] = (pieces[-1][0] + suffix, True)
        # llama.cpp's add_special: the BOS, and the EOS if the model adds one
        special = self._adds_bos(text)
        tokens = [self._model.token_bos()] if special else []
        tokens += self._encode_pieces(pieces)
        if special and self._model.add_eos_token():
            tokens.append(self._model.token_eos())
        return tokens

    def _encode_pieces(self, pieces: Sequence[tuple[str, bool]]) -> list[int]:
        """Tokens of (text, is template markup) pieces: markup's special tokens parsed, text literal.

        Plain text on both sides of a piece's edge is tokenised as one run, as llama.cpp
        tokenises the text between two special tokens.
        """
        runs: list[str | int] = []
        for piece, markup in pieces:
            for part in self._markup_parts(piece) if markup else (piece,):
                if isinstance(part, str) and runs and isinstance(runs[-1], str):
                    runs[-1] += part
                else:
                    runs.append(part)
        tokens: list[int] = []
        for run in runs:
            if isinstance(run, int):
                tokens.append(run)
            elif run:
                tokens += self._model.tokenize(run.encode("utf-8"), add_bos=False, special=False)
        return tokens

    def query_suffix(self, user: str) -> list[int]:
        """Tokens of a user text as the end of a chat: the text, end of turn, assistant header.

        The released code's ``encode_query_suffix`` (BASELINES.md §6): no BOS, no system
        turn, no user-turn opening; the text literal, the template's markup after it with
        its special tokens.

        Raises:
            DiscaError: the chat template rewrites texts, so its markup cannot be found.
        """
        if self._frame is None:
            raise DiscaError(
                "this chat template changes the texts it is given, so the user turn's end "
                "cannot be taken from it; query suffixes need a template that keeps them"
            )
        return self._encode_pieces([(user, False), (self._frame[2], True)])

    def _encode_whole(self, prompt: ChatPrompt, text: str) -> list[int]:
        """`tokenize` on the whole text, for a template that rewrites the texts.

        Refused when a text holds special-token markup, which it would make real tokens.
        """
        for name, value in (("system", prompt.system), ("user", prompt.user)):
            raw = value.encode("utf-8")
            if self._model.tokenize(raw, add_bos=False, special=True) != self._model.tokenize(
                raw, add_bos=False, special=False
            ):
                raise DiscaError(
                    f"the {name} text holds chat control-token markup (such as <|im_end|>), "
                    "and this model's chat template rewrites texts, so it cannot be kept as "
                    "plain text; remove the markup"
                )
        return self.tokenize(text)

    def decision_tokens(
        self, text: str, tokens: Sequence[int] | None = None, prompt: ChatPrompt | None = None,
        *, raw: bool = False,
    ) -> tuple[int, int]:  # fmt: skip
        """Ids of ``A`` and ``B`` as continuations of `text` (spec §2.4).

        Tokenise F and F+"A"; the id is the first token of F+"A" that differs from F's
        tokens. Cached per prompt ending (the chat template's generation header). With
        `prompt` (whose rendering `text` is), F is tokenised by `encode`; with ``raw``, by
        `tokenize_raw`.
        """
        key = ("raw:" if raw else "") + text[-48:]
        if key in self._decision_cache:
            return self._decision_cache[key]
        tokenize = self.tokenize_raw if raw else self.tokenize
        if tokens is not None:
            base = list(tokens)
        else:
            base = tokenize(text) if prompt is None else self.encode(prompt, text)
        ids = []
        for letter in ("A", "B"):
            if prompt is None:
                extended = tokenize(text + letter)
            else:
                extended = self.encode(prompt, text, suffix=letter)
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
            one, two = (self.encode(ChatPrompt(system, u)) for u in _SENTINEL_USERS)
            cached = self._prefix_cache[system] = tuple(one[: common_prefix_len(one, two)])
        return cached

    def prefix_len(self, system: str) -> int:
        """Tokens of the rendered system prefix of `system` (`prefix_tokens`)."""
        return len(self.prefix_tokens(system))

    def pinned_len(self, prompt: ChatPrompt, tokens: Sequence[int]) -> int:
        """Length of a prompt's pinned prefix: its system prefix, never its last token."""
        return min(common_prefix_len(self.prefix_tokens(prompt.system), tokens), len(tokens) - 1)
