"""Ask: one culturally aligned answer per two-option dilemma, with everything needed to redo it.

`answer_many` runs the DISCA panel (base prompt + a country's four personas, both label
orders: 10 evaluations per dilemma) through the shared-prefix engine, then debiasing,
T_cat, `core.correct` and the read-outs, and returns one stable, JSON-ready object per
dilemma (schema below). The rich report is `explain.render`; the CLI is ``disca ask``.

Input forms (`AskInput`):

* **trolley** (shorthand): two group descriptions ("a boy", "two elderly women") in the
  spec's DISCA frame (DISCA.md §2.2-2.3). The context sentence is always the language's
  first DISCA start sentence (English: `TROLLEY_CONTEXT`), so the same question gets the
  same prompt wherever it appears in an input file. With ``lang="native"`` the frame,
  labels and start are the country's language, and a group that parses as MultiTP
  characters is rendered in it ("two elderly women" -> "2 ältere Frauen"); other text is
  kept as written.
* **custom**: any dilemma text with two options, in the same frame and the language's
  lane labels (the text itself as written).

Noise: dilemma ``index`` i draws its IS noise from ``default_rng([seed, i])`` (spec §4);
a single ask has i = 0 and in an input file the dilemma on line n (1-based) has i = n - 1
(blank lines are skipped but counted), so a line's answer does not depend on the others.

Result object (``ask-result/1``; one per dilemma, every number a plain float):

* ``schema``, ``index`` (noise index i), ``input_line`` (line number or null), ``id``
  (echoed from the input line, or null);
* ``model`` {name, path, sha256}; ``engine`` (llama.cpp settings: n_ctx, n_threads,
  n_batch, n_ubatch, flash_attn, n_gpu_layers, n_seq_max, seed, kv_unified);
* ``country`` (ISO3); ``language`` {mode (native|en), persona_language, frame_language,
  persona_only, note}; ``panel`` {iso3, name, sha256, provenance, provenance_statement};
* ``variant``, ``variant_notes``, ``seed``, ``t_cat``, ``t_dec``, ``params`` (every
  `core.DiscaParams` field, so the correction can be recomputed exactly);
* ``dilemma`` {form (trolley|custom), text, option_a, option_b, category, scenario};
  for the trolley form ``text`` is the context sentence, ``scenario`` is the rendered
  scenario text in the original label order;
* ``has_swap``; ``evaluations``: one object per evaluation (10, or 5 when the label swap
  changes nothing), in order (orig, swap) x agent (base, young, middle, older, all):
  {agent, order, prompt, n_tokens, token_a, token_b, logit_a, logit_b}; ``prompt`` is the
  exact text that was tokenised, chat template included;
* ``base_gap`` (δ_base), ``persona_gaps`` {young, middle, older, all} (δ_i: debiased,
  T_cat-scaled; > 0 favours B), ``position_bias`` {agent: b_j};
* ``correction`` {delta_bar, shift (Δ = δ̄ - δ_base), disagreement (D²), sigma,
  delta_star_passes [δ*_1, δ*_2], ess_ratio [e_1, e_2], reliability (r), delta_star (δ*),
  alpha_ess, delta_micro, delta_final (δ_out: δ_micro unless the prior is on)};
* ``vanilla`` (base prompt, original order, no T_cat: p_B = sigmoid((z_B - z_A)/T_dec)),
  ``vanilla_matched`` (p_B = sigmoid(δ_base/T_dec)), ``disca`` (p_B = sigmoid(δ_out/T_dec)):
  each {p_a, p_b, choice (A|B|tie), option (the chosen option's text or null)};
  ``disca`` adds ``flips_vanilla`` and ``flips_vanilla_matched``;
* ``versions`` {disca_edge, llama_cpp_python, numpy}.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__, pipeline
from ..content import i18n
from ..content.personas import Panel
from ..engine import CONTEXT_RESERVE, ChatPrompt, Engine, llama_cpp_version
from ..errors import DiscaError
from ..maths import categories, core, methods
from ..models.open import ModelInfo
from ..text import check_text

__all__ = [
    "SCHEMA",
    "TROLLEY_CONTEXT",
    "AskInput",
    "AskInputError",
    "DilemmaTooLongError",
    "LONG_DILEMMA_TOKENS",
    "Outcome",
    "answer",
    "answer_countries",
    "answer_many",
    "apply_prior",
    "prompt_language",
    "build_results",
    "chunk_for",
    "fit_context",
    "inputs_from_cli",
    "make_input",
    "parse_line",
    "read_inputs",
    "variant_notes",
]

SCHEMA = "ask-result/1"

#: The context sentence of the trolley shorthand in English: the first DISCA start
#: sentence of the language (I18N.md §3); other languages use their own first one.
TROLLEY_CONTEXT = i18n.language("en").scenario_starts[0]

_LINE_FIELDS = {"dilemma", "option_a", "option_b", "left", "right", "category", "id", "country"}
_CHUNK = 8  # dilemmas per engine call: the trie shares the frame across them

#: User turns (frame included) longer than this get a warning: the ask slows down
#: super-linearly (measured in benchmarks/ask_length.py; README, "Long dilemmas").
LONG_DILEMMA_TOKENS = 300

log = logging.getLogger(__name__)


class AskInputError(DiscaError):
    """A dilemma that cannot be asked (empty or identical options, bad input line)."""


class DilemmaTooLongError(AskInputError):
    """A dilemma whose prompts do not fit the model's context window."""


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class AskInput:
    """One two-option question, validated.

    Attributes:
        option_a: option A (trolley form: the left group, e.g. "a boy").
        option_b: option B (trolley form: the right group).
        dilemma: the question text; None selects the trolley form.
        category: canonical MultiTP category (selects T_cat) or None (T_cat = 3.0).
        index: noise index i (0 for a single ask; line number - 1 in an input file).
        line: 1-based input line, or None.
        id: an identifier echoed from the input line, or None.
        country: the input line's own country (as written; resolved against the persona
            folder when answered), or None for the countries of the whole ask.
    """

    option_a: str
    option_b: str
    dilemma: str | None = None
    category: str | None = None
    index: int = 0
    line: int | None = None
    id: Any = None
    country: str | None = None

    @property
    def form(self) -> str:
        """``"trolley"`` (two groups in the DISCA frame) or ``"custom"``."""
        return "trolley" if self.dilemma is None else "custom"

    def scenario(self, language: i18n.Language | None = None) -> str:
        """The scenario text in the original label order (A = option_a).

        Args:
            language: the frame language (default English). The trolley form uses its
                first start sentence and labels, and renders each group in it when the
                group parses as MultiTP characters ("two elderly women"); free text, and
                every custom dilemma and option, is kept as written.
        """
        language = language or i18n.language("en")
        if self.dilemma is None:
            a, b = self.option_a, self.option_b
            if language.code != "en":
                a, b = language.translate_group(a), language.translate_group(b)
            return language.scenario(language.scenario_starts[0], a, b)
        return language.custom_scenario(self.dilemma, self.option_a, self.option_b)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def make_input(
    option_a: Any,
    option_b: Any,
    *,
    dilemma: Any = None,
    category: Any = None,
    index: int = 0,
    line: int | None = None,
    id: Any = None,
    labels: tuple[str, str] | None = None,
    country: Any = None,
) -> AskInput:
    """Validate and normalise one question.

    Args:
        option_a: option A text (or the left group).
        option_b: option B text (or the right group).
        dilemma: question text; None for the trolley form.
        category: any spelling `categories.normalize_category` accepts, or None.
        index: noise index i.
        line: input line number, for messages.
        id: echoed identifier.
        labels: names of the two options in messages (default "option A"/"group A", ...).
        country: this question's own country (ISO3, ISO2 or name), or None.

    Raises:
        AskInputError: a missing, empty or non-text option or dilemma, identical options.
        UnknownNameError: an unknown category.
    """
    names = labels or (("option A", "option B") if dilemma is not None else ("group A", "group B"))
    values = []
    for name, value in zip(names, (option_a, option_b), strict=True):
        if value is None:
            raise AskInputError(f"{name} is missing")
        if not isinstance(value, str):
            raise AskInputError(f"{name} must be text, got {type(value).__name__}")
        if not value.strip():
            raise AskInputError(f"{name} is empty")
        values.append(check_text(value, name).strip())
    if _squash(values[0]) == _squash(values[1]):
        raise AskInputError(
            f"the two options are identical ({values[0]!r}); give two different ones"
        )
    if dilemma is not None:
        if not isinstance(dilemma, str):
            raise AskInputError(f"the dilemma must be text, got {type(dilemma).__name__}")
        if not dilemma.strip():
            raise AskInputError("the dilemma text is empty")
        dilemma = check_text(dilemma, "the dilemma").strip()
    if category is not None:
        if not isinstance(category, str):
            raise AskInputError(f"category must be text, got {type(category).__name__}")
        category = categories.normalize_category(check_text(category, "the category"))
    if isinstance(id, str):
        check_text(id, '"id"')
    return AskInput(values[0], values[1], dilemma, category, index, line, id, _country(country))


