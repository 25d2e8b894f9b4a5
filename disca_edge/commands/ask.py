"""`disca ask`: a culturally aligned answer to a two-option dilemma, with a disagreement report."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable, Iterator

import click

from ..ask.inputs import AskInputError, chunk_for, inputs_from_cli
from ..ask.run import Outcome, answer_countries, fit_context
from ..content.personas import load_panel, parse_countries
from ..errors import DiscaError
from ..maths.core import DiscaParams
from ..models.open import open_engine, warn_unlisted_languages
from ..pipeline import panel_prompts
from ..progress import download_bar, working
from ..views import explain
from ._complete import complete_countries
from ._options import display_option, engine_options
from .personas import personas_option

__all__ = ["ask"]


@click.command()
@click.argument("groups", nargs=-1, metavar="[GROUP_A GROUP_B]")
@click.option(
    "--country",
    "-c",
    help="ISO3, ISO2 or name (JPN, JP, Japan); several: JP,US,DE; paper20: the paper's 20.",
    shell_complete=complete_countries,
)
@click.option("--countries", help="Same as --country (e.g. paper20).",
              shell_complete=complete_countries)  # fmt: skip
@personas_option()
@click.option("--dilemma", help="Any two-option question (with --option-a/--option-b).")
@click.option("--option-a", help="Option A of --dilemma.")
@click.option("--option-b", help="Option B of --dilemma.")
@click.option(
    "--category",
    metavar="NAME",
    help="species, gender, age, fitness, social_value or utilitarianism: sets T_cat "
    "(4.0, 3.5, 1.5, 1.5, 1.5, 1.5); none: 3.0.",
)
@click.option("--input", "input_", metavar="FILE", help="JSONL dilemmas, '-' for stdin.")
@engine_options
@display_option
@click.option(
    "--variant", type=click.Choice(["paper", "reference"]), default="paper", show_default=True
)
@click.option(
    "--lang",
    type=click.Choice(["en", "native"]),
    default="en",
    show_default=True,
    help="en: English prompts (you type English). native: each country's language, as "
    "the paper runs it; trolley groups that parse as MultiTP characters are translated.",
)
@click.option("--prior", is_flag=True, help="Apply the sequential country prior (spec §5.2).")
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True, help="IS seed.")
@click.option("--json", "json_", is_flag=True, help="One JSON object per dilemma (README).")
@click.option("--verbose", "-v", is_flag=True, help="Add the persona texts and raw logits.")
@click.option(
    "--prefix-cache/--no-prefix-cache",
    default=True,
    show_default=True,
    help="Keep persona-prefix KV states in the cache so the next process skips them.",
)
def ask(groups, country, countries, personas_dir, dilemma, option_a, option_b, category,
        input_, model, variant, lang, prior, seed, json_, verbose, threads, n_gpu_layers, n_ctx,
        extra_buffers, display, prefix_cache) -> None:  # fmt: skip
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
    --lang en (the default) asks in English; --lang native asks in each country's
    language as the paper does (frame and personas; your option text is kept as
    written unless it names MultiTP characters, e.g. "two elderly women").
    --input reads one JSON object per line, {"dilemma", "option_a", "option_b"} or
    {"left", "right"}, each with optional "category" and "id", and writes one JSON
    result per line; a bad line is reported by number and the rest still run. A line
    may carry "country" to be answered for that country only (then --country is
    optional). The dilemma on line n draws its noise from default_rng([seed, n - 1]).
    """
    items = inputs_from_cli(groups, dilemma=dilemma, option_a=option_a,
                            option_b=option_b, category=category, input_path=input_)  # fmt: skip
    panels = _panels(country, countries, personas_dir, input_)
    prompts = [panel_prompts(panel, lang) for panel in panels]
    warn_unlisted_languages(model, sorted({code for p in prompts for code in (
        p.rendering.persona_language, p.rendering.frame_language)}))  # fmt: skip
    settings = dict(n_threads=threads, n_gpu_layers=n_gpu_layers, seed=seed,
                    extra_buffers=extra_buffers, prefix_cache=prefix_cache)  # fmt: skip
    with download_bar(display, "pulling model") as progress:
        engine, info = open_engine(model, n_ctx=n_ctx, progress=progress, **settings)
    engine, info = fit_context(engine, info, prompts, model=model, **settings)
    outcomes = _shown(answer_countries(
        engine, info, panels, items, DiscaParams(variant, use_prior=prior), seed=seed,
        chunk=chunk_for(input_), load_panel=functools.partial(_line_panel, personas_dir),
        lang=lang,
    ), display)  # fmt: skip
    with engine:
        if input_ is not None or json_:
            _print_json(outcomes, from_file=input_ is not None)
        elif len(panels) == 1:
            for outcome in outcomes:
                if outcome.result is None:
                    raise click.ClickException(outcome.error or "no answer")
                explain.render(outcome.result, verbose=verbose,
                               persona_texts=list(prompts[0].persona_texts),
                               elapsed_s=outcome.elapsed_s)  # fmt: skip
        else:
            _render_countries(outcomes)


def _panels(country: str | None, countries: str | None, personas_dir, input_: str | None):
    """The panels of ``--country``/``--countries`` (none: every input line names its own)."""
    if country and countries:
        raise click.UsageError("give --country or --countries, not both")
    wanted = country or countries
    if wanted is None and input_ is None:
        raise click.UsageError("missing --country (e.g. --country JP or --country JP,US,DE)")
    codes = parse_countries(wanted, personas_dir) if wanted else ()
    return [load_panel(code, personas_dir) for code in codes]


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


def _shown(outcomes, display: str):
    """The outcomes, with a "working" line on stderr while one takes over 2 s."""
    while True:
        with working(display, "asking the panel (10 evaluations per dilemma)"):
            outcome = next(outcomes, None)
        if outcome is None:
            return
        yield outcome


def _line_panel(personas_dir, query: str):
    """The panel of an input line's own ``country``, from the same persona folder."""
    try:
        return load_panel(query, personas_dir)
    except DiscaError as exc:
        raise AskInputError(str(exc)) from None


def _print_json(outcomes: Iterable[Outcome], *, from_file: bool) -> None:
    """One JSON line per answered (dilemma, country); errors on stderr, then exit 1."""
    failed = 0
    for outcome in outcomes:
        if outcome.result is None:
            failed += 1
            click.echo(f"Error: {outcome.error}", err=True)
        else:
            click.echo(json.dumps(outcome.result.to_dict(), ensure_ascii=False))
    if failed and from_file:
        raise click.ClickException(f"{failed} input line(s) failed; the other lines were answered")
    if failed:
        raise click.exceptions.Exit(1)
