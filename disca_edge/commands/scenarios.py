"""`disca scenarios`: list the MultiTP vignettes or the DISCA pool."""

from __future__ import annotations

import csv
import io
import json

import click

from ..content.language import PERSONA_ONLY_NOTE
from ..content.scenarios import PROTOCOLS, scenario_rows
from ._options import countries_option, data_seed_option, json_option, lang_option

__all__ = ["scenarios"]

_COLUMNS = ("vignette_index", "category", "first_text", "second_text", "preferred", "prompt")


@click.group()
def scenarios() -> None:
    """The trolley vignettes (MultiTP's 460 rows and the DISCA pool)."""


@scenarios.command("list")
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default="multitp",
    help="multitp: 460 rows, MultiTP prompt; disca: the 310-row pool, DISCA user turn.",
)
@click.option("--format", "format_", type=click.Choice(["table", "csv"]), default="table")
@json_option("One JSON object per row.")
@click.option("--category", help="Only this category (e.g. Species, social_value).")
@data_seed_option
@lang_option(codes=True)
@countries_option(help="The country whose language --lang native means (one)",
                  default_text="none: English")  # fmt: skip
def list_(protocol: str, format_: str, json_: bool, category: str | None, data_seed: int,
          lang: str, countries: str | None) -> None:  # fmt: skip
    """One row per vignette: category, both groups, preferred side, prompt.

    The DISCA user turn is in --lang: native (the default) is the --country's frame
    language, English without a --country; MultiTP prompts are English only.
    """
    code = _language_code(lang, countries)
    rows = scenario_rows(protocol, data_seed=data_seed, category=category, lang=code)
    if json_:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    elif format_ == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        _print_table(rows, protocol)


def _language_code(lang: str, countries: str | None) -> str:
    """``--lang`` as a table language: en, a code, or native (the country's frame language)."""
    from ..content import i18n
    from ..content.personas import load_panel, parse_countries

    if countries is not None and lang != "native":
        raise click.UsageError(f"--country picks the language of --lang native, not of {lang}")
    if lang == "native":
        if countries is None:
            return "en"
        codes = parse_countries(countries)
        if len(codes) != 1:
            raise click.UsageError("--lang native lists one country's language: give one --country")
        panel = load_panel(codes[0])
        rendering = i18n.rendering(panel.iso3, "native", language_code=panel.language,
                                   english_name=panel.country_name)  # fmt: skip
        if rendering.persona_only:
            click.echo(f"note: {panel.iso3} ({rendering.persona_language}) is a "
                       f"{PERSONA_ONLY_NOTE}", err=True)  # fmt: skip
        return rendering.frame_language
    if lang != "en" and not i18n.language(lang).full:
        click.echo(f"note: {lang} is a {PERSONA_ONLY_NOTE}", err=True)
    return i18n.language(lang).code


def _print_table(rows: list[dict], protocol: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{protocol} scenarios ({len(rows)})", show_lines=True)
    for column in _COLUMNS:
        short = column in ("vignette_index", "category", "preferred")
        table.add_column(column, no_wrap=short, min_width=30 if column == "prompt" else None)
    for row in rows:
        table.add_row(*(str(row[column]) for column in _COLUMNS))
    Console().print(table)
