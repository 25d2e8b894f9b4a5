"""`disca ask`: a culturally aligned answer to a two-option dilemma, with a disagreement report."""

from __future__ import annotations

import json

import click

from .. import ask as ask_lib
from .. import explain
from ..core import DiscaParams
from ..display import download_bar, working
from ..models import open_engine
from ..personas import load_panel
from ._options import display_option, engine_options

__all__ = ["ask"]


@click.command()
@click.argument("groups", nargs=-1, metavar="[GROUP_A GROUP_B]")
@click.option("--country", "-c", required=True, help="ISO3, ISO2 or name: JPN, JP, Japan.")
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
def ask(groups, country, dilemma, option_a, option_b, category, input_, model, variant,
        prior, seed, json_, verbose, threads, n_gpu_layers, n_ctx, extra_buffers, display,
        prefix_cache) -> None:  # fmt: skip
    """Ask the model a two-option moral question as COUNTRY's persona panel would.

    \b
      disca ask --country JP "a boy" "two elderly women"
      disca ask -c DEU --dilemma "..." --option-a "..." --option-b "..."
      disca ask -c USA --input dilemmas.jsonl > answers.jsonl

    Two groups are put in the DISCA trolley frame (option A = the first group).
    --input reads one JSON object per line, {"dilemma", "option_a", "option_b"} or
    {"left", "right"}, each with optional "category" and "id", and writes one JSON
    result per line; a bad line is reported by number and the rest still run. The
    dilemma on line n draws its noise from default_rng([seed, n - 1]).
    """
    items = ask_lib.inputs_from_cli(groups, dilemma=dilemma, option_a=option_a,
                                    option_b=option_b, category=category, input_path=input_)  # fmt: skip
    panel = load_panel(country)
    params = DiscaParams(variant, use_prior=prior)
    with download_bar(display, "pulling model") as progress:
        engine, info = open_engine(model, n_threads=threads, n_gpu_layers=n_gpu_layers,
                                   n_ctx=n_ctx,
                                   seed=seed, progress=progress, extra_buffers=extra_buffers,
                                   prefix_cache=prefix_cache)  # fmt: skip
    failed = 0
    with engine:
        outcomes = ask_lib.answer_many(engine, info, panel, items, params, seed=seed,
                                       chunk=ask_lib.chunk_for(input_))  # fmt: skip
        while True:
            with working(display, "asking the panel (10 evaluations per dilemma)"):
                outcome = next(outcomes, None)  # shown on stderr once it takes > 2 s
            if outcome is None:
                break
            if outcome.error is not None and input_ is None:
                raise click.ClickException(outcome.error)
            if outcome.error is not None:
                failed += 1
                click.echo(f"Error: {outcome.error}", err=True)
            elif json_ or input_ is not None:
                click.echo(json.dumps(outcome.result, ensure_ascii=False))
            elif outcome.result is not None:
                explain.render(outcome.result, verbose=verbose, persona_texts=panel.texts(),
                               elapsed_s=outcome.elapsed_s)  # fmt: skip
    if failed:
        raise click.ClickException(f"{failed} input line(s) failed; the other lines were answered")
