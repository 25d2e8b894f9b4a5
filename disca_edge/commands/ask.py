"""`disca ask`: a culturally aligned answer to a two-option dilemma, with a disagreement report."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import click

from ..ask.inputs import AskInput, AskInputError, chunk_for, inputs_from_cli
from ..ask.noise import NoiseProbe, noise_probe
from ..ask.run import Outcome, answer_countries, ask_context
from ..content.personas import load_panel, parse_countries
from ..engine import Engine
from ..engine.options import EngineOptions, alternate_options
from ..errors import DiscaError
from ..maths.core import DiscaParams
from ..models.open import open_engine, warn_unlisted_languages
from ..pipeline import PanelPrompts, panel_prompts
from ..progress import Waiting, download_bar
from ..views import explain
from ._options import (
    VariantOptions,
    countries_option,
    display_option,
    engine_options,
    grouped,
    json_option,
    lang_option,
    noise_setting_option,
    personas_option,
    seed_option,
    stack,
    variant_options,
)

__all__ = ["ask"]


@dataclass(frozen=True)
class _Question:
    """What to ask: the parsed inputs, and the ``--input`` file they came from (or None)."""

    items: Iterable[AskInput | AskInputError]
    input_path: str | None


def _question_options(command):
    """The question's arguments and options; the command receives ``question``."""

    def build(groups, dilemma, option_a, option_b, category, input_) -> _Question:
        items = inputs_from_cli(groups, dilemma=dilemma, option_a=option_a, option_b=option_b,
                                category=category, input_path=input_)  # fmt: skip
        return _Question(items, input_)

    names = ("groups", "dilemma", "option_a", "option_b", "category", "input_")
    return stack(grouped(command, "question", build, names), [
        click.argument("groups", nargs=-1, metavar="[GROUP_A GROUP_B]"),
        click.option("--dilemma", help="Any two-option question (with --option-a/--option-b)."),
        click.option("--option-a", help="Option A of --dilemma."),
        click.option("--option-b", help="Option B of --dilemma."),
        click.option("--category", metavar="NAME",
                     help="species, gender, age, fitness, social_value or utilitarianism: sets "
                     "T_cat (4.0, 3.5, 1.5, 1.5, 1.5, 1.5); none: 3.0."),
        click.option("--input", "input_", metavar="FILE", help="JSONL dilemmas, '-' for stdin."),
    ])  # fmt: skip


@click.command()
@_question_options
@countries_option()
@personas_option()
@engine_options
@display_option
@variant_options
@lang_option()
@click.option("--prior", is_flag=True, help="Apply the sequential country prior (spec §5.2).")
@seed_option()
@json_option("One JSON object per dilemma and country (README).")
@click.option("--verbose", "-v", is_flag=True, help="Add the persona texts and raw logits.")
@click.option("--noise-floor", is_flag=True,
              help="Evaluate the prompts again under a second kernel setting (a second copy "
              "of the model) and say when the panel's disagreement is below that noise.")  # fmt: skip
@noise_setting_option("--noise-setting")
def ask(question: _Question, countries: str | None, personas_dir, engine_options: EngineOptions,
        display: str, variant: VariantOptions, lang: str, prior: bool, seed: int, json_: bool,
        verbose: bool, noise_floor: bool, noise_setting: str) -> None:  # fmt: skip
    """Ask the model a two-option moral question as COUNTRY's persona panel would.

    \b
      disca ask --country JP "a boy" "two elderly women"
      disca ask --country JP,US,DE "a boy" "two elderly women"
      disca ask -c DEU --dilemma "..." --option-a "..." --option-b "..."
      disca ask -c USA --input dilemmas.jsonl > answers.jsonl

    Several countries share one model load and one rendering of the dilemma; each
    country answers with its own panel, exactly as it would alone. The terminal shows
    one row per country, --json one object per (dilemma, country).

    Two groups are put in the DISCA trolley frame (option A = the first group).
    --lang native (the default) asks in each country's language as the paper does
    (frame and personas; your option text is kept as written unless it names MultiTP
    characters, e.g. "two elderly women"); --lang en asks in English.
    --input reads one JSON object per line, {"dilemma", "option_a", "option_b"} or
    {"left", "right"}, each with optional "category" and "id", and writes one JSON
    result per line; a bad line is reported by number and the rest still run. A line
    may carry "country" to be answered for that country only (then --country is
    optional). The dilemma on line n draws its noise from default_rng([seed, n - 1]).
    --noise-floor evaluates every prompt again with a second copy of the model under
    --noise-setting (an f16 KV cache by default) and says when the panel's disagreement
    is below how far that moves the persona effects; --json adds a "noise" object.
    """
    input_ = question.input_path
    panels = _panels(countries, personas_dir, input_)
    prompts = [panel_prompts(panel, lang) for panel in panels]
    warn_unlisted_languages(engine_options.model, sorted({code for p in prompts for code in (
        p.rendering.persona_language, p.rendering.frame_language)}))  # fmt: skip
    options = dataclasses.replace(engine_options, seed=seed)  # the results record the seed
    with download_bar(display, "pulling model") as progress:
        engine, info = open_engine(options, fit=ask_context(prompts), progress=progress)
    with engine, contextlib.ExitStack() as stack:
        noise = (
            _noise_probe(engine, options, prompts, noise_setting, stack) if noise_floor else None
        )
        params = DiscaParams(variant.variant, use_prior=prior, **variant.overrides)
        waiting = Waiting(display, "asking the panel (10 evaluations per dilemma)",
                          total=_expected_answers(input_, len(panels)))  # fmt: skip
        outcomes = _shown(answer_countries(
            engine, info, panels, question.items, params, seed=seed, chunk=chunk_for(input_),
            load_panel=functools.partial(_line_panel, personas_dir), lang=lang, noise=noise,
            on_answered=waiting.advance,
        ), waiting)  # fmt: skip
        if input_ is not None or json_:
            _print_json(outcomes, from_file=input_ is not None)
        elif len(panels) == 1:
            _render_one(outcomes, prompts[0], verbose)
        else:
            _render_countries(outcomes)


