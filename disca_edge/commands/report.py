"""`disca report`: per-country, per-dimension and ablation tables of an evaluation run."""

from __future__ import annotations

from pathlib import Path

import click

from ..evaluate import load_results
from ..report import (
    FORMATS,
    ablation_table,
    compare_table,
    country_table,
    dimension_table,
    render,
    seed_table,
    sweep_table,
)
from ..rescore import SWEEP_FILE, read_sweep

__all__ = ["report"]


@click.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--country", help="Per-dimension bars, model vs human, for this country.")
@click.option("--compare", "other", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A second run to put side by side.")  # fmt: skip
@click.option(
    "--vanilla",
    type=click.Choice(["raw", "lfl"]),
    default="raw",
    show_default=True,
    help="Vanilla read-out for gains and wins: raw (paper) or lfl (like-for-like).",
)
@click.option("--format", "format_", type=click.Choice(FORMATS), default="rich", show_default=True)
@click.option("--recompute", is_flag=True, help="Recompute results from samples.jsonl.")
def report(run_dir: Path, country: str | None, other: Path | None, vanilla: str,
           format_: str, recompute: bool) -> None:  # fmt: skip
    """Tables of a `disca eval multitp` run, or of a `disca eval rescore` sweep.

    MIS per country (vanilla -> DISCA, % gain, wins, macro row) and the ablation table;
    --country for one country's dimensions. A sweep folder: macro MIS per parameter
    point as mean ± sd over the seeds (and per country for a seeds-only sweep).
    """
    van = f"vanilla_{vanilla}"
    if (run_dir / SWEEP_FILE).exists():  # a rescoring sweep: `disca eval rescore`
        sweep, runs = read_sweep(run_dir)
        tables = [sweep_table(sweep, runs, vanilla=van)]
        if len(sweep["points"]) == len(sweep["seeds"]) > 1:  # seeds only: per country too
            tables.append(seed_table(runs, vanilla=van))
        text = render(tables, format_)
        if text is not None:
            click.echo(text)
        return
    results = load_results(run_dir, recompute=recompute)
    if other is not None:
        names = (str(run_dir), str(other))
        tables = [compare_table(results, load_results(other), vanilla=van, names=names)]
    elif country:
        tables = [dimension_table(results, country, vanilla=van)]
    else:
        tables = [country_table(results, vanilla=van), ablation_table(results)]
    text = render(tables, format_)
    if text is not None:
        click.echo(text)
