"""`disca report`: per-country, per-dimension and ablation tables of an evaluation run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from ..content.personas import parse_countries
from ..errors import UnknownNameError
from ..evals.rescore import SWEEP_FILE, read_sweep
from ..evals.results import Results
from ..evals.scoring import read_run_results
from ..paths import atomic_write_text
from ..views.figures import html_report
from ..views.render import FORMATS, Table, render
from ..views.sweeps import seed_table, sweep_table
from ..views.table1 import baseline_tables
from ..views.tables import ablation_table, compare_table, country_table, dimension_table
from ._options import countries_option, out_option

__all__ = ["report"]


@click.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@countries_option(help="Per-dimension bars, model vs human, for this country (several: JP,US)")
@click.option("--compare", "others", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Another run to put side by side (repeatable).")  # fmt: skip
@click.option(
    "--vanilla",
    type=click.Choice(["raw", "lfl"]),
    default="raw",
    help="Vanilla read-out for gains and wins: raw (paper) or lfl (like-for-like).",
)
@click.option("--format", "format_", type=click.Choice([*FORMATS, "html"]), default="rich",
              help="html: one self-contained page of figures (inline SVG), see --out.")  # fmt: skip
@out_option(help="Write to FILE instead of stdout (atomic).", required=False, file=True)
@click.option("--recompute", is_flag=True, help="Recompute results from samples.jsonl.")
def report(run_dir: Path, countries: str | None, others: tuple[Path, ...], vanilla: str,
           format_: str, out: Path | None, recompute: bool) -> None:  # fmt: skip
    """Tables (or a page of figures) of a `disca eval multitp` run, or of a sweep.

    MIS per country (vanilla -> DISCA, % gain, wins, macro row) and the ablation table;
    --country for one country's dimensions. A sweep folder (`disca eval rescore`):
    macro MIS per parameter point as mean ± sd over the seeds (and per country for a
    seeds-only sweep).

    \b
      disca report runs/A --format html -o report.html
      disca report runs/A --compare runs/B --compare runs/C --format html -o cmp.html
      disca report runs/A --compare runs/B --country JP

    With --compare, --country shows that country's dimensions in every run given.

    --format html draws the figures: per-country MIS dumbbells (vanilla -> DISCA),
    per-dimension model-vs-human bars per country, the ablations and the run metadata,
    for every run given; the page loads nothing from the network.
    """
    van = f"vanilla_{vanilla}"
    if (run_dir / SWEEP_FILE).exists():  # a rescoring sweep: `disca eval rescore`
        if countries or others:
            raise click.UsageError("--country and --compare take run folders, not a sweep")
        sweep, runs = read_sweep(run_dir)
        tables = [sweep_table(sweep, runs, vanilla=van)]
        if sweep.seeds_only:  # per country too
            tables.append(seed_table(runs, vanilla=van))
        _emit(tables, format_, out)
        return
    pages = [(str(run), read_run_results(run, recompute=recompute)) for run in (run_dir, *others)]
    if format_ == "html":
        if countries:
            raise click.UsageError("--format html draws every country; --country is for tables")
        page = html_report(pages, vanilla=van)
        if out is None:
            click.echo(page, nl=False)
        else:
            atomic_write_text(out, page)
            click.echo(f"wrote {out} ({len(pages)} run(s), {len(page.encode()):,} bytes)")
        return
    _emit(_tables(pages, countries, van), format_, out)


def _tables(pages: list[tuple[str, Results]], countries: str | None, vanilla: str) -> list[Table]:
    """The tables of (name, results) runs: per-country dimensions, a comparison, or one run."""
    (name, results), others = pages[0], pages[1:]
    if countries:
        return [
            _titled(dimension_table(res, iso, vanilla=vanilla), label if others else None)
            for iso in _country_codes(countries)
            for label, res in pages
        ]
    if others:
        return [compare_table(results, res, vanilla=vanilla, names=(name, label))
                for label, res in others]  # fmt: skip
    return [country_table(results, vanilla=vanilla), ablation_table(results),
            *baseline_tables(results)]  # fmt: skip


def _titled(table: Table, run: str | None) -> Table:
    """`table`, its title naming the run it comes from when there are several."""
    return table if run is None else dataclasses.replace(table, title=f"{run}: {table.title}")


def _country_codes(text: str) -> list[str]:
    """``--country`` as ISO3 codes; a name no shipped panel knows is kept as written.

    A run made with its own ``--personas`` folder may hold such a country, and
    `dimension_table` names the run's countries when it does not.
    """
    codes: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            found = list(parse_countries(part)) if part else []
        except UnknownNameError:
            found = [part]
        codes += [c for c in found if c not in codes]
    return codes


def _emit(tables: list[Table], format_: str, out: Path | None) -> None:
    """Print the tables, or write them to `out` (Markdown for the rich view)."""
    if out is not None:
        text = render(tables, "md" if format_ == "rich" else format_)
        atomic_write_text(out, text or "")
        click.echo(f"wrote {out}")
        return
    text = render(tables, format_)
    if text is not None:
        click.echo(text)