def _noise_probe(engine: Engine, options: EngineOptions, prompts: list[PanelPrompts],
                 setting: str, stack: contextlib.ExitStack) -> NoiseProbe:  # fmt: skip
    """A second copy of the model under `setting`, closed when `stack` closes."""
    other, _ = open_engine(alternate_options(options, setting), fit=ask_context(prompts))
    stack.enter_context(other)
    return noise_probe(engine, other, setting)


def _panels(countries: str | None, personas_dir, input_: str | None):
    """The panels of ``--country`` (none: every input line names its own)."""
    if countries is None and input_ is None:
        raise click.UsageError("missing --country (e.g. --country JP or --country JP,US,DE)")
    codes = parse_countries(countries, personas_dir) if countries else ()
    return [load_panel(code, personas_dir) for code in codes]


def _render_one(outcomes: Iterator[Outcome], prompts: PanelPrompts, verbose: bool) -> None:
    """One country: the full report of each answer; an error fails the command."""
    for outcome in outcomes:
        if outcome.result is None:
            raise click.ClickException(outcome.error or "no answer")
        explain.render(outcome.result, verbose=verbose, persona_texts=list(prompts.persona_texts),
                       elapsed_s=outcome.elapsed_s)  # fmt: skip


def _render_countries(outcomes: Iterator[Outcome]) -> None:
    """One dilemma, one row per country; a failed country is listed and fails the command."""
    t0 = time.perf_counter()
    done = list(outcomes)
    errors = [o.error for o in done if o.error is not None]
    results = [o.result for o in done if o.result is not None]
    if not results:
        raise click.ClickException(errors[0])
    explain.render_countries(results, errors=errors, elapsed_s=time.perf_counter() - t0)
    if errors:
        raise click.ClickException(f"{len(errors)} of {len(done)} countries failed")


def _shown(outcomes, waiting: Waiting):
    """The outcomes; a wait for the next one over 2 s shows the answers done so far."""
    while True:
        with waiting.shown():
            outcome = next(outcomes, None)
        if outcome is None:
            return
        yield outcome


def _expected_answers(input_: str | None, n_countries: int) -> int | None:
    """Answers an ask will give: one per country, or per input line and country.

    None when not known ahead: standard input, or a file that cannot be read now (its
    error comes later). A line naming its own country counts as the ask's countries.
    """
    if input_ is None:
        return max(1, n_countries)
    if input_ == "-":
        return None
    try:
        with open(input_, "rb") as handle:
            lines = sum(1 for line in handle if line.strip())
    except OSError:
        return None
    return lines * max(1, n_countries)


def _line_panel(personas_dir, query: str):
    """The panel of an input line's own ``country``, from the same persona folder."""
    try:
        return load_panel(query, personas_dir)
    except DiscaError as exc:
        raise AskInputError(str(exc)) from None


def _print_json(outcomes: Iterable[Outcome], *, from_file: bool) -> None:
    """One JSON line per answered (dilemma, country); errors on stderr, then exit 1."""
    answered: dict[int | None, int] = {}  # input line -> answers written
    failed: dict[int | None, int] = {}  # input line -> failures
    for outcome in outcomes:
        if outcome.result is None:
            failed[outcome.line] = failed.get(outcome.line, 0) + 1
            click.echo(f"Error: {outcome.error}", err=True)
        else:
            answered[outcome.line] = answered.get(outcome.line, 0) + 1
            click.echo(json.dumps(outcome.result.to_dict(), ensure_ascii=False))
    if failed and from_file:
        raise click.ClickException(_batch_summary(answered, failed))
    if failed:
        raise click.exceptions.Exit(1)


def _batch_summary(answered: dict[int | None, int], failed: dict[int | None, int]) -> str:
    """The last line of a batch with failures: how many lines failed, which, what was answered.

    A line asked for several countries can fail for some and be answered for others.
    """
    lines = sorted({*answered, *failed}, key=lambda n: -1 if n is None else n)
    bad = [n for n in lines if n in failed]
    good = len(lines) - len(bad)
    others = "no line was answered" if not good else (
        f"the other {good} {'was' if good == 1 else 'were'} answered")  # fmt: skip
    text = f"{len(bad)} of {len(lines)} input lines failed ({_line_list(bad)}); {others}"
    partly = [n for n in bad if n in answered]
    if partly:
        text += f" ({_line_list(partly)} for some countries only)"
    return text


def _line_list(numbers: list[int | None]) -> str:
    """Line numbers as ``line 4`` or ``lines 2-6, 9`` (runs of consecutive lines joined)."""
    known = sorted(n for n in numbers if n is not None)
    runs: list[list[int]] = []
    for n in known:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = [str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs]
    if not parts:
        return "no line number"
    return f"line{'s' if len(known) > 1 else ''} {', '.join(parts)}"
