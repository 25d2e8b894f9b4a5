"""The evaluation worker: a model loaded once, turning work items into run records.

A MultiTP run is a list of `WorkItem` s, (country, a chunk of pool positions). A `Worker`
opens the model once, its context sized for the run's prompts before any work, and
turns a work item into run records: the engine's logits for the chunk's 10 prompts per
scenario, then every method from them (`record_chunk`). `executor` hosts workers in
this process, in worker processes or in Ray actors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import pipeline
from ..content import variants
from ..engine.options import EngineOptions
from ..errors import DiscaError
from ..maths import core
from ..maths.methods import Method, compute_methods, method_suite, record_fields
from ..models.open import open_engine
from .baselines import BaselineRunner

__all__ = ["WorkSpec", "WorkItem", "Worker", "evaluate_each", "record_chunk"]


@dataclass(frozen=True)
class WorkSpec:
    """Everything a worker needs to turn work items into records (picklable, no model).

    Attributes:
        engine: the model (registry name or .gguf path, resolved and pulled by each
            worker) and engine options of every worker.
        model_sha256: the driver's model hash; a worker with another file refuses.
        variant, overrides: the method suite (`methods.method_suite`).
        seed: IS seed; data_seed: pool and opener seed.
        pool: keyword arguments of `variants.pool` besides the seed.
        panel: keyword arguments of `variants.panel_for` besides the country.
        lang: "native" or "en" (`pipeline.panel_prompts`).
        anchor_text: wording of a utilitarian anchor persona (`pipeline.panel_prompts`).
        countries, limit: the run's countries and pool limit; a worker that loads its own
            model sizes its context for them before any work (native prompts can be
            several times longer than English ones).
        baselines: the baseline labels whose extra prompts each chunk also evaluates
            (`baselines.BaselineRunner`).
    """

    engine: EngineOptions = EngineOptions(prefix_cache=True)
    model_sha256: str | None = None
    variant: str = "paper"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 42
    data_seed: int = 42
    pool: Mapping[str, Any] = field(default_factory=dict)
    panel: Mapping[str, Any] = field(default_factory=dict)
    lang: str = "en"
    anchor_text: str = "fixed"
    countries: tuple[str, ...] = ()
    limit: int | None = None
    baselines: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkItem:
    """One chunk of one country: pool positions, evaluated by one worker, written together."""

    country: str
    positions: tuple[int, ...]


def record_chunk(
    iso3: str,
    items: Sequence[tuple[int, Any]],
    panel_logits: Any,
    outputs: Mapping[str, Mapping[str, np.ndarray]],
    suite: Mapping[str, Method],
    language: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready record per scenario of a chunk (`Worker.process`).

    Args:
        iso3: the country.
        items: (pool position, vignette) per scenario.
        panel_logits: `pipeline.PanelLogits` of the chunk.
        outputs: `methods.compute_methods` of the chunk.
        suite: the methods.
        language: the prompts' languages (`Rendering.to_dict`), stored as ``lang``.
    """
    lang = {k: v for k, v in (language or {}).items() if k != "note"} or None
    out = []
    for s, (position, vignette) in enumerate(items):
        texts = panel_logits.texts[s]
        record = {
            "country": iso3,
            "lang": lang,
            "scenario_id": vignette.scenario_id,
            "vignette_index": vignette.vignette_index,
            "pool_position": position,
            "category": vignette.category,
            "preferred_right": bool(vignette.preferred_right),
            "unordered_key": vignette.unordered_key,
            "has_swap": bool(panel_logits.has_swap[s]),
            "logits": panel_logits.logits[s].tolist(),
            "token_ids": panel_logits.token_ids[s].tolist(),
            "prompt_sha256": [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts],
            **record_fields(outputs, suite, s),
        }
        out.append(record)
    return out


def evaluate_each(
    engine: Any,
    systems: Sequence[str],
    dilemmas: Sequence[pipeline.Dilemma],
    on_scenario: Callable[[int], None] | None = None,
) -> pipeline.PanelLogits:
    """`pipeline.evaluate_panel`, one dilemma per engine call; ``on_scenario(k)`` after the k-th.

    The engine's logits do not depend on which prompts share a call (bit-identical at
    the default CPU settings), and it groups a call's prompts by cells anyway, so this
    costs no measurable time against one call for all.

    Returns:
        PanelLogits with one row per dilemma, in order.
    """
    if not dilemmas:
        return pipeline.evaluate_panel(engine, systems, [])
    parts = []
    for k, dilemma in enumerate(dilemmas, start=1):
        parts.append(pipeline.evaluate_panel(engine, systems, [dilemma]))
        if on_scenario is not None:
            on_scenario(k)
    return pipeline.PanelLogits(
        logits=np.concatenate([p.logits for p in parts]),
        has_swap=np.concatenate([p.has_swap for p in parts]),
        token_ids=np.concatenate([p.token_ids for p in parts]),
        texts=[texts for p in parts for texts in p.texts],
        n_tokens=[n for p in parts for n in (p.n_tokens or [[]])],
    )


