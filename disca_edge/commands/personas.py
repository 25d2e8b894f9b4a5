"""`disca personas`: list, show and build the WVS-grounded persona panels."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..content.personas import (
    COHORTS,
    WVS_DIMENSIONS,
    Panel,
    build_from_wvs,
    list_panels,
    load_panel,
)
from ..progress import make_progress
from ._complete import complete_countries
from ._options import (
    countries_option,
    display_option,
    json_option,
    lang_option,
    out_option,
    personas_option,
)

__all__ = ["personas"]


_DIR_OPTION = personas_option("--dir")
_JSON_OPTION = json_option("Output JSON.")


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr)


def _estimated(panel: Panel) -> str:
    count = sum(p.estimated for p in panel.personas)
    return f"{count} cohorts" if count else "none"


@click.group(invoke_without_command=True)
@click.pass_context
def personas(ctx: click.Context) -> None:
    """WVS-grounded persona panels, four per country (default: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_)


@personas.command("list")
@_DIR_OPTION
@_JSON_OPTION
def list_(personas_dir: Path | None, json_: bool) -> None:
    """Countries with a panel: codes, names, language, provenance."""
    panels = list_panels(personas_dir)
    rows = [
        {
            "iso3": p.iso3,
            "iso2": p.iso2,
            "name": p.name,
            "native_name": p.native_name,
            "language": p.language,
            "provenance": p.provenance,
            "estimated_cohorts": [q.cohort for q in p.personas if q.estimated],
            "path": str(p.path),
        }
        for p in panels
    ]
    if json_:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=f"{len(panels)} persona panels")
    for column in ("ISO3", "ISO2", "Country", "Native name", "Lang", "Provenance", "Estimated"):
        table.add_column(column, no_wrap=column not in ("Country", "Native name"))
    for p in panels:
        table.add_row(
            p.iso3, p.iso2, p.name, p.native_name, p.language, p.provenance, _estimated(p)
        )
    _console().print(table)


@personas.command("show")
@click.argument("country", shell_complete=complete_countries)
@_DIR_OPTION
@_JSON_OPTION
@lang_option()
def show(country: str, personas_dir: Path | None, json_: bool, lang: str) -> None:
    """One country's four personas: levels per dimension, then the rendered texts.

    COUNTRY is an ISO3 or ISO2 code or an English name, in any case (JPN, jp, Japan).
    `disca personas show VNM` prints the paper's four printed Vietnamese personas.
    """
    from ..pipeline import panel_prompts

    panel = load_panel(country, personas_dir)
    prompts = panel_prompts(panel, lang)
    if json_:
        data = panel.to_dict()
        data["language"] = prompts.rendering.to_dict()
        data["base_prompt"] = prompts.systems[0]
        for entry, text in zip(data["personas"], prompts.persona_texts, strict=True):
            entry["text"] = text
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    console.print(
        f"[bold]{escape(panel.name)}[/bold] ({panel.iso3}/{panel.iso2 or '-'}, "
        f"{escape(panel.native_name)}), language {panel.language}; "
        f"texts: --lang {lang} ({escape(prompts.rendering.label)})"
    )
    if prompts.rendering.persona_only:
        console.print(f"note: {prompts.rendering.to_dict()['note']}", highlight=False)
    console.print(
        f"provenance: {panel.provenance}: {escape(panel.provenance_note)}", highlight=False
    )
    borderline = set(panel.source.get("borderline") or [])
    table = Table(caption="level (score); * estimated cohort; ! population score near a cut")
    table.add_column("dimension")
    for persona in panel.personas:
        table.add_column(persona.cohort + (" *" if persona.estimated else ""), justify="center")
    for key in WVS_DIMENSIONS:
        cells = []
        for persona in panel.personas:
            level, score = persona.levels[key], persona.scores[key]
            cell = "skip" if level is None else str(level)
            cells.append(cell if score is None else f"{cell} ({score:.3f})")
        table.add_row(key + (" !" if key in borderline else ""), *cells)
    console.print(table)
    for persona, text in zip(panel.personas, prompts.persona_texts, strict=True):
        console.print(f"\n[bold]{persona.cohort}[/bold]", highlight=False)
        console.print(text, highlight=False, markup=False, soft_wrap=True)
    console.print(f"\nsha256 {panel.sha256()}  {panel.path}", highlight=False)


@personas.command("build")
@click.option(
    "--wvs",
    "wvs_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="WVS-7 cross-national inverted CSV you downloaded from worldvaluessurvey.org.",
)
@out_option(help="Folder for the ISO3.toml panel files.")
@countries_option(help="Countries to build, ISO3, ISO2 or names (JP,US,DE)",
                  default_text="every country in the file")  # fmt: skip
@display_option
def build(wvs_file: Path, out: Path, countries: str | None, display: str) -> None:
    """Build panels from WVS-7 microdata (PERSONAS.md §3-§4); the file is never copied."""
    wanted = [c for c in countries.split(",") if c.strip()] if countries else None
    progress = make_progress(display, unit="bytes", description="reading WVS")
    progress.start(os.path.getsize(wvs_file))
    try:
        paths = build_from_wvs(wvs_file, out, wanted, progress=progress)
    finally:
        progress.close()
    from rich.table import Table

    table = Table(title=f"{len(paths)} panels written to {out}")
    table.add_column("ISO3")
    for cohort in COHORTS:
        table.add_column(f"n {cohort}", justify="right")
    table.add_column("levels (all)")
    for panel in (load_panel(p.stem, p.parent) for p in paths):
        counts = panel.source.get("n_respondents", {})
        levels = panel.persona("all").levels
        table.add_row(
            panel.iso3,
            *(str(counts.get(c, "")) for c in COHORTS),
            "".join("-" if levels[k] is None else str(levels[k]) for k in WVS_DIMENSIONS),
        )
    _console().print(table)
