"""Report tables as data, and their renderings: rich, Markdown, CSV and JSON.

A `Table` holds raw values per row (`Column` says how to show each); it is formatted
only when rendered. `views.tables` and `views.sweeps` build them from results. A
table's ``header`` lines (the model, the prompt variant, the caveats) are shown above
it, its ``notes`` below; `html_table` gives the same table as an HTML fragment. CSV is
one long table of every table's numbers, with nothing else in the stream, so
``pandas.read_csv`` reads it with no options; `csv_notes` gives what it leaves out.
"""

from __future__ import annotations

import csv
import html
import io
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

__all__ = [
    "CSV_VALUE_COLUMNS",
    "Column",
    "Table",
    "FORMATS",
    "format_value",
    "bar",
    "render",
    "csv_notes",
    "html_table",
]

FORMATS = ("rich", "md", "csv", "json")


@dataclass
class Column:
    """One column: row key, header text and value kind.

    Kinds: ``text``, ``int``, ``mis`` (3 decimals), ``pct`` (signed, 1 decimal),
    ``corr`` (signed, 2 decimals), ``frac`` (3 decimals), ``delta`` (signed, 3
    decimals), ``pp`` (signed percentage points, 1 decimal), ``bar`` (a [0, 1] value
    drawn as a bar). A number kind with ``_ci`` appended (``mis_ci``, ``delta_ci``,
    ``pct_ci``) takes a (value, [low, high] or None) pair and shows
    ``value [low, high]``.

    ``show``: ``all``; ``view`` (rich and Markdown only: bars, the paper-style cells);
    ``data`` (CSV and JSON only: the raw numbers behind a view cell).
    """

    key: str
    header: str
    kind: str = "text"
    show: str = "all"