def _country(country: Any) -> str | None:
    """An input's own country, as written (resolved later), or None."""
    if country is None:
        return None
    if not isinstance(country, str) or not country.strip():
        raise AskInputError("country must be a non-empty text (ISO3, ISO2 or name)")
    return check_text(country, '"country"').strip()


def parse_line(text: str, line: int, default_category: str | None = None) -> AskInput:
    """One JSONL input line as an `AskInput` (noise index ``line - 1``).

    A line is a JSON object, either ``{"dilemma", "option_a", "option_b"}`` (custom) or
    ``{"left", "right"}`` (trolley), with optional ``category`` (default
    `default_category`), ``id`` and ``country`` (this line is answered for that country
    only, instead of the ask's countries).

    Raises:
        AskInputError: not JSON, not an object, unknown or conflicting fields, bad values;
            the message starts with ``line N:``.
    """
    try:
        try:
            obj = json.loads(text.rstrip("\r\n"))  # else an error at the end is "column 1"
        except json.JSONDecodeError as exc:
            raise AskInputError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise AskInputError(f"expected a JSON object, got {type(obj).__name__}")
        unknown = sorted(set(obj) - _LINE_FIELDS)
        if unknown:
            raise AskInputError(
                f"unknown field(s) {', '.join(unknown)} (expected dilemma, option_a, option_b, "
                "or left, right; optional category, id, country)"
            )
        custom = {"dilemma", "option_a", "option_b"} & set(obj)
        trolley = {"left", "right"} & set(obj)
        if custom and trolley:
            raise AskInputError("give either dilemma/option_a/option_b or left/right, not both")
        if trolley:
            a, b, dilemma = obj.get("left"), obj.get("right"), None
            labels = ('"left"', '"right"')
        elif custom:
            if "dilemma" not in obj:
                raise AskInputError("option_a/option_b need a dilemma (or use left/right)")
            a, b, dilemma = obj.get("option_a"), obj.get("option_b"), obj["dilemma"]
            labels = ('"option_a"', '"option_b"')
        else:
            raise AskInputError("give dilemma, option_a, option_b, or left, right")
        category = obj.get("category", default_category)
        return make_input(
            a,
            b,
            dilemma=dilemma,
            category=category,
            index=line - 1,
            line=line,
            id=obj.get("id"),
            labels=labels,
            country=obj.get("country"),
        )
    except DiscaError as exc:
        raise type(exc)(f"line {line}: {exc}") from None