class Worker:
    """A loaded model plus the run's pool, panels and methods; `process` makes records.

    Args:
        spec: the run's `WorkSpec`.
        engine: an already loaded engine (inline backend only); default: opened from
            ``spec.engine`` (pulled on first use), its context sized for the run's
            prompts (`context_demand`).
        model_info: `models.ModelInfo.as_dict()` of ``engine``.

    Raises:
        DiscaError: the model cannot be loaded, or its sha256 is not the driver's.
        models.open.ContextTooSmallError: ``spec.engine.n_ctx`` is too small for the run.
    """

    def __init__(self, spec: WorkSpec, engine: Any = None, model_info: Any = None) -> None:
        self.spec = spec
        self.suite = method_suite(spec.variant, spec.overrides)
        self.k_half = next(iter(self.suite.values())).params.k_half
        self.pool = variants.pool(spec.data_seed, **dict(spec.pool))
        self.ids = variants.record_ids(self.pool)
        self._prompts: dict[str, pipeline.PanelPrompts] = {}
        self.baselines = BaselineRunner(
            spec.baselines, spec.panel.get("personas_dir"), seed=spec.seed
        )
        self.own_engine = engine is None
        if engine is None:
            engine, info = open_engine(spec.engine, fit=self.context_demand())
            model_info = info.as_dict()
        self.engine = engine
        self.model_info = dict(model_info or {})
        if spec.model_sha256 and self.model_info.get("sha256") != spec.model_sha256:
            self.close()
            raise DiscaError(
                f"worker model {self.model_info.get('path')} has sha256 "
                f"{str(self.model_info.get('sha256'))[:12]}…, the run uses "
                f"{spec.model_sha256[:12]}…"
            )

    def prompts(self, iso3: str) -> pipeline.PanelPrompts:
        """The country's panel prompts in the run's language (cached per country)."""
        if iso3 not in self._prompts:
            panel = variants.panel_for(iso3, **dict(self.spec.panel))
            self._prompts[iso3] = pipeline.panel_prompts(
                panel, self.spec.lang, anchor_text=self.spec.anchor_text
            )
        return self._prompts[iso3]

    def context_demand(self) -> pipeline.ContextDemand:
        """What the run's panels need: each with the longest scenarios of its language."""
        n = len(self.pool) if self.spec.limit is None else min(self.spec.limit, len(self.pool))
        prompts = [self.prompts(iso3) for iso3 in self.spec.countries]
        demand = pipeline.context_demand(prompts, self.pool[:n], data_seed=self.spec.data_seed)
        return self.baselines.context_demand(demand, prompts)

    def process(
        self, item: WorkItem, on_scenario: Callable[[int], None] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """Evaluate one chunk: (its records in position order, engine counters spent).

        The scenarios go through the engine one at a time (`evaluate_each`), and
        ``on_scenario(k)`` is called once the k-th is done, so a display moves per
        scenario rather than per chunk.
        """
        before = self.engine.stats.as_dict()
        chunk = [(p, self.pool[p]) for p in item.positions]
        prompts = self.prompts(item.country)
        dilemmas = [prompts.vignette(v, self.spec.data_seed) for _, v in chunk]
        logits = evaluate_each(self.engine, prompts.systems, dilemmas, on_scenario)
        z = core.draws(self.spec.seed, [v.vignette_index for _, v in chunk], self.k_half)
        outputs = compute_methods(
            logits.logits,
            logits.has_swap,
            [v.category for _, v in chunk],
            np.array([v.preferred_right for _, v in chunk], dtype=bool),
            z,
            self.suite,
        )
        records = record_chunk(
            item.country, chunk, logits, outputs, self.suite, prompts.rendering.to_dict()
        )
        for record, (position, _) in zip(records, chunk, strict=True):
            record["scenario_id"] = self.ids[position]  # unique under oversampling
        if self.baselines:
            self.baselines.add_to(records, self.engine, prompts, dilemmas)
        after = self.engine.stats.as_dict()
        return records, {k: after[k] - before.get(k, 0) for k in after}

    def close(self) -> None:
        """Free the model if this worker loaded it."""
        if self.own_engine:
            self.engine.close()
