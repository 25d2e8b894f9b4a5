"""`disca scenarios`: list the MultiTP vignettes or the DISCA pool."""

from __future__ import annotations

import csv
import io
import json

import click

from ..scenarios import PROTOCOLS, scenario_rows

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
    show_default=True,
    help="multitp: 460 rows, MultiTP prompt; disca: the 310-row pool, DISCA user turn.",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["table", "csv", "jsonl"]),
    default="table",
    show_default=True,
)
@click.option("--json", "json_", is_flag=True, help="Same as --format jsonl.")
@click.option("--category", help="Only this category (e.g. Species, social_value).")
@click.option("--data-seed", type=int, default=42, show_default=True, help="DISCA data seed.")
def list_(protocol: str, format_: str, json_: bool, category: str | None, data_seed: int) -> None:
    """One row per vignette: category, both groups, preferred side, prompt."""
    rows = scenario_rows(protocol, data_seed=data_seed, category=category)
    if json_ or format_ == "jsonl":
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
