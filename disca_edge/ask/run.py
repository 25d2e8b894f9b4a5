"""The ask runner: dilemmas x countries through one loaded model, one `Outcome` each.

`answer_countries` runs the DISCA panel (base prompt + a country's four personas, both
label orders: 10 evaluations per dilemma) through the shared-prefix engine, up to `chunk`
dilemmas per engine call, and turns the logits into `result.AskResult`s. Input errors
and dilemmas that fail come out as one-line error outcomes in their place, and the batch
goes on. The rich report is `views.explain`; the CLI is ``disca ask``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from .. import pipeline
from ..content import i18n, personas
from ..content.language import Language
from ..content.personas import Panel
from ..content.scenarios import disca_pool
from ..engine import CONTEXT_RESERVE, ChatPrompt, Engine
from ..errors import DiscaError
from ..maths import core
from ..models.open import ModelInfo
from .inputs import CHUNK, AskInput, AskInputError
from .result import AskResult, answers_from_logits, apply_prior

__all__ = [
    "LONG_DILEMMA_TOKENS",
    "DilemmaTooLongError",
    "Outcome",
    "answer",
    "answer_countries",
    "answer_many",
    "ask_context",
    "prompt_language",
]

#: User turns (frame included) longer than this get a warning: the ask slows down
#: super-linearly (measured in benchmarks/ask_length.py; README, "Long dilemmas").
LONG_DILEMMA_TOKENS = 300

log = logging.getLogger(__name__)


class DilemmaTooLongError(AskInputError):
    """A dilemma whose prompts do not fit the model's context window."""


@dataclass(frozen=True)
class Outcome:
    """What became of one input: its result, or a one-line error.

    Attributes:
        index: noise index i (line - 1 for an input line; -1 when unknown).
        line: input line number, or None.
        result: the answer, or None on error.
        error: a one-line message, or None.
        exception: the error as raised (a `DiscaError`), or None.
        elapsed_s: wall time of the engine call that answered it, per dilemma.
        country: the ISO3 code it was answered for (None for an input error).
    """

    index: int
    line: int | None
    result: AskResult | None = None
    error: str | None = None
    exception: DiscaError | None = field(default=None, compare=False, repr=False)
    elapsed_s: float = 0.0
    country: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the dilemma was answered."""
        return self.result is not None


@dataclass
class _Run:
    """Per-country context: the engine, panel, params and what every result records."""

    engine: Engine
    model_info: ModelInfo
    panel: Panel
    params: core.DiscaParams
    seed: int
    systems: list[str] = field(default_factory=list)
    tag: bool = False  # name the country in error messages (several countries asked)
    prompts: pipeline.PanelPrompts | None = None  # the panel in the ask's language

    def prefix_len(self, system: str) -> int:
        """Tokens of the rendered system prefix (before the user content)."""
        return self.engine.prefix_len(system)

    def check_length(self, dilemma: pipeline.Dilemma) -> int:
        """Raise `DilemmaTooLongError` when the dilemma cannot fit beside the system prompts.

        Returns the longest user turn in tokens (frame and template tail included).

        The engine keeps the five system-prompt prefixes resident while it decodes a
        prompt's remainder, so the user turn (frame + scenario + the template's tail) may
        use the context minus those prefixes and a small reserve.
        """
        engine = self.engine
        resident = sum(self.prefix_len(s) for s in self.systems)
        longest_user = 0
        longest_prompt = 0
        for user in (dilemma.user_orig, dilemma.user_swap):
            if user is None:
                continue
            for system in self.systems:
                n = len(engine.tokenize(engine.render(ChatPrompt(system, user))))
                longest_prompt = max(longest_prompt, n)
                longest_user = max(longest_user, n - self.prefix_len(system))
        limit = engine.n_ctx - CONTEXT_RESERVE - resident
        if longest_user > limit:
            raise DilemmaTooLongError(
                f"the dilemma is too long: its user turn is {longest_user} tokens (frame "
                f"included; longest prompt {longest_prompt} tokens) and the limit is {limit} "
                f"tokens (the model's {engine.n_ctx}-token context minus {resident + CONTEXT_RESERVE} for "
                "the base and persona system prompts held in the cache)"
            )
        return longest_user


class _Todo(NamedTuple):
    """A dilemma waiting for its engine call, for one country's run."""

    run: _Run
    item: AskInput
    dilemma: pipeline.Dilemma


def _dilemma(item: AskInput, language: Language) -> pipeline.Dilemma:
    return pipeline.Dilemma.from_scenario(
        item.scenario(language), category=item.category, index=item.index, language=language
    )