def read_inputs(
    source: str | os.PathLike | io.IOBase, default_category: str | None = None
) -> Iterator[AskInput | AskInputError]:
    """Open a JSONL file (``"-"`` = stdin) now and parse it lazily, line by line.

    Bad lines come out as `AskInputError` items (``line N: ...``) in their place; blank
    lines are skipped (their numbers still count for the noise index).

    Raises:
        DiscaError: the file cannot be opened (raised here, before any line is read).
    """
    if isinstance(source, io.IOBase):
        return _parse_lines(source, default_category, close=False)
    if str(source) == "-":
        return _parse_lines(sys.stdin.buffer, default_category, close=False)
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed by _parse_lines
    except OSError as exc:
        raise DiscaError(f"cannot read {source}: {exc.strerror or exc}") from None
    return _parse_lines(handle, default_category, close=True)


def _parse_lines(handle, default_category: str | None, close: bool):
    try:
        for number, raw in enumerate(handle, start=1):
            if isinstance(raw, bytes):
                try:
                    raw = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    yield AskInputError(f"line {number}: not valid UTF-8 text")
                    continue
            if not raw.strip():
                continue
            try:
                yield parse_line(raw, number, default_category)
            except DiscaError as exc:
                yield exc if isinstance(exc, AskInputError) else AskInputError(str(exc))
    finally:
        if close:
            handle.close()


