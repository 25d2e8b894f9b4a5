"""`disca eval`: run MultiTP evaluations (resumable, shardable), merge shards, rescore runs."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from ..content.personas import parse_countries
from ..engine.options import EngineOptions
from ..evals.baselines import select as select_baselines
from ..evals.loop import EvalConfig, run_eval
from ..evals.merge import merge_shards
from ..evals.rescore import parse_grid, parse_seeds, rescore
from ..evals.runlog import parse_shard
from ..progress import make_progress
from ..views.render import render
from ..views.tables import country_table
from ._options import (
    PromptVariant,
    VariantOptions,
    WorkerOptions,
    countries_option,
    data_seed_option,
    display_option,
    engine_options,
    lang_option,
    out_option,
    param_option,
    personas_option,
    prompt_variant_options,
    seed_option,
    variant_options,
    worker_options,
)

__all__ = ["eval_"]

_BASELINES_HELP = (
    "Table-1 baselines too: all, or a comma list of labels and families (wvs_prompt, "
    "prism:short, b1, b4, static_bias, oracle_temp:paper, diffpo_binary, persona_count, "
    "tcat_scale, global_tcat, ...); `disca report` shows Table 1."
)


@click.group("eval")
def eval_() -> None:
    """Evaluate a model against human moral preferences (MultiTP / Moral Machine)."""


@eval_.command("multitp")
@engine_options
@countries_option(default="paper20")
@personas_option()
@out_option(help="Run folder.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N pool scenarios.")
@variant_options
@seed_option()
@data_seed_option
@click.option("--shard", help="i/n: do only pool positions p with p % n == i.")
@click.option("--chunk", type=click.IntRange(min=1), default=4,
              help="Scenarios per engine call (10 prompts each).")  # fmt: skip
@lang_option()
@prompt_variant_options
@worker_options
@click.option("--baselines", help=_BASELINES_HELP)
@click.option("--force", is_flag=True, help="Replace a run with a different config in --out.")
@display_option
def multitp(engine_options: EngineOptions, countries: str, personas_dir, out: Path,
            limit: int | None, variant: VariantOptions, seed: int, data_seed: int,
            shard: str | None, chunk: int, lang: str, prompt_variant: PromptVariant,
            workers: WorkerOptions, baselines: str | None, force: bool,
            display: str) -> None:  # fmt: skip
    """Evaluate vanilla, DISCA (both variants) and the ablations on the DISCA pool.

    Writes run.json, samples.jsonl (one record per country x scenario, flushed as it
    goes) and results.json to --out. Rerunning the same command resumes (with any
    --jobs or --executor). --jobs N runs N workers, each with its own model and
    --threads threads (default: the CPUs shared out); one writer keeps the records
    append-only. --cap, --min-per-category, --fourth (with --anchor-text) and
    --drop-dims change the prompts and are part of the run's config.
    """
    cfg = EvalConfig(
        out=out, countries=parse_countries(countries, personas_dir), engine=engine_options,
        limit=limit, variant=variant.variant, overrides=variant.overrides, seed=seed,
        data_seed=data_seed, shard=parse_shard(shard), chunk=chunk, force=force,
        personas_dir=personas_dir, jobs=workers.jobs, executor=workers.executor,
        address=workers.address, lang=lang, baselines=select_baselines(baselines),
        **dataclasses.asdict(prompt_variant),
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
@out_option(help="New run folder.")
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
@out_option(help="New run folder (a sweep folder when there are several points).")
@seed_option(default=None, help="IS seed  [default: the run's]")
@click.option("--seeds", help="Several IS seeds, e.g. 42,101,2026 (the paper's ± spread).")
@param_option(grid=True)
@click.option("--baselines", help="Table-1 baselines from the stored logits: all, or a "
              "comma list (prompt baselines only where RUN ran them).")  # fmt: skip
@click.option("--force", is_flag=True, help="Replace different runs already in --out.")
def rescore_(run: Path, out: Path, seed: int | None, seeds: str | None,
             params: tuple[str, ...], baselines: str | None, force: bool) -> None:  # fmt: skip
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
                      argv=sys.argv, baselines=baselines)  # fmt: skip
    if outcome.results is not None:
        render([country_table(outcome.results)])
        click.echo(f"rescored {run} into {out} in {outcome.seconds:.2f} s")
    elif outcome.sweep is not None:
        n = len(outcome.sweep.points)
        click.echo(f"rescored {run} into {n} runs under {out} in {outcome.seconds:.2f} s; "
                   f"`disca report {out}` for the sweep table")  # fmt: skip
