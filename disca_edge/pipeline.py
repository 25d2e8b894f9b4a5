"""The panel pipeline: dilemmas × (base + personas) × option orders → logits → DISCA outputs.

This is where the engine, the persona panel, the scenario text and the NumPy core meet.
`evaluate_panel` runs the model (10 prompt evaluations per dilemma, or 5 when swapping the
labels changes nothing). Everything after that (vanilla read-outs, both DISCA variants,
ablations) is post-processing of those logits with `core`, with no further model calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .content import i18n
from .content.language import Language, Rendering
from .content.personas import COHORTS, Panel
from .content.scenarios import BASE_SYSTEM_PROMPT, Vignette, disca_user_prompts, user_turns
from .content.variants import UTILITARIAN
from .engine import CONTEXT_RESERVE, ChatPrompt, Engine
from .errors import DiscaError

__all__ = [
    "AGENTS",
    "ORDERS",
    "ContextDemand",
    "Dilemma",
    "PanelLogits",
    "PanelPrompts",
    "Tokenizer",
    "context_demand",
    "context_needed",
    "evaluate_panel",
    "panel_prompts",
    "panel_system_prompts",
]

#: The panel's agents, in the order of every J axis: the base prompt, then the personas.
AGENTS: tuple[str, ...] = ("base", *COHORTS)
ORDERS = ("orig", "swap")


@dataclass(frozen=True)
class Dilemma:
    """One two-option question, already rendered as the user turn in both label orders.

    Attributes:
        user_orig: user turn with the original labels (A = left option).
        user_swap: user turn with labels swapped, or None when the swap changes nothing.
        category: canonical MultiTP category (selects T_cat) or None (fallback 3.0).
        index: noise index i for `core.draws` (vignette_index, or input position).
    """

    user_orig: str
    user_swap: str | None
    category: str | None = None
    index: int = 0

    @classmethod
    def from_scenario(
        cls,
        scenario: str,
        *,
        category: str | None = None,
        index: int = 0,
        language: Language | None = None,
    ) -> Dilemma:
        """Build both orders from a scenario text (spec §2.2-§2.3 frame and label swap).

        The frame and labels are the `language`'s (default English); the labels are
        swapped in the scenario text only (I18N.md §3).
        """
        user_orig, user_swap = user_turns(scenario, language.code if language else "en")
        return cls(user_orig, user_swap, category=category, index=index)

    @classmethod
    def from_vignette(cls, vignette: Vignette, data_seed: int = 42, lang: str = "en") -> Dilemma:
        """A MultiTP vignette in the DISCA frame (`scenarios.disca_user_prompts`)."""
        user_orig, user_swap = disca_user_prompts(vignette, data_seed, lang)
        return cls(user_orig, user_swap, category=vignette.category, index=vignette.vignette_index)


def panel_system_prompts(persona_texts: Sequence[str], base: str = BASE_SYSTEM_PROMPT) -> list[str]:
    """System prompts in AGENTS order: the neutral base prompt, then the personas."""
    return [base, *persona_texts]


@dataclass(frozen=True)
class PanelPrompts:
    """One country's prompts in one language setting (I18N.md).

    Attributes:
        iso3: the country.
        rendering: which language the personas and the frame are in (recorded with results).
        frame: the language of the base prompt, frame, scenario text and labels.
        persona_texts: the four persona system prompts, in panel order.
        systems: base prompt then the personas (AGENTS order).
    """

    iso3: str
    rendering: Rendering
    frame: Language
    persona_texts: tuple[str, ...]

    @property
    def systems(self) -> list[str]:
        """System prompts in AGENTS order."""
        return panel_system_prompts(self.persona_texts, self.frame.base_assistant)

    def vignette(self, vignette: Vignette, data_seed: int = 42) -> Dilemma:
        """The DISCA-pool dilemma of a MultiTP vignette in this language."""
        return Dilemma.from_vignette(vignette, data_seed, self.frame.code)

    def systems_sha256(self) -> str:
        """Hash of the five system prompts (goes into run fingerprints)."""
        blob = "\x00".join(self.systems).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


def panel_prompts(
    panel: Panel,
    lang: str = "native",
    *,
    descriptor_order: str = "fixed",
    anchor_text: str = "fixed",
) -> PanelPrompts:
    """Render a panel's prompts under ``--lang native|en``.

    ``en`` gives today's English prompts (the persona text equals `Panel.texts`). ``native``
    renders the personas in the country's language with its native country name; full
    languages also get their own base prompt and frame, persona-only languages keep the
    English ones (flagged in ``rendering``). A utilitarian anchor persona (``--fourth
    utilitarian``) is the language table's ``utilitarian_persona`` of the personas'
    language.

    Args:
        panel: the country's persona panel.
        lang: "native" or "en".
        descriptor_order: "fixed" (default) or "released" (see `Language.persona_text`).
        anchor_text: "fixed" (default) or "released" (see `Language.utilitarian_text`).
    """
    rendering = i18n.rendering(
        panel.iso3, lang, language_code=panel.language, english_name=panel.country_name
    )
    persona_language = i18n.language(rendering.persona_language)
    texts = tuple(
        persona_language.utilitarian_text(rendering.country_name, anchor_text=anchor_text)
        if p.cohort == UTILITARIAN
        else persona_language.persona_text(
            p.cohort, p.levels, rendering.country_name, descriptor_order=descriptor_order
        )
        for p in panel.personas
    )
    return PanelPrompts(panel.iso3, rendering, i18n.language(rendering.frame_language), texts)


@dataclass(frozen=True)
class PanelLogits:
    """Raw decision-token logits of a panel over S dilemmas.

    Attributes:
        logits (ndarray[S, 2, J, 2]): [order (orig, swap), agent (AGENTS), token (A, B)];
            the swap slice repeats orig where `has_swap` is False.
        has_swap (ndarray[S] of bool): whether the swapped order was evaluated.
        token_ids (ndarray[S, 2, J, 2]): the resolved A/B ids per evaluation.
        texts (list[list[str]]): per dilemma, the exact rendered prompts in
            (order, agent) row-major order (J or 2J entries).
        n_tokens (list[list[int]] | None): per dilemma, the length in tokens of each of
            those prompts as the engine evaluated it (None where not known).
    """

    logits: np.ndarray
    has_swap: np.ndarray
    token_ids: np.ndarray
    texts: list[list[str]]
    n_tokens: list[list[int]] | None = None


def evaluate_panel(
    engine: Engine, system_prompts: Sequence[str], dilemmas: Sequence[Dilemma]
) -> PanelLogits:
    """Evaluate every (order, agent) prompt of every dilemma through the shared-prefix engine.

    Args:
        engine: a loaded Engine.
        system_prompts: J system texts, base first (see `panel_system_prompts`).
        dilemmas: S dilemmas.

    Returns:
        PanelLogits with S rows.

    Raises:
        DiscaError: the model returned a non-finite logit (a damaged or incompatible GGUF).
    """
    n_agents = len(system_prompts)
    prompts: list[ChatPrompt] = []
    slots: list[tuple[int, int, int]] = []
    for s, dilemma in enumerate(dilemmas):
        users = [dilemma.user_orig] + ([dilemma.user_swap] if dilemma.user_swap else [])
        for o, user in enumerate(users):
            for j, system in enumerate(system_prompts):
                prompts.append(ChatPrompt(system=system, user=user))
                slots.append((s, o, j))
    result = engine.logits_ab(prompts)
    if not (np.isfinite(result.logit_a).all() and np.isfinite(result.logit_b).all()):
        raise DiscaError(
            f"{getattr(engine, 'model_path', 'the model')}: the model returned non-finite "
            "logits (a damaged or incompatible GGUF; for a registry model run "
            "`disca models pull NAME --force`)"
        )
    n = len(dilemmas)
    logits = np.full((n, 2, n_agents, 2), np.nan)
    ids = np.zeros((n, 2, n_agents, 2), dtype=np.int64)
    texts: list[list[str]] = [[] for _ in range(n)]
    n_tokens: list[list[int]] = [[] for _ in range(n)]
    for k, (s, o, j) in enumerate(slots):
        logits[s, o, j] = result.logit_a[k], result.logit_b[k]
        ids[s, o, j] = result.token_a[k], result.token_b[k]
        texts[s].append(result.texts[k])
        n_tokens[s].append(int(result.n_tokens[k]))
    has_swap = np.array([d.user_swap is not None for d in dilemmas], dtype=bool)
    logits[~has_swap, 1] = logits[~has_swap, 0]
    ids[~has_swap, 1] = ids[~has_swap, 0]
    return PanelLogits(logits=logits, has_swap=has_swap, token_ids=ids, texts=texts,
                       n_tokens=n_tokens)  # fmt: skip


class Tokenizer(Protocol):
    """What context sizing needs of a model: its chat template and tokenizer.

    An `Engine` is one, and so is its `engine.ChatTokens` before the context exists.
    """

    def render(self, prompt: ChatPrompt) -> str:
        """The full chat-templated text of a prompt."""
        ...

    def tokenize(self, text: str) -> list[int]:
        """Tokens of rendered text."""
        ...

    def prefix_len(self, system: str) -> int:
        """Tokens of the rendered system prefix of `system`."""
        ...


def context_needed(tokenizer: Tokenizer, systems: Sequence[str], users: Sequence[str]) -> int:
    """KV cells one panel needs: its resident system prefixes plus the longest user turn.

    The engine keeps every system prompt of the panel pinned while it decodes a prompt's
    remainder, so a run fits when this many cells fit the context (native prompts can be
    several times longer than English ones on English-centred tokenizers).

    Args:
        tokenizer: a loaded Engine, or its `engine.ChatTokens`.
        systems: the J system prompts.
        users: candidate user turns; pass the longest few (by characters) of a run.

    Returns:
        sum of the J prefix lengths + the longest user suffix + the engine's reserve.
    """
    prefixes = {system: tokenizer.prefix_len(system) for system in systems}
    longest = 0
    for user in users:
        for system in systems[:1]:  # the suffix does not depend on the system text
            n = len(tokenizer.tokenize(tokenizer.render(ChatPrompt(system, user))))
            longest = max(longest, n - prefixes[system])
    return sum(prefixes.values()) + longest + CONTEXT_RESERVE


@dataclass(frozen=True)
class ContextDemand:
    """The prompts a run will send, to size the context once, before it is made.

    Attributes:
        panels: per panel, (its J system prompts, the longest few user turns it will get).
        reserve: tokens added on top when the context is sized up, for user turns longer
            than those (an ask's own dilemmas).
    """

    panels: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    reserve: int = 0

    def tokens(self, tokenizer: Tokenizer) -> int:
        """KV cells the largest panel needs (`context_needed`), without the reserve."""
        return max((context_needed(tokenizer, s, u) for s, u in self.panels), default=0)


def context_demand(
    prompts: Sequence[PanelPrompts],
    vignettes: Sequence[Vignette],
    *,
    data_seed: int = 42,
    reserve: int = 0,
    longest: int = 3,
) -> ContextDemand:
    """What the panels need for these vignettes: per panel, the longest user turns.

    Each vignette is rendered once per frame language, in both label orders; the
    `longest` turns by characters stand for the rest (tokens grow with characters).

    Args:
        prompts: the panels' prompts in the run's language.
        vignettes: the pool scenarios the run asks (a sample for an ask).
        data_seed: the pool's opener seed.
        reserve: see `ContextDemand`.
        longest: user turns kept per language.
    """
    users: dict[str, tuple[str, ...]] = {}
    for panel in prompts:
        code = panel.frame.code
        if code not in users:
            turns = []
            for vignette in vignettes:
                dilemma = panel.vignette(vignette, data_seed)
                turns += [dilemma.user_orig, dilemma.user_swap or ""]
            users[code] = tuple(sorted(turns, key=len, reverse=True)[:longest])
    panels = tuple((tuple(p.systems), users[p.frame.code]) for p in prompts)
    return ContextDemand(panels, reserve)