def _evaluate(run: _Run, chunk: list[tuple[AskInput, pipeline.Dilemma]]) -> list[Outcome]:
    """Answer a chunk in one engine call; on an engine error, retry one by one."""
    t0 = time.perf_counter()
    try:
        logits = pipeline.evaluate_panel(run.engine, run.systems, [d for _, d in chunk])
        n_tokens = logits.n_tokens  # as evaluated: typed control tokens are text there
        results = answers_from_logits(
            [item for item, _ in chunk],
            logits,
            model_info=run.model_info,
            panel=run.panel,
            params=run.params,
            seed=run.seed,
            n_tokens=n_tokens,
            prompts=run.prompts,
        )
    except Exception as exc:  # one bad dilemma must not end the batch
        if len(chunk) == 1:
            item = chunk[0][0]
            return [_failure(item, exc, run.panel.iso3, run.tag)]
        return [o for pair in chunk for o in _evaluate(run, [pair])]
    per = (time.perf_counter() - t0) / len(chunk)
    return [
        Outcome(item.index, item.line, result=r, elapsed_s=per, country=run.panel.iso3)
        for (item, _), r in zip(chunk, results, strict=True)
    ]


def ask_context(
    prompts: Sequence[pipeline.PanelPrompts], reserve: int = 512
) -> pipeline.ContextDemand:
    """What an ask's panels need of the context (`models.open_engine`'s ``fit``).

    Native prompts can be several times longer than English ones on an English-centred
    tokenizer (five Burmese system prompts are ~8,000 SmolLM2 tokens). The need is the
    largest panel's resident system prefixes plus a trolley user turn, and `reserve`
    tokens for longer dilemmas when the context is sized up; a dilemma that still does
    not fit fails alone, with one line.
    """
    return pipeline.context_demand(prompts, disca_pool()[:1], reserve=reserve)


def _failure(
    item: AskInput, exc: Exception, country: str | None = None, tag: bool = False
) -> Outcome:
    """An error outcome; an unexpected exception keeps its type name in the one line.

    With `tag` (several countries asked) the message names the country.
    """
    if not isinstance(exc, DiscaError):
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        exc = DiscaError(f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__)
    message = f"{country}: {exc}" if tag and country else str(exc)
    message = message if item.line is None else f"line {item.line}: {message}"
    return Outcome(item.index, item.line, error=message, exception=exc, country=country)


def answer_many(
    engine: Engine,
    model_info: ModelInfo,
    panel: Panel,
    items: Iterable[AskInput | AskInputError],
    params: core.DiscaParams,
    *,
    seed: int = 42,
    chunk: int = CHUNK,
    lang: str = "en",
) -> Iterator[Outcome]:
    """Answer dilemmas for one country with one loaded model, in input order.

    The one-country case of `answer_countries` (see there); an input line's own
    ``country`` replaces `panel` for that line.

    Yields:
        Outcome per item, in input order.
    """
    yield from answer_countries(
        engine, model_info, [panel], items, params, seed=seed, chunk=chunk, lang=lang
    )


def prompt_language(panel: Panel, lang: str = "en") -> str:
    """The language a country's dilemma text is rendered in under ``--lang``.

    ``en``: English for every country. ``native``: the country's frame language (English
    for persona-only languages); countries of one language share one rendering.
    """
    rendering = i18n.rendering(
        panel.iso3, lang, language_code=panel.language, english_name=panel.country_name
    )
    return rendering.frame_language