def inputs_from_cli(
    groups: Sequence[str] = (),
    *,
    dilemma: str | None = None,
    option_a: str | None = None,
    option_b: str | None = None,
    category: str | None = None,
    input_path: str | None = None,
) -> Iterable[AskInput | AskInputError]:
    """The inputs named by `disca ask`'s arguments, checked before any model is loaded.

    Exactly one form: two positional groups (trolley), ``--dilemma`` with
    ``--option-a``/``--option-b`` (custom), or ``--input FILE`` (JSONL; ``--category``
    is the default for lines without one).

    Raises:
        AskInputError: no form, several forms, or an incomplete or invalid one.
        UnknownNameError: an unknown category.
    """
    if category is not None:
        category = categories.normalize_category(category)
    custom = dilemma is not None or option_a is not None or option_b is not None
    forms = [bool(groups), custom, input_path is not None]
    if sum(forms) == 0:
        raise AskInputError(
            'nothing to ask: give two groups (disca ask --country JP "a boy" "two elderly '
            'women"), or --dilemma with --option-a and --option-b, or --input FILE'
        )
    if sum(forms) > 1:
        raise AskInputError("give one of: two groups, --dilemma/--option-a/--option-b, --input")
    if input_path is not None:
        return _nonempty(read_inputs(input_path, category), input_path)
    if groups:
        if len(groups) != 2:
            raise AskInputError(f"expected two groups (A and B), got {len(groups)}")
        return [make_input(groups[0], groups[1], category=category)]
    if dilemma is None:
        raise AskInputError("--option-a/--option-b need --dilemma (or give two groups)")
    if option_a is None or option_b is None:
        raise AskInputError("--dilemma needs both --option-a and --option-b")
    return [make_input(option_a, option_b, dilemma=dilemma, category=category)]


def chunk_for(source: str | os.PathLike | None) -> int:
    """Dilemmas per engine call for an input: 1 on a pipe or terminal, else `_CHUNK`.

    A pipe or terminal may be a person or program waiting for each answer before it
    writes the next line, so each line is answered (and written) as soon as it arrives.
    """
    if source is not None and str(source) == "-":
        import stat

        try:
            if not stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode):
                return 1
        except (OSError, ValueError):  # no real stdin (a test runner's buffer)
            return _CHUNK
    return _CHUNK


def _nonempty(items: Iterator, source: str) -> Iterator:
    """Read up to the first non-blank line now: an empty input fails before a model loads."""
    first = next(items, None)
    if first is None:
        name = "standard input" if str(source) == "-" else str(source)
        raise AskInputError(f"{name}: no dilemmas to ask (the input is empty or blank)")
    return itertools.chain([first], items)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Outcome:
    """What became of one input: its result object, or a one-line error.

    Attributes:
        index: noise index i (line - 1 for an input line; -1 when unknown).
        line: input line number, or None.
        result: the ``ask-result/1`` object, or None on error.
        error: a one-line message, or None.
        exception: the error as raised (a `DiscaError`), or None.
        elapsed_s: wall time of the engine call that answered it, per dilemma.
        country: the ISO3 code it was answered for (None for an input error).
    """

    index: int
    line: int | None
    result: dict | None = None
    error: str | None = None
    exception: DiscaError | None = field(default=None, compare=False, repr=False)
    elapsed_s: float = 0.0
    country: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the dilemma was answered."""
        return self.result is not None


def variant_notes(params: core.DiscaParams) -> str:
    """A sentence on what the variant does here, and the country prior's status."""
    if params.variant == "paper":
        text = "paper: alpha_ess = min(1, mean ESS ratio / rho_eff); no country prior in the paper."
    else:
        text = "reference: alpha_ess = min(1, max(rho_eff, min(e_1, e_2))) as in the released code."
    if params.prior_enabled:
        first = params.n_warmup - params.prior_replays + 1
        text += (
            " Country prior ON (--prior): the sequential EMA prior of spec §5.2 runs over the "
            f"answered dilemmas in input order with {params.prior_replays} replays; it has no "
            f"effect on the first {max(first, 0)} dilemmas (warm-up {params.n_warmup})."
        )
    else:
        text += (
            " Country prior OFF: it is defined over a sequence of scenarios, so ask applies it "
            "only with --prior; delta_final = delta_micro."
        )
    return text


def _choice(p_b: float, option_a: str, option_b: str) -> dict:
    p_b = float(p_b)
    choice = "B" if p_b > 0.5 else "A" if p_b < 0.5 else "tie"
    option = {"A": option_a, "B": option_b}.get(choice)
    return {"p_a": 1.0 - p_b, "p_b": p_b, "choice": choice, "option": option}


