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
from ..evals.noise_run import measure_noise
from ..evals.rescore import parse_grid, parse_seeds, rescore
from ..evals.results import Results
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
    noise_setting_option,
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
              help="Scenarios per work item (handed to a worker, written together).")  # fmt: skip
@lang_option()
@prompt_variant_options
@worker_options
@click.option("--baselines", help=_BASELINES_HELP)
@click.option("--force", is_flag=True, help="Replace a run with a different config in --out.")
@click.option("--noise-floor", type=click.IntRange(min=1), metavar="N",
              help="Then re-evaluate the first N scenarios per country under a second kernel "
              "setting (`disca eval noise-floor`).")  # fmt: skip
@noise_setting_option("--noise-setting")
@display_option
def multitp(engine_options: EngineOptions, countries: str, personas_dir, out: Path,
            limit: int | None, variant: VariantOptions, seed: int, data_seed: int,
            shard: str | None, chunk: int, lang: str, prompt_variant: PromptVariant,
            workers: WorkerOptions, baselines: str | None, force: bool,
            noise_floor: int | None, noise_setting: str, display: str) -> None:  # fmt: skip
    """Evaluate vanilla, DISCA (both variants) and the ablations on the DISCA pool.

    Writes run.json, samples.jsonl (one record per country x scenario, flushed as it
    goes) and results.json to --out. Rerunning the same command resumes (with any
    --jobs or --executor). --jobs N runs N workers, each with its own model and
    --threads threads (default: the CPUs shared out); one writer keeps the records
    append-only. --cap, --min-per-category, --fourth (with --anchor-text) and
    --drop-dims change the prompts and are part of the run's config. --noise-floor N
    then measures the model's numerical noise (see `disca eval noise-floor`).
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
    results = outcome.results
    if noise_floor is not None and outcome.status == "success":
        results = _noise_floor(out, noise_floor, noise_setting, engine_options.n_threads,
                               False, display)  # fmt: skip
    if results is not None:
        render([country_table(results)])
    click.echo(
        f"{outcome.n_new} new, {outcome.n_present} records in {out} "
        f"({outcome.seconds:.1f} s); `disca report {out}` for the ablation table"
    )


def _noise_floor(run: Path, n: int, setting: str, threads: int | None, force: bool,
                 display: str) -> Results:  # fmt: skip
    """Measure (or resume) a run's noise floor; Ctrl-C exits 130 with what is done kept."""
    try:
        outcome = measure_noise(run, n, setting=setting, n_threads=threads, force=force,
                                progress=make_progress(display))  # fmt: skip
    except KeyboardInterrupt:
        click.echo(f"Interrupted; the re-evaluated scenarios are saved in {run}/noise.jsonl. "
                   "Run the same command again to resume.", err=True)  # fmt: skip
        raise click.exceptions.Exit(130) from None
    click.echo(f"noise floor ({setting}): {outcome.n_new} scenarios re-evaluated, "
               f"{outcome.n_present} in {run}/noise.jsonl ({outcome.seconds:.1f} s)",
               err=True)  # fmt: skip
    return outcome.results


@eval_.command("noise-floor")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--scenarios", "-n", "n", type=click.IntRange(min=1), default=3,
              help="Scenarios per country: the first N of the run's.")  # fmt: skip
@noise_setting_option("--setting")
@click.option("--threads", "-t", type=click.IntRange(min=1),
              help="CPU threads  [default: the run's]")  # fmt: skip
@click.option("--force", is_flag=True, help="Replace a noise floor of another --setting.")
@display_option
def noise_floor_(run: Path, n: int, noise_setting: str, threads: int | None, force: bool,
                 display: str) -> None:  # fmt: skip
    """Measure the model's numerical noise in RUN's persona effects.

    Re-evaluates the first N scenarios per country with the run's exact prompts under
    a second valid kernel setting, storing per-prompt logits and differences in
    RUN/noise.jsonl (resumable; samples.jsonl is not touched), then rewrites
    results.json: per country the median and 95th percentile of |Δ(δ_i − δ_base)|
    beside the persona effects and DISCA's shift, flagged where they are below it.
    """
    results = _noise_floor(run, n, noise_setting, threads, force, display)
    render([country_table(results)])


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