def answer_countries(
    engine: Engine,
    model_info: ModelInfo,
    panels: Sequence[Panel],
    items: Iterable[AskInput | AskInputError],
    params: core.DiscaParams,
    *,
    seed: int = 42,
    chunk: int = CHUNK,
    load_panel: Callable[[str], Panel] | None = None,
    lang: str = "en",
) -> Iterator[Outcome]:
    """Answer every dilemma for every country with one loaded model.

    Each dilemma is rendered once per prompt language (`prompt_language`) and shared by
    the countries of that language; each country brings its own persona panel. Up to
    `chunk` dilemmas are evaluated per country in one engine call, exactly as a
    one-country ask of the same input would, so each (dilemma, country) result equals
    the one-country result. Input errors (`AskInputError` items) come out once in their
    place; a dilemma too long for one country's prompts fails for that country only.
    With the country prior on, every dilemma is answered before any is yielded and the
    prior runs per country over that country's dilemmas in input order (spec §5.2).

    Args:
        engine: a loaded Engine.
        model_info: what results record about the model (`models.open_engine`).
        panels: the countries of the ask (an input line's ``country`` replaces them).
        items: inputs and input errors, in order.
        params: DISCA parameters (variant, switches).
        seed: IS seed; dilemma i uses ``default_rng([seed, i])`` in every country.
        chunk: dilemmas per engine call (>= 1).
        load_panel: loads the panel of an input line's ``country`` (default: the shipped
            panels, `personas.load_panel`).
        lang: "en" (English prompts) or "native" (each country's language, I18N.md).

    Yields:
        Outcome per (item, country): items in input order, each item's countries in
        `panels` order.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    grid = _Grid(engine, model_info, params, int(seed), load_panel or personas.load_panel, lang)
    stream = grid.stream(list(panels), items, chunk)
    if params.prior_enabled:
        yield from _with_prior(list(stream), params)
    else:
        yield from stream


def _with_prior(outcomes: list[Outcome], params: core.DiscaParams) -> list[Outcome]:
    """The outcomes with the country prior applied per country, in input order."""
    outcomes = list(outcomes)
    for iso3 in dict.fromkeys(o.country for o in outcomes if o.result is not None):
        answered = [(k, o.result) for k, o in enumerate(outcomes)
                    if o.result is not None and o.country == iso3]  # fmt: skip
        results = apply_prior([result for _, result in answered], params)
        for (k, _), result in zip(answered, results, strict=True):
            outcomes[k] = dataclasses.replace(outcomes[k], result=result)
    return outcomes


@dataclass
class _Grid:
    """Dilemmas x countries: one `_Run` per country, dilemmas rendered once per language."""

    engine: Engine
    model_info: ModelInfo
    params: core.DiscaParams
    seed: int
    load_panel: Callable[[str], Panel]
    lang: str = "en"
    runs: dict[str, _Run] = field(default_factory=dict)

    def run(self, panel: Panel, tag: bool) -> _Run:
        """The run of `panel`'s country, made on first use."""
        if panel.iso3 not in self.runs:
            prompts = pipeline.panel_prompts(panel, self.lang)
            self.runs[panel.iso3] = _Run(self.engine, self.model_info, panel, self.params,
                                         self.seed, prompts.systems, tag, prompts)  # fmt: skip
        return self.runs[panel.iso3]

    def panels_of(self, item: AskInput, panels: list[Panel]) -> list[Panel]:
        """The countries to answer `item` for: its own, else the ask's."""
        if item.country is not None:
            return [self.load_panel(item.country)]
        if not panels:
            raise AskInputError('no country: give --country or a "country" field on the line')
        return panels

    def stream(
        self, panels: list[Panel], items: Iterable[AskInput | AskInputError], chunk: int
    ) -> Iterator[Outcome]:
        """Outcomes in input order; an engine call once `chunk` items have work waiting."""
        pending: list[list[Outcome | _Todo]] = []  # per item, one slot per country
        waiting = 0  # items in `pending` with a dilemma to evaluate
        for item in items:
            slots = self.slots(item, panels)
            pending.append(slots)
            waiting += any(isinstance(slot, _Todo) for slot in slots)
            if waiting >= chunk:
                yield from _flush(pending)
                pending, waiting = [], 0
        yield from _flush(pending)

    def slots(self, item: AskInput | AskInputError, panels: list[Panel]) -> list[Outcome | _Todo]:
        """Per country of `item`: its outcome if already decided, else the dilemma to evaluate."""
        if isinstance(item, AskInputError):
            index = -1 if item.line is None else item.line - 1
            return [Outcome(index, item.line, error=str(item), exception=item)]
        try:
            wanted = self.panels_of(item, panels)
        except DiscaError as exc:
            return [_failure(item, exc)]
        rendered: dict[str, pipeline.Dilemma] = {}
        slots: list[Outcome | _Todo] = []
        for panel in wanted:
            run = self.run(panel, tag=len(panels) > 1)
            language = prompt_language(panel, self.lang)
            try:
                if language not in rendered:
                    rendered[language] = _dilemma(item, i18n.language(language))
                    _warn_if_long(item, run.check_length(rendered[language]))
                else:
                    run.check_length(rendered[language])
            except Exception as exc:  # reported on its line; the batch goes on
                slots.append(_failure(item, exc, panel.iso3, run.tag))
                continue
            slots.append(_Todo(run, item, rendered[language]))
        return slots


def _warn_if_long(item: AskInput, n_user: int) -> None:
    """Log a warning (once per dilemma and language) when the user turn is long."""
    if n_user > LONG_DILEMMA_TOKENS:
        where = "" if item.line is None else f"line {item.line}: "
        log.warning(
            "%sthe dilemma is long (a %d-token user turn, over %d): its 10 evaluations "
            "each decode it and time grows about 4x per doubling (README: long dilemmas)",
            where, n_user, LONG_DILEMMA_TOKENS,
        )  # fmt: skip


def _flush(pending: list[list[Outcome | _Todo]]) -> list[Outcome]:
    """Evaluate each country's waiting dilemmas in one call; every outcome in input order."""
    by_country: dict[str, list[_Todo]] = {}
    for slots in pending:
        for slot in slots:
            if isinstance(slot, _Todo):
                by_country.setdefault(slot.run.panel.iso3, []).append(slot)
    done: dict[int, Outcome] = {}
    for todo in by_country.values():
        outcomes = _evaluate(todo[0].run, [(t.item, t.dilemma) for t in todo])
        done.update((id(t), outcome) for t, outcome in zip(todo, outcomes, strict=True))
    return [
        done[id(slot)] if isinstance(slot, _Todo) else slot for slots in pending for slot in slots
    ]


def answer(
    engine: Engine,
    model_info: ModelInfo,
    panel: Panel,
    item: AskInput,
    params: core.DiscaParams,
    *,
    seed: int = 42,
    lang: str = "en",
) -> AskResult:
    """Answer one dilemma (``lang``: "en" or "native").

    Raises:
        DiscaError: the dilemma does not fit the context, or the engine failed.
    """
    (outcome,) = list(answer_many(engine, model_info, panel, [item], params, seed=seed, lang=lang))
    if outcome.exception is not None:
        raise outcome.exception
    assert outcome.result is not None  # no exception: answered
    return outcome.result