@dataclass
class _Run:
    """Per-call context: the engine, panel, params and what every result records."""

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


def _dilemma(item: AskInput, language: i18n.Language) -> pipeline.Dilemma:
    return pipeline.Dilemma.from_scenario(
        item.scenario(language), category=item.category, index=item.index, language=language
    )


def _header(
    model_info: ModelInfo,
    panel: Panel,
    params: core.DiscaParams,
    seed: int,
    prompts: pipeline.PanelPrompts,
) -> dict:
    return {
        "model": {"name": model_info.name, "path": model_info.path, "sha256": model_info.sha256},
        "engine": dict(model_info.settings),
        "country": panel.iso3,
        "language": prompts.rendering.to_dict(),
        "panel": {
            "iso3": panel.iso3,
            "name": panel.name,
            "sha256": panel.sha256(),
            "provenance": panel.provenance,
            "provenance_statement": panel.provenance_statement,
            "path": None if panel.path is None else str(panel.path),
        },
        "variant": params.variant,
        "variant_notes": variant_notes(params),
        "seed": seed,
    }


def build_results(
    items: Sequence[AskInput],
    panel_logits: pipeline.PanelLogits,
    *,
    model_info: ModelInfo,
    panel: Panel,
    params: core.DiscaParams,
    seed: int,
    n_tokens: Sequence[Sequence[int]] | None = None,
    prompts: pipeline.PanelPrompts | None = None,
) -> list[dict]:
    """Result objects of S dilemmas from their panel logits (post-processing only, no model).

    The numbers come from `methods.read_panel` (the post-processing `disca eval` uses
    too): debiasing, T_cat, `core.correct` with ``core.draws(seed, item.index)`` and the
    three read-outs. The country prior is not applied here (see `apply_prior`).

    Args:
        items: the S inputs, in the order of `panel_logits`.
        panel_logits: their logits (`pipeline.evaluate_panel`).
        model_info: the model the logits came from.
        panel: the persona panel that produced the persona prompts.
        params: DISCA parameters.
        seed: IS seed.
        n_tokens: per dilemma, the token count of each evaluated prompt (same order as
            ``panel_logits.texts``); None records null.
        prompts: the panel's prompts in the language used (default: English).

    Returns:
        list of S ``ask-result/1`` objects.
    """
    prompts = prompts or pipeline.panel_prompts(panel, "en")
    language = prompts.frame
    header = _header(model_info, panel, params, seed, prompts)
    logits = panel_logits.logits
    readout = methods.read_panel(
        logits,
        panel_logits.has_swap,
        [item.category for item in items],
        core.draws(seed, [item.index for item in items], params.k_half),
        params,
    )
    t_cat, base, persona_gaps, bias = (
        readout.t_cat,
        readout.delta_base,
        readout.delta_personas,
        readout.bias,
    )
    corr = readout.correction
    delta_out = np.asarray(corr.delta_final, dtype=np.float64)
    p_raw, p_lfl = readout.p_b_vanilla_raw, readout.p_b_vanilla_lfl
    versions = {
        "disca_edge": __version__,
        "llama_cpp_python": llama_cpp_version(),
        "numpy": np.__version__,
    }
    out = []
    for s, item in enumerate(items):
        orders = pipeline.ORDERS if panel_logits.has_swap[s] else pipeline.ORDERS[:1]
        evaluations = []
        k = 0
        for o, order in enumerate(orders):
            for j, agent in enumerate(pipeline.AGENTS):
                prompt = panel_logits.texts[s][k]
                k += 1
                evaluations.append(
                    {
                        "agent": agent,
                        "order": order,
                        "prompt": prompt,
                        "n_tokens": None if n_tokens is None else int(n_tokens[s][k - 1]),
                        "token_a": int(panel_logits.token_ids[s, o, j, 0]),
                        "token_b": int(panel_logits.token_ids[s, o, j, 1]),
                        "logit_a": float(logits[s, o, j, 0]),
                        "logit_b": float(logits[s, o, j, 1]),
                    }
                )
        result = {
            "schema": SCHEMA,
            "index": item.index,
            "input_line": item.line,
            "id": item.id,
            **header,
            "t_cat": float(t_cat[s]),
            "t_dec": params.t_dec,
            "params": params.to_dict(),
            "dilemma": {
                "form": item.form,
                "text": language.scenario_starts[0] if item.dilemma is None else item.dilemma,
                "option_a": item.option_a,
                "option_b": item.option_b,
                "category": item.category,
                "scenario": item.scenario(language),
            },
            "has_swap": bool(panel_logits.has_swap[s]),
            "evaluations": evaluations,
            "base_gap": float(base[s]),
            "persona_gaps": {
                agent: float(persona_gaps[s, i]) for i, agent in enumerate(pipeline.AGENTS[1:])
            },
            "position_bias": {
                agent: (None if math.isnan(bias[s, j]) else float(bias[s, j]))
                for j, agent in enumerate(pipeline.AGENTS)
            },
            "correction": {
                "delta_bar": float(corr.delta_bar[s]),
                "shift": float(corr.delta_bar[s] - corr.delta_base[s]),
                "disagreement": float(corr.disagreement[s]),
                "sigma": float(corr.sigma[s]),
                "delta_star_passes": [float(x) for x in corr.delta_star_passes[s]],
                "ess_ratio": [float(x) for x in corr.ess_ratio[s]],
                "reliability": float(corr.reliability[s]),
                "delta_star": float(corr.delta_star[s]),
                "alpha_ess": float(corr.alpha_ess[s]),
                "delta_micro": float(corr.delta_final[s]),
                "delta_final": float(delta_out[s]),
            },
            "vanilla": _choice(p_raw[s], item.option_a, item.option_b),
            "vanilla_matched": _choice(p_lfl[s], item.option_a, item.option_b),
            "disca": _choice(
                core.sigmoid(delta_out[s] / params.t_dec), item.option_a, item.option_b
            ),
            "versions": versions,
        }
        _mark_flips(result)
        out.append(result)
    return out


