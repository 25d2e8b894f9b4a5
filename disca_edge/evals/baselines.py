"""Baselines at evaluation time: which ones a run asks for, and the logits of their extra prompts.

`select` turns ``--baselines all|LIST`` into variant labels (`content.baselines.BASELINES`),
refusing in one line what cannot be built: ``offset:paper`` (its data was never
released) and ``mc_dropout:released`` (llama.cpp has no dropout).

`BaselineRunner` adds a chunk's baseline logits to its run records, through the run's
engine and its shared prefixes (the base system prompt stays pinned, so the extra user
turns share it):

* ``baseline_logits``: label -> the raw (z_A, z_B) of the scenario's one extra prompt
  (orig order): the prompt baselines (user-turn prefix, a blank line, the native frame; the
  system prompt replaced for ``wvs_prompt:paper``), ``prism:suffix`` (sent as a raw string,
  `engine.Engine.logits_ab_raw`) and the steering baselines (`model_calls`); for
  ``mc_dropout:emulated``, the (z_A, z_B) of each of its passes ([pass][A, B]);
* ``baseline_info``: model-call label -> how it ran (steering layer, α, a note where the
  released layer does not exist; dropout rate and passes), or ``{"refused": why}`` where
  the model cannot run it (a graph without the tensors): the other baselines still run;
* ``baseline_corpus_logits``: static-bias label -> (z_A, z_B) of each corpus sentence in
  the frame, the base prompt as system. They are per country: computed once per worker
  and country and repeated in each of the country's records, so a run stays one
  append-only file, resumable, shardable and mergeable like any other;
* ``anchor_logits`` ([order (orig, swap)][anchor (`content.baselines.ANCHORS`)][A, B]):
  the persona-count sweep's two extra personas in both orders (the swap repeats orig
  where swapping changes nothing, as the panel's logits do);
* ``baseline_prompt_sha256``: label -> hash of the rendered per-scenario prompt.

Old runs without these keys load and score as before; scoring reads them only when the
run's config names baselines (`baseline_scores`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import pipeline
from ..content import baselines as texts
from ..content import i18n
from ..content.personas import load_panel
from ..engine import ChatPrompt
from ..errors import DiscaError
from .model_calls import ModelCalls

__all__ = [
    "BaselineRunner",
    "held_labels",
    "select",
    "select_into",
]

#: Kinds whose logits only a model run can make.
_MODEL_KINDS = ("prompt", "raw", "corpus", "anchors", "hook")


def _buildable(label: str, held: Collection[str] | None) -> bool:
    """Whether a label can be built: by a model run (``held`` None) or from these logits."""
    spec = texts.BASELINES[label]
    if spec.kind == "refused":
        return False
    if held is None or spec.kind in ("stored", "derived") or label == "persona_count":
        return all(_buildable(r, held) for r in spec.requires)
    return label in held


def _why_not(label: str, held: Collection[str] | None) -> str:
    """Why a label cannot be built here, in a few words (without the label)."""
    spec = texts.BASELINES[label]
    if spec.kind == "refused":
        return f"cannot be reproduced: {spec.reason}"
    tail = "a model run with `disca eval multitp --baselines` makes them"
    if spec.kind in _MODEL_KINDS:
        return f"needs prompts this run did not send; {tail}"
    missing = [r for r in spec.requires if r not in (held or ())]
    return f"needs the logits of {', '.join(missing)}, which this run does not hold; {tail}"


def _refusal(labels: Sequence[str], held: Collection[str] | None) -> str:
    """One line for labels none of which can be built, those with one reason together."""
    reasons: dict[str, list[str]] = {}
    for label in labels:
        reasons.setdefault(_why_not(label, held), []).append(label)
    return "; ".join(f"{', '.join(names)}: {why}" for why, names in reasons.items())


def _expand(part: str) -> list[str]:
    """The labels one ``--baselines`` item names (a label, an alias or a family)."""
    label = texts.ALIASES.get(part, part)
    if label in texts.BASELINES:
        return [label]
    family = [name for name, spec in texts.BASELINES.items() if spec.family == part]
    if not family:
        known = sorted({spec.family for spec in texts.BASELINES.values()})
        raise DiscaError(f"--baselines: unknown baseline {part!r} (known: all, {', '.join(known)})")
    return family


def check_baselines(labels: Sequence[str], fourth: str) -> None:
    """Refuse a run's baselines that `select` would not give, or that clash with ``--fourth``.

    Raises:
        DiscaError: one line saying which.
    """
    if labels and select(",".join(labels)) != tuple(labels):
        raise DiscaError("baselines must be the labels `baselines.select` gives, in its order")
    if "persona_count" in labels and fourth != "aggregate":
        raise DiscaError("--baselines persona_count extends the default panel; "
                         "drop --fourth utilitarian")  # fmt: skip


def select(text: str | None, *, held: Collection[str] | None = None) -> tuple[str, ...]:
    """The labels of ``--baselines``: ``all`` or a comma list of labels, aliases and families.

    ``all`` is every baseline that can be built; a family names its buildable variants
    (refused when it has none); a label is refused, with its reason, when it cannot be
    built. A label that reads other baselines' logits brings them along.

    Args:
        text: the option's value (None or empty: none).
        held: None for a model run; for a rescoring, the labels whose logits the source
            run holds (prompt baselines cannot be made without the model).

    Returns:
        The labels, in `content.baselines.BASELINES` order.

    Raises:
        DiscaError: an unknown name, or one that cannot be built here (one line).
    """
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    chosen: set[str] = set()
    for part in parts:
        if part == "all":
            chosen |= {label for label in texts.BASELINES if _buildable(label, held)}
            continue
        labels = _expand(part)
        ok = [label for label in labels if _buildable(label, held)]
        if not ok:
            raise DiscaError(_refusal(labels, held))
        chosen |= set(ok)
    for label in list(chosen):
        chosen |= set(texts.BASELINES[label].requires)
    return tuple(label for label in texts.BASELINES if label in chosen)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class BaselineRunner:
    """Adds the baseline logits of a run's labels to its records (one per worker).

    Args:
        labels: the run's labels (`select`).
        personas_dir: the run's persona folder (None: the shipped panels); the population
            levels of its panels feed B2, B4, the corpus, the steering pairs and
            ``wvs_prompt:paper``.
        seed: the run's seed (the MC-dropout masks).
    """

    def __init__(
        self, labels: Sequence[str], personas_dir: str | None = None, seed: int = 42
    ) -> None:
        self.labels = tuple(labels)
        kinds = {label: texts.BASELINES[label].kind for label in self.labels}
        self.chat = [label for label, kind in kinds.items() if kind == "prompt"]
        self.raw = [label for label, kind in kinds.items() if kind == "raw"]
        self.corpora = [label for label, kind in kinds.items() if kind == "corpus"]
        self.hooks = [label for label, kind in kinds.items() if kind == "hook"]
        self.anchors = "persona_count" in self.labels
        self._dir = personas_dir
        self._countries: dict[str, texts.CountryPrompts] = {}
        self._corpus_logits: dict[str, dict[str, list[list[float]]]] = {}
        self._model_calls = ModelCalls(seed)

    def __bool__(self) -> bool:
        return bool(self.chat or self.raw or self.corpora or self.hooks or self.anchors)

    def country(self, prompts: pipeline.PanelPrompts) -> texts.CountryPrompts:
        """A country's baseline texts in the run's languages (cached)."""
        if prompts.iso3 not in self._countries:
            panel = load_panel(prompts.iso3, None if self._dir is None else Path(self._dir))
            persona_language = i18n.language(prompts.rendering.persona_language)
            self._countries[prompts.iso3] = texts.country_prompts(
                panel, prompts.frame.base_assistant, persona_language
            )
        return self._countries[prompts.iso3]

    def context_demand(
        self, demand: pipeline.ContextDemand, prompts: Sequence[pipeline.PanelPrompts]
    ) -> pipeline.ContextDemand:
        """``demand`` (of `prompts`, in order) with what the baseline prompts need on top."""
        if not self:
            return demand
        extra = []
        for (_, users), panel in zip(demand.panels, prompts, strict=True):
            country = self.country(panel)
            systems = (country.base_system, *country.systems.values(), *country.anchors)
            longest = max(country.user_prefixes.values(), key=len)
            extra.append((systems, tuple(f"{longest}\n\n{u}" for u in users)))
        return pipeline.ContextDemand(demand.panels + tuple(extra), demand.reserve)

    def add_to(
        self,
        records: Sequence[dict[str, Any]],
        engine: Any,
        prompts: pipeline.PanelPrompts,
        dilemmas: Sequence[pipeline.Dilemma],
    ) -> None:
        """Evaluate the chunk's baseline prompts and put their logits into its records."""
        country = self.country(prompts)
        logits: list[dict[str, Any]] = [{} for _ in dilemmas]
        hashes: list[dict[str, str]] = [{} for _ in dilemmas]
        self._chat_and_anchors(engine, country, dilemmas, logits, hashes, records)
        if self.raw:
            suffix = engine.chat.generation_suffix()
            users = [country.raw_user(label, d.user_orig) + suffix
                     for label in self.raw for d in dilemmas]  # fmt: skip
            result = engine.logits_ab_raw(users)
            self._spread(self.raw, result, logits, hashes)
        info = self._hooked(engine, country, dilemmas, logits)
        corpus = self._corpus(engine, country, prompts.frame)
        for s, record in enumerate(records):
            if logits[s]:
                record["baseline_logits"] = logits[s]
                record["baseline_prompt_sha256"] = hashes[s]
            if corpus:
                record["baseline_corpus_logits"] = corpus
            if info:
                record["baseline_info"] = info

    def _hooked(
        self, engine: Any, country: texts.CountryPrompts, dilemmas: Sequence[pipeline.Dilemma],
        logits: list[dict[str, Any]],
    ) -> dict[str, Any]:  # fmt: skip
        """The model-call baselines' logits into ``logits``; how each ran (`model_calls`)."""
        info = {}
        for label in self.hooks:
            info[label] = self._model_calls.info(engine, label)
            if "refused" in info[label]:
                continue
            values = self._model_calls.logits(engine, label, country, dilemmas)
            for s, value in enumerate(values):
                logits[s][label] = value.tolist()
            info[label].update(self._model_calls.state_norms(label, country.iso3))
        return info

    def _chat_and_anchors(
        self, engine: Any, country: texts.CountryPrompts, dilemmas: Sequence[pipeline.Dilemma],
        logits: list[dict[str, Any]], hashes: list[dict[str, str]],
        records: Sequence[dict[str, Any]],
    ) -> None:  # fmt: skip
        """The chat prompt baselines and the persona anchors, in one engine call."""
        chats = [ChatPrompt(*country.turn(label, d.user_orig)) for label in self.chat
                 for d in dilemmas]  # fmt: skip
        if self.anchors:
            chats += [ChatPrompt(anchor, user) for d in dilemmas
                      for user in (d.user_orig, d.user_swap or d.user_orig)
                      for anchor in country.anchors]  # fmt: skip
        if not chats:
            return
        result = engine.logits_ab(chats)
        if not (np.isfinite(result.logit_a).all() and np.isfinite(result.logit_b).all()):
            raise DiscaError("the model returned non-finite logits for a baseline prompt")
        self._spread(self.chat, result, logits, hashes)
        if self.anchors:
            start, n = len(self.chat) * len(dilemmas), len(texts.ANCHORS)
            pairs = np.stack([result.logit_a[start:], result.logit_b[start:]], axis=-1)
            pairs = pairs.reshape(len(dilemmas), 2, n, 2)
            for record, values in zip(records, pairs, strict=True):
                record["anchor_logits"] = values.tolist()

    @staticmethod
    def _spread(
        labels: Sequence[str], result: Any, logits: list[dict[str, Any]],
        hashes: list[dict[str, str]],
    ) -> None:  # fmt: skip
        """Label-major results (label, dilemma) into the per-dilemma mappings."""
        n = len(logits)
        for k, label in enumerate(labels):
            for s in range(n):
                i = k * n + s
                logits[s][label] = [float(result.logit_a[i]), float(result.logit_b[i])]
                hashes[s][label] = _sha256(result.texts[i])

    def _corpus(
        self, engine: Any, country: texts.CountryPrompts, frame: i18n.Language
    ) -> dict[str, list[list[float]]]:
        """The static-bias corpora's logits of a country (evaluated once per worker)."""
        if not self.corpora:
            return {}
        if country.iso3 not in self._corpus_logits:
            chats = [ChatPrompt(country.base_system, frame.user_turn(sentence))
                     for label in self.corpora for sentence in country.corpora[label]]  # fmt: skip
            result = engine.logits_ab(chats)
            values = np.stack([result.logit_a, result.logit_b], axis=-1).tolist()
            out, at = {}, 0
            for label in self.corpora:
                k = len(country.corpora[label])
                out[label], at = values[at : at + k], at + k
            self._corpus_logits[country.iso3] = out
        return self._corpus_logits[country.iso3]


def held_labels(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The baselines a run's config names (its records hold their logits)."""
    return tuple((config.get("baselines") or {}).get("labels") or ())


def select_into(config: dict[str, Any], text: str | None) -> None:
    """Add ``--baselines`` to a rescored run's config, on top of those the source names.

    Raises:
        DiscaError: a label the stored logits cannot give (`select`).
    """
    if not text:
        return
    held = held_labels(config)
    chosen = set(held) | set(select(text, held=held))
    config["baselines"] = texts.describe(tuple(b for b in texts.BASELINES if b in chosen))