@dataclass
class Table:
    """A report table: raw values per row, formatted only when rendered."""

    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    footer: list[dict[str, Any]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: raw values only (view-only columns left out)."""
        keys = [c.key for c in self.columns if c.show != "view"]
        return {
            "name": self.name,
            "title": self.title,
            "header": list(self.header),
            "columns": keys,
            "rows": [{k: row.get(k) for k in keys} for row in self.rows],
            "footer": [{k: row.get(k) for k in keys} for row in self.footer],
            "notes": list(self.notes),
        }


_NUMBER_FORMATS = {
    "pct": "+.1f",
    "corr": "+.2f",
    "pp": "+.1f",
    "delta": "+.3f",
    "mis": ".3f",
    "frac": ".3f",
}


def format_value(value: Any, kind: str) -> str:
    """A cell's text: a value of a `Column` kind (None: an em dash)."""
    if value is None:
        return "—"
    if kind.endswith("_ci"):
        return _with_interval(value, kind[: -len("_ci")])
    if kind in _NUMBER_FORMATS:
        return format(value, _NUMBER_FORMATS[kind])
    if kind == "int":
        return str(int(value))
    if kind == "bar":
        return bar(value)
    return str(value)


def _with_interval(pair: Any, kind: str) -> str:
    """``value [low, high]`` of a (value, interval) pair; the value alone without one."""
    value, bounds = pair
    if value is None:
        return "—"
    text = format_value(value, kind)
    if not bounds:
        return text
    low, high = bounds
    return f"{text} [{format_value(low, kind)}, {format_value(high, kind)}]"


def bar(value: float, width: int = 20) -> str:
    """A horizontal bar for a [0, 1] value with eighth-block resolution."""
    value = min(max(float(value), 0.0), 1.0)
    eighths = round(value * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return text.ljust(width)


def render(tables: Sequence[Table], fmt: str = "rich", console: Any = None) -> str | None:
    """Render tables.

    Args:
        tables: the tables, in order.
        fmt: ``rich`` (printed to ``console``, returns None), ``md``, ``csv`` or ``json``
            (returned as text). ``csv`` is one long table that ``pandas.read_csv`` reads
            as it is: a column ``table`` (the table's name), the tables' identifier (text)
            columns, then ``variable``, ``value``, ``low`` and ``high`` (a row per table
            row and number column; ``X_low``/``X_high`` columns become the ``low`` and
            ``high`` of ``X``); titles, header lines and notes are left out (`csv_notes`).
        console: a `rich.console.Console` for ``rich`` (default: stdout).

    Raises:
        ValueError: an unknown format.
    """
    if fmt == "rich":
        _render_rich(tables, console)
        return None
    if fmt == "md":
        return "\n".join(_markdown(t, h) for t, h in zip(tables, _new_headers(tables), strict=True))
    if fmt == "csv":
        return _csv(tables)
    if fmt == "json":
        return json.dumps({"tables": [t.as_dict() for t in tables]}, indent=2, ensure_ascii=False)
    raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")


def _new_headers(tables: Sequence[Table]) -> list[list[str]]:
    """Each table's header lines, empty where the table before had the same ones."""
    shown: list[list[str]] = []
    previous: list[str] = []
    for t in tables:
        shown.append([] if t.header == previous else list(t.header))
        previous = t.header
    return shown


def _render_rich(tables: Sequence[Table], console: Any) -> None:
    if console is None:  # piped output: wide enough for the tables instead of 80 columns
        console = Console() if sys.stdout.isatty() else Console(width=200)
    for t, header in zip(tables, _new_headers(tables), strict=True):
        for line in header:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if header:
            console.print()
        rt = RichTable(title=t.title, title_justify="left", caption_justify="left")
        columns = [c for c in t.columns if c.show != "data"]
        for col in columns:
            numeric = col.kind not in ("text", "bar")
            rt.add_column(
                col.header, justify="right" if numeric else "left", no_wrap=col.kind == "bar"
            )
        for i, row in enumerate(t.rows):
            rt.add_row(
                *(format_value(row.get(c.key), c.kind) for c in columns),
                end_section=bool(t.footer) and i == len(t.rows) - 1,
            )
        for row in t.footer:
            rt.add_row(
                *(format_value(row.get(c.key), c.kind) if c.key in row else "" for c in columns),
                style="bold",
            )
        rt.caption = Text("\n".join(t.notes))  # Text: "[low, high]" is not markup
        console.print(rt, markup=False, highlight=False)
        console.print()


def _markdown_cell(row: Mapping[str, Any], c: Column) -> str:
    if c.key not in row:
        return ""
    text = format_value(row.get(c.key), c.kind)
    return f"`{text}`" if c.kind == "bar" else text.replace("|", "\\|")


def _markdown(t: Table, header: Sequence[str]) -> str:
    columns = [c for c in t.columns if c.show != "data"]
    lines = [f"### {t.title}", ""]
    if header:
        lines.extend(f"{line}  " for line in header)  # two spaces: a Markdown line break
        lines.append("")
    lines.append("| " + " | ".join(c.header.replace("|", "\\|") for c in columns) + " |")
    aligns = [":---" if c.kind in ("text", "bar") else "---:" for c in columns]
    lines.append("| " + " | ".join(aligns) + " |")
    for row in t.rows:
        lines.append("| " + " | ".join(_markdown_cell(row, c) for c in columns) + " |")
    for row in t.footer:
        cells = [_markdown_cell(row, c) for c in columns]
        lines.append("| " + " | ".join(f"**{x}**" if x else "" for x in cells) + " |")
    lines.append("")
    lines.extend(f"- {note}" for note in t.notes)
    lines.append("")
    return "\n".join(lines)


#: Columns of the long CSV after the tables' identifier columns.
CSV_VALUE_COLUMNS = ("variable", "value", "low", "high")


def _csv_shape(t: Table) -> tuple[list[str], list[tuple[str, str | None, str | None]]]:
    """A table's identifier columns and its variables as (key, low key, high key).

    Identifiers: the text columns; variables: every other column shown in data formats,
    ``X_low`` and ``X_high`` folded into the variable ``X`` when it has both.
    """
    shown = [c for c in t.columns if c.show != "view" and c.kind != "bar"]
    keys = {c.key for c in shown}
    ids = [c.key for c in shown if c.kind == "text"]
    bounds = {f"{k}_{end}" for k in keys for end in ("low", "high")
              if f"{k}_low" in keys and f"{k}_high" in keys}  # fmt: skip
    variables = []
    for c in shown:
        if c.kind == "text" or c.key in bounds:
            continue
        pair = f"{c.key}_low" in bounds
        variables.append(
            (c.key, f"{c.key}_low" if pair else None, f"{c.key}_high" if pair else None)
        )
    return ids, variables


def _csv(tables: Sequence[Table]) -> str:
    """Every table as one long CSV: a row per (table row, variable) (see `render`)."""
    shapes = [_csv_shape(t) for t in tables]
    ids = list(dict.fromkeys(k for table_ids, _ in shapes for k in table_ids))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["table", *ids, *CSV_VALUE_COLUMNS])

    def cell(row: Mapping[str, Any], key: str | None) -> Any:
        value = None if key is None else row.get(key)
        return "" if value is None else value

    for t, (table_ids, variables) in zip(tables, shapes, strict=True):
        for row in [*t.rows, *t.footer]:
            who = [cell(row, k) if k in table_ids else "" for k in ids]
            for key, low, high in variables:
                writer.writerow(
                    [t.name, *who, key, cell(row, key), cell(row, low), cell(row, high)]
                )
    return buffer.getvalue()


def csv_notes(tables: Sequence[Table]) -> str:
    """The JSON that goes beside a long CSV: each table's title, header lines and notes."""
    return json.dumps(
        {
            "csv": "one row per (table, row, variable); low and high: its interval",
            "tables": [
                {"name": t.name, "title": t.title, "header": list(t.header), "notes": list(t.notes)}
                for t in tables
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def html_table(t: Table) -> str:
    """The table as an HTML fragment: header lines, the view columns, the notes.

    Args:
        t: the table.

    Returns:
        ``<section class="table" data-table=NAME>`` holding paragraphs, a ``<table>``
        and a list; every text escaped.
    """
    esc = html.escape
    columns = [c for c in t.columns if c.show != "data" and c.kind != "bar"]
    head = "".join(f"<th>{esc(c.header)}</th>" for c in columns)
    body = []
    for row in t.rows:
        cells = "".join(f"<td>{esc(format_value(row.get(c.key), c.kind))}</td>" for c in columns)
        body.append(f"<tr>{cells}</tr>")
    for row in t.footer:
        cells = "".join(
            f"<td><b>{esc(format_value(row.get(c.key), c.kind) if c.key in row else '')}</b></td>"
            for c in columns
        )
        body.append(f"<tr>{cells}</tr>")
    header = "".join(f'<p class="header">{esc(line)}</p>' for line in t.header)
    notes = "".join(f"<li>{esc(note)}</li>" for note in t.notes)
    return (
        f'<section class="table" data-table="{esc(t.name)}"><h3>{esc(t.title)}</h3>{header}'
        f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
        f'</table><ul class="note">{notes}</ul></section>'
    )