def _mark_flips(result: dict) -> None:
    for key, ref in (("flips_vanilla", "vanilla"), ("flips_vanilla_matched", "vanilla_matched")):
        result["disca"][key] = result["disca"]["choice"] != result[ref]["choice"]


def apply_prior(results: list[dict], params: core.DiscaParams) -> None:
    """Apply the sequential country prior (spec §5.2) in place, in list order.

    Replaces each result's ``correction.delta_final`` and its ``disca`` read-out by the
    prior's output for its ``delta_micro``; does nothing unless ``params.prior_enabled``.
    """
    if not results or not params.prior_enabled:
        return
    micro = np.array([r["correction"]["delta_micro"] for r in results])
    out = core.country_prior(micro, params)
    for r, value in zip(results, out, strict=True):
        r["correction"]["delta_final"] = float(value)
        d = r["dilemma"]
        r["disca"] = _choice(core.sigmoid(value / params.t_dec), d["option_a"], d["option_b"])
        _mark_flips(r)


def _evaluate(run: _Run, chunk: list[tuple[AskInput, pipeline.Dilemma]]) -> list[Outcome]:
    """Answer a chunk in one engine call; on an engine error, retry one by one."""
    t0 = time.perf_counter()
    try:
        logits = pipeline.evaluate_panel(run.engine, run.systems, [d for _, d in chunk])
        n_tokens = [[len(run.engine.tokenize(text)) for text in texts] for texts in logits.texts]
        results = build_results(
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


def fit_context(
    engine: Engine,
    model_info: ModelInfo,
    prompts: Sequence[pipeline.PanelPrompts],
    *,
    model: str | None = None,
    reserve: int = 512,
    **open_kwargs: Any,
) -> tuple[Engine, ModelInfo]:
    """Size the context up before answering when the panels' prompts need more.

    Native prompts can be several times longer than English ones on an English-centred
    tokenizer (five Burmese system prompts are ~8,000 SmolLM2 tokens). The need is the
    largest panel's resident system prefixes plus a trolley user turn and `reserve`
    tokens for longer dilemmas; a dilemma that still does not fit fails alone, with one
    line.

    Returns:
        (engine, model_info): the same ones, or a reopened engine with a larger n_ctx.
    """
    from ..content.scenarios import disca_pool
    from ..models.open import open_engine

    need = 0
    for panel_prompts in prompts:
        sample = panel_prompts.vignette(disca_pool()[0])
        users = [sample.user_orig]
        need = max(need, pipeline.context_needed(engine, panel_prompts.systems, users) + reserve)
    if need <= engine.n_ctx:
        return engine, model_info
    n_ctx = -(-need // 256) * 256
    log.warning(
        "warning: the prompts need about %d context tokens; sizing the context up from %d to %d",
        need, engine.n_ctx, n_ctx,
    )  # fmt: skip
    engine.close()
    return open_engine(model, n_ctx=n_ctx, **open_kwargs)


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
    chunk: int = _CHUNK,
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
    chunk: int = _CHUNK,
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
    from ..content.personas import load_panel as shipped

    grid = _Grid(engine, model_info, params, int(seed), load_panel or shipped, lang)
    stream = grid.stream(list(panels), items, chunk)
    if not params.prior_enabled:
        yield from stream
        return
    outcomes = list(stream)
    for iso3 in dict.fromkeys(o.country for o in outcomes if o.result is not None):
        apply_prior(
            [o.result for o in outcomes if o.result is not None and o.country == iso3], params
        )
    yield from outcomes


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
        if panel.iso3 not in self.runs:
            prompts = pipeline.panel_prompts(panel, self.lang)
            run = _Run(self.engine, self.model_info, panel, self.params, self.seed, tag=tag)
            run.prompts, run.systems = prompts, prompts.systems
            self.runs[panel.iso3] = run
        return self.runs[panel.iso3]

    def panels_of(self, item: AskInput, panels: list[Panel]) -> list[Panel]:
        if item.country is not None:
            return [self.load_panel(item.country)]
        if not panels:
            raise AskInputError('no country: give --country or a "country" field on the line')
        return panels

    def stream(self, panels: list[Panel], items: Iterable, chunk: int) -> Iterator[Outcome]:
        pending: list[list] = []  # per item: error Outcomes or (run, item, dilemma)
        waiting = 0  # items in `pending` with something to evaluate
        for item in items:
            if isinstance(item, DiscaError):
                line = _line_of(str(item))
                index = -1 if line is None else line - 1
                pending.append([Outcome(index, line, error=str(item), exception=item)])
                continue
            try:
                wanted = self.panels_of(item, panels)
            except DiscaError as exc:
                pending.append([_failure(item, exc)])
                continue
            rendered: dict[str, pipeline.Dilemma] = {}
            slots: list = []
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
                slots.append((run, item, rendered[language]))
            pending.append(slots)
            waiting += any(not isinstance(slot, Outcome) for slot in slots)
            if waiting >= chunk:
                yield from _flush(pending)
                pending, waiting = [], 0
        yield from _flush(pending)


def _warn_if_long(item: AskInput, n_user: int) -> None:
    """Log a warning (once per dilemma and language) when the user turn is long."""
    if n_user > LONG_DILEMMA_TOKENS:
        where = "" if item.line is None else f"line {item.line}: "
        log.warning(
            "%sthe dilemma is long (a %d-token user turn, over %d): its 10 evaluations "
            "each decode it and time grows about 4x per doubling (README: long dilemmas)",
            where, n_user, LONG_DILEMMA_TOKENS,
        )  # fmt: skip


def _flush(pending: list[list]) -> list[Outcome]:
    """Evaluate each country's pending dilemmas in one call; every outcome in input order."""
    by_run: dict[str, list] = {}
    for slots in pending:
        for slot in slots:
            if not isinstance(slot, Outcome):
                by_run.setdefault(slot[0].panel.iso3, []).append(slot)
    done: dict[tuple[int, str], Outcome] = {}
    for iso3, todo in by_run.items():
        run = todo[0][0]
        outcomes = _evaluate(run, [(item, dilemma) for _, item, dilemma in todo])
        for (_, item, _), outcome in zip(todo, outcomes, strict=True):
            done[id(item), iso3] = outcome
    return [
        slot if isinstance(slot, Outcome) else done[id(slot[1]), slot[0].panel.iso3]
        for slots in pending
        for slot in slots
    ]


def _line_of(message: str) -> int | None:
    match = re.match(r"line (\d+):", message)
    return int(match.group(1)) if match else None


def answer(
    engine: Engine,
    model_info: ModelInfo,
    panel: Panel,
    item: AskInput,
    params: core.DiscaParams,
    *,
    seed: int = 42,
    lang: str = "en",
) -> dict:
    """Answer one dilemma; returns its result object (``lang``: "en" or "native").

    Raises:
        DiscaError: the dilemma does not fit the context, or the engine failed.
    """
    (outcome,) = list(answer_many(engine, model_info, panel, [item], params, seed=seed, lang=lang))
    if outcome.exception is not None:
        raise outcome.exception
    assert outcome.result is not None  # no exception: answered
    return outcome.result
