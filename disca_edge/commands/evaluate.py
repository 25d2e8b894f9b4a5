"""`disca eval`: run MultiTP evaluations (resumable, shardable), merge shards, rescore runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..content.personas import parse_countries
from ..content.variants import parse_cap, parse_drop_dims
from ..evals.loop import EvalConfig, parse_params, run_eval
from ..evals.merge import merge_shards
from ..evals.rescore import parse_grid, parse_seeds, rescore
from ..evals.runlog import parse_shard
from ..progress import make_progress
from ..views.render import render
from ..views.tables import country_table
from ._complete import complete_countries
from ._options import display_option, engine_options
from .personas import personas_option

__all__ = ["eval_"]


@click.group("eval")
def eval_() -> None:
    """Evaluate a model against human moral preferences (MultiTP / Moral Machine)."""


@eval_.command("multitp")
@engine_options
@click.option(
    "--countries",
    default="paper20",
    show_default=True,
    help="Comma-separated ISO3 codes or names, or paper20 (the paper's 20 countries).",
    shell_complete=complete_countries,
)
@personas_option()
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder."
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N pool scenarios.")
@click.option(
    "--variant",
    type=click.Choice(["paper", "reference"]),
    default="paper",
    show_default=True,
    help="Headline DISCA variant and ablation base (both variants are always computed).",
)
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True, help="IS seed.")
@click.option("--data-seed", type=click.IntRange(min=0), default=42, show_default=True)
@click.option("--shard", help="i/n: do only pool positions p with p % n == i.")
@click.option("--chunk", type=click.IntRange(min=1), default=4, show_default=True,
              help="Scenarios per engine call (10 prompts each).")  # fmt: skip
@click.option(
    "--lang",
    type=click.Choice(["native", "en"]),
    default="native",
    show_default=True,
    help="native: each country in its own language (the paper's protocol; persona-only "
    "languages keep the English frame); en: everything in English.",
)
@click.option("--param", "params", multiple=True, help="DISCA override NAME=VALUE (repeatable).")
@click.option("--cap", default="80", show_default=True,
              help="Pool rows per category: 80 (paper), 40, 120 or none (prompt variant).")  # fmt: skip
@click.option("--min-per-category", type=click.IntRange(min=0), default=0, show_default=True,
              help="Oversample small categories to N rows (36: the paper's text).")  # fmt: skip
@click.option("--fourth", type=click.Choice(["aggregate", "utilitarian"]), default="aggregate",
              show_default=True, help="Fourth persona: the population aggregate or a "
              "utilitarian anchor (the authors' text, in the personas' language).")  # fmt: skip
@click.option("--anchor-text", type=click.Choice(["fixed", "released"]), default="fixed",
              show_default=True, help="Wording of the --fourth utilitarian anchor: fixed "
              "(the country named) or released ({country_name} left unfilled, as in the "
              "authors' code).")  # fmt: skip
@click.option("--drop-dims", help="WVS dimensions left out of the persona texts "
              "(comma-separated, e.g. religiosity).")  # fmt: skip
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (or Ray actors), each with its own model.")  # fmt: skip
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Where jobs run: local processes or Ray actors.")  # fmt: skip
@click.option("--address", help="Ray cluster address (e.g. auto); default: a local Ray.")
@click.option("--force", is_flag=True, help="Replace a run with a different config in --out.")
@display_option
def multitp(model, countries, personas_dir, out, limit, variant, seed, data_seed, shard, chunk,
            params, cap, min_per_category, fourth, anchor_text, drop_dims, jobs, threads,
            executor, address, n_gpu_layers, n_ctx, extra_buffers, force, display,
            lang) -> None:  # fmt: skip
    """Evaluate vanilla, DISCA (both variants) and the ablations on the DISCA pool.

    Writes run.json, samples.jsonl (one record per country x scenario, flushed as it
    goes) and results.json to --out. Rerunning the same command resumes (with any
    --jobs or --executor). --jobs N runs N workers, each with its own model and
    --threads threads (default: the CPUs shared out); one writer keeps the records
    append-only. --cap, --min-per-category, --fourth (with --anchor-text) and
    --drop-dims change the prompts and are part of the run's config.
    """
    cfg = EvalConfig(
        out=out, countries=parse_countries(countries, personas_dir), model=model, limit=limit,
        variant=variant, seed=seed, data_seed=data_seed, shard=parse_shard(shard),
        chunk=chunk, overrides=parse_params(params), n_threads=threads,
        n_gpu_layers=n_gpu_layers, n_ctx=n_ctx, extra_buffers=extra_buffers, force=force,
        personas_dir=personas_dir, jobs=jobs, executor=executor, address=address,
        cap=parse_cap(cap), min_per_category=min_per_category, fourth=fourth,
        anchor_text=anchor_text, drop_dims=parse_drop_dims(drop_dims), lang=lang,
    )  # fmt: skip
    try:
        outcome = run_eval(cfg, progress=make_progress(display), argv=sys.argv)
    except KeyboardInterrupt:
        click.echo(f"Interrupted; finished records are saved in {out}. "
                   "Run the same command again to resume.", err=True)  # fmt: skip
        raise click.exceptions.Exit(130) from None
    if outcome.results is not None:
        render([country_table(outcome.results)])
    click.echo(
        f"{outcome.n_new} new, {outcome.n_present} records in {out} "
        f"({outcome.seconds:.1f} s); `disca report {out}` for the ablation table"
    )


@eval_.command("merge")
@click.argument(
    "runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="New run folder."
)
@click.option("--force", is_flag=True, help="Replace a run already in --out.")
def merge_(runs: tuple[Path, ...], out: Path, force: bool) -> None:
    """Combine shard runs (same config) into one run folder with its results."""
    results = merge_shards(runs, out, force=force)
    render([country_table(results)])
    coverage = results.coverage
    click.echo(f"merged {len(runs)} runs into {out}: {coverage.present} of "
               f"{coverage.expected} scenarios")  # fmt: skip


@eval_.command("rescore")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="New run folder (a sweep folder when there are several points).",
)  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), help="IS seed (default: the run's).")
@click.option("--seeds", help="Several IS seeds, e.g. 42,101,2026 (the paper's ± spread).")
@click.option("--param", "params", multiple=True,
              help="DISCA override NAME=VALUE or a grid NAME=V1,V2,... (repeatable).")  # fmt: skip
@click.option("--force", is_flag=True, help="Replace different runs already in --out.")
def rescore_(run: Path, out: Path, seed: int | None, seeds: str | None,
             params: tuple[str, ...], force: bool) -> None:  # fmt: skip
    """Recompute every method of RUN from its stored logits: no model, seconds.

    One point writes a run folder; several (--seeds, or a --param with several values)
    write one run folder per point plus sweep.json, which `disca report` renders. RUN is
    only read; each new run records where it came from.
    """
    if seed is not None and seeds is not None:
        raise click.UsageError("give --seed or --seeds, not both")
    seed_list = parse_seeds(seeds) if seeds is not None else None
    if seed is not None:
        seed_list = [seed]
    outcome = rescore(run, out, seeds=seed_list, grid=parse_grid(params), force=force,
                      argv=sys.argv)  # fmt: skip
    if outcome.results is not None:
        render([country_table(outcome.results)])
        click.echo(f"rescored {run} into {out} in {outcome.seconds:.2f} s")
    elif outcome.sweep is not None:
        n = len(outcome.sweep.points)
        click.echo(f"rescored {run} into {n} runs under {out} in {outcome.seconds:.2f} s; "
                   f"`disca report {out}` for the sweep table")  # fmt: skip
