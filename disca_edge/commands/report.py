"""`disca report`: per-country, per-dimension and ablation tables of an evaluation run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from ..content.personas import parse_countries
from ..errors import UnknownNameError
from ..evals.persona_effects import PersonaEffects, read_persona_effects
from ..evals.rescore import SWEEP_FILE, read_sweep
from ..evals.results import Results
from ..evals.scoring import read_run_results
from ..paths import atomic_write_bytes, atomic_write_text
from ..views.figures import FIGURES, figure_file, html_report
from ..views.plots import EXPORT_FORMATS
from ..views.render import FORMATS, Table, csv_notes, render
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
@click.option("--format", "format_", type=click.Choice([*FORMATS, "html", *EXPORT_FORMATS]),
              default=None,
              help="Tables: rich (default), md, csv (one long table), json; html: one "
                   "self-contained page of figures; svg, png or pdf: the --figure file "
                   "(default: --out's suffix).")  # fmt: skip
@click.option("--figure", "figure", type=click.Choice(FIGURES), default=None,
              help="Write one figure (of RUN_DIR and the --compare runs; dimensions and "
                   "personas of RUN_DIR) as SVG, PNG or PDF: --out FILE.svg|.png|.pdf.")  # fmt: skip
@out_option(help="Write to FILE instead of stdout (atomic).", required=False, file=True)
@click.option("--recompute", is_flag=True, help="Recompute results from samples.jsonl.")
def report(run_dir: Path, countries: str | None, others: tuple[Path, ...], vanilla: str,
           format_: str | None, figure: str | None, out: Path | None,
           recompute: bool) -> None:  # fmt: skip
    """Tables (or a page of figures) of a `disca eval multitp` run, or of a sweep.

    MIS per country (vanilla -> DISCA, % gain, wins, macro row) and the ablation table;
    --country for one country's dimensions. A sweep folder (`disca eval rescore`):
    macro MIS per parameter point as mean ± sd over the seeds (and per country for a
    seeds-only sweep).

    \b
      disca report runs/A --format html -o report.html
      disca report runs/A --compare runs/B --compare runs/C --format html -o cmp.html
      disca report runs/A --compare runs/B --country JP
      disca report runs/A --figure personas -o personas.pdf
      disca report runs/A --format csv -o mis.csv    # and mis.csv.json: titles, caveats

    With --compare, --country shows that country's dimensions in every run given.

    --format html draws the figures: per-country MIS dumbbells (vanilla -> DISCA),
    per-dimension model-vs-human bars per country, the persona effects, the ablations
    and the run metadata, for every run given; the page loads nothing from the network.
    Figures need matplotlib: pip install 'disca-edge[plots]'.

    --format csv writes one long table (a row per table row and number: table, the
    row's names, variable, value, low, high) that pandas.read_csv reads as it is; the
    titles, header lines and notes go to FILE.json beside --out FILE (to stderr
    without --out).
    """
    van = f"vanilla_{vanilla}"
    if figure is not None or format_ in EXPORT_FORMATS:
        _export_figure(figure, format_, out, [run_dir, *others], countries, van, recompute)
        return
    format_ = format_ or "rich"
    if (run_dir / SWEEP_FILE).exists():  # a rescoring sweep: `disca eval rescore`
        if countries or others:
            raise click.UsageError("--country and --compare take run folders, not a sweep")
        if format_ == "html":
            raise click.UsageError("a sweep has tables only: --format rich, md, csv or json")
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
        effects = [_effects(Path(path), res) for path, res in pages]
        page = html_report(pages, vanilla=van, effects=effects)
        if out is None:
            click.echo(page, nl=False)
        else:
            atomic_write_text(out, page)
            click.echo(f"wrote {out} ({len(pages)} run(s), {len(page.encode()):,} bytes)")
        return
    _emit(_tables(pages, countries, van), format_, out)


def _effects(run: Path, results: Results) -> PersonaEffects:
    """The persona effects of a run folder's samples (the headline DISCA variant's)."""
    return read_persona_effects(run, results.run.primary)


def _export_figure(
    figure: str | None, format_: str | None, out: Path | None, runs: list[Path],
    countries: str | None, vanilla: str, recompute: bool,
) -> None:  # fmt: skip
    """``--figure NAME``: one figure written as SVG, PNG or PDF (SVG may go to stdout)."""
    if figure is None:
        raise click.UsageError(f"--format {format_} writes a figure: give --figure NAME")
    if countries:
        raise click.UsageError("--figure draws every country; --country is for tables")
    if runs and (runs[0] / SWEEP_FILE).exists():
        raise click.UsageError("--figure takes run folders, not a sweep")
    suffix = out.suffix.lower().lstrip(".") if out is not None else ""
    fmt = format_ or suffix or ("svg" if out is None else "")
    if fmt not in EXPORT_FORMATS:
        raise click.UsageError(
            "--figure writes svg, png or pdf: give --out FILE.svg|.png|.pdf or --format"
        )
    if out is None and fmt != "svg":
        raise click.UsageError(f"--figure with --format {fmt} needs --out FILE")
    pages = [(str(run), read_run_results(run, recompute=recompute)) for run in runs]
    effects = _effects(runs[0], pages[0][1]) if figure == "personas" else None
    data = figure_file(figure, pages, fmt, vanilla=vanilla, effects=effects)
    if out is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    atomic_write_bytes(out, data)
    click.echo(f"wrote {out} ({figure}, {fmt}, {len(data):,} bytes)")


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
    """Print the tables, or write them to `out` (Markdown for the rich view).

    A CSV holds numbers only: its titles, header lines and notes go to ``OUT.json``
    beside it, or to stderr when it goes to stdout.
    """
    if out is not None:
        text = render(tables, "md" if format_ == "rich" else format_)
        atomic_write_text(out, text or "")
        click.echo(f"wrote {out}")
        if format_ == "csv":
            notes = out.with_name(out.name + ".json")
            atomic_write_text(notes, csv_notes(tables) + "\n")
            click.echo(f"wrote {notes} (titles, header lines and notes of the CSV)")
        return
    text = render(tables, format_)
    if text is not None:
        click.echo(text, nl=format_ != "csv")
    if format_ == "csv":
        for t in tables:
            for line in [t.title, *t.header, *t.notes]:
                click.echo(f"# {line}", err=True)
