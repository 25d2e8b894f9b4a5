"""Reports of evaluation results: tables rendered as rich, Markdown, CSV or JSON, and the run display.

Tables are built from a ``results.json`` mapping (`evaluate.summarize`) into a neutral
`Table` (columns with a kind, rows of raw values, notes), then rendered:

* `country_table`: per-country MIS, vanilla → DISCA with % gain, wins and the macro row
  (DISCA.md §9.4 layout);
* `dimension_table`: one country's six dimensions, model vs human, with bars;
* `ablation_table`: full DISCA and each ablation, "MIS (+Δ, n hurt)" (DISCA.md §9.3);
* `compare_table`: two runs side by side.

Every table names the vanilla read-out and the DISCA variant, and carries the persona
provenance line. `RichProgress` and `PlainProgress` implement `evaluate.Progress`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .categories import short_label
from .errors import UnknownNameError

__all__ = [
    "Column",
    "Table",
    "FORMATS",
    "VANILLA_DESCRIPTIONS",
    "country_table",
    "dimension_table",
    "ablation_table",
    "compare_table",
    "render",
    "make_progress",
    "RichProgress",
    "PlainProgress",
]

FORMATS = ("rich", "md", "csv", "json")

VANILLA_DESCRIPTIONS = {
    "vanilla_raw": "vanilla_raw = base prompt, original order, raw gap, no T_cat (paper baseline)",
    "vanilla_lfl": "vanilla_lfl = base prompt, T_cat-scaled and debiased gap (like-for-like)",
}


@dataclass
class Column:
    """One column: result key, header text and value kind.

    Kinds: ``text``, ``int``, ``mis`` (3 decimals), ``pct`` (signed, 1 decimal),
    ``corr`` (signed, 2 decimals), ``frac`` (3 decimals), ``delta`` (signed, 3
    decimals), ``pp`` (signed percentage points, 1 decimal), ``bar`` (a [0, 1] value
    drawn as a bar).

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

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: raw values only (view-only columns left out)."""
        keys = [c.key for c in self.columns if c.show != "view"]
        return {
            "name": self.name,
            "title": self.title,
            "columns": keys,
            "rows": [{k: row.get(k) for k in keys} for row in self.rows],
            "footer": [{k: row.get(k) for k in keys} for row in self.footer],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- helpers


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "mis" or kind == "frac":
        return f"{value:.3f}"
    if kind == "pct":
        return f"{value:+.1f}"
    if kind == "corr":
        return f"{value:+.2f}"
    if kind == "pp":
        return f"{value:+.1f}"
    if kind == "delta":
        return f"{value:+.3f}"
    if kind == "int":
        return str(int(value))
    if kind == "bar":
        return _bar(value)
    return str(value)


def _bar(value: float, width: int = 20) -> str:
    """A horizontal bar for a [0, 1] value with eighth-block resolution."""
    value = min(max(float(value), 0.0), 1.0)
    eighths = round(value * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return text.ljust(width)


def _short(x: float | None) -> str:
    """MIS in the paper's style: .463 (no leading zero)."""
    if x is None:
        return "—"
    text = f"{x:.3f}"
    return text[1:] if text.startswith("0.") else text


def _paper_cell(van: float | None, method: float | None, gain: float | None) -> str:
    if van is None or method is None:
        return "—"
    return f"{_short(van)}→{_short(method)} ({gain:+.1f})" if gain is not None else "—"


def _run_line(results: Mapping[str, Any]) -> str:
    run = results.get("run", {})
    sha = (run.get("model_sha256") or "")[:12]
    parts = [
        f"model {run.get('model')} (sha256 {sha}…)" if sha else f"model {run.get('model')}",
        f"DISCA variant: {run.get('variant')}",
        f"IS seed {run.get('is_seed')}, data seed {run.get('data_seed')}",
    ]
    return "; ".join(parts)


def _provenance_notes(results: Mapping[str, Any]) -> list[str]:
    statements = results.get("provenance") or []
    return list(statements) if statements else ["personas: provenance not recorded"]


def _coverage_notes(results: Mapping[str, Any]) -> list[str]:
    notes = []
    cov = results.get("coverage", {})
    if cov and not cov.get("complete", True):
        notes.append(
            f"INCOMPLETE: {cov.get('present')} of {cov.get('expected')} scenarios "
            f"(status {results.get('run', {}).get('status')}); rerun the same command to finish"
        )
    if cov.get("shard"):
        notes.append(f"shard {cov['shard']} only: merge shards with `disca eval merge`")
    limit = results.get("run", {}).get("limit")
    if limit:
        notes.append(
            f"--limit {limit}: first {cov.get('pool_positions')} pool scenarios per country"
        )
    partial = [
        f"{iso} ({c['methods'][next(iter(c['methods']))]['dims_covered']}/6)"
        for iso, c in results.get("countries", {}).items()
        if c["methods"] and c["methods"][next(iter(c["methods"]))]["dims_covered"] < 6
    ]
    if partial:
        notes.append(
            "MIS over the covered dimensions only (JSD and correlations need all 6): "
            + ", ".join(partial[:8])
            + (" …" if len(partial) > 8 else "")
        )
    if results.get("recomputed"):
        notes.append("results recomputed from samples.jsonl (results.json absent or stale)")
    return notes


# --------------------------------------------------------------------------- tables


def country_table(
    results: Mapping[str, Any], *, vanilla: str = "vanilla_raw", method: str | None = None
) -> Table:
    """Per-country MIS: both vanilla read-outs, DISCA, % gain, JSD, r; macro row and wins.

    Args:
        results: a ``results.json`` mapping.
        vanilla: the read-out the gain and wins are measured against.
        method: the DISCA method (default: the run's primary, ``disca_<variant>``).
    """
    run = results["run"]
    method = method or run["primary"]
    other = "vanilla_lfl" if vanilla == "vanilla_raw" else "vanilla_raw"
    label = results["methods"][method]["label"]
    columns = [
        Column("iso3", "ISO3"),
        Column("n", "n", "int"),
        Column("paper", f"{vanilla} → {method} (Δ%)", show="view"),
        Column("paper_other", f"{other} → {method} (Δ%)", show="view"),
        Column(vanilla, f"MIS {vanilla}", "mis", show="data"),
        Column(other, f"MIS {other}", "mis", show="data"),
        Column(method, f"MIS {method}", "mis", show="data"),
        Column("gain", f"gain % vs {vanilla}", "pct", show="data"),
        Column("gain_other", f"gain % vs {other}", "pct", show="data"),
        Column("jsd", "JSD", "frac"),
        Column("pearson", "r", "corr"),
        Column("flip_rate", "flip", "frac"),
    ]
    gains = results["vs_vanilla"][vanilla][method]["per_country_pct_gain"]
    gains_other = results["vs_vanilla"][other][method]["per_country_pct_gain"]
    table = Table(
        "countries",
        f"MultiTP MIS per country — {label} vs vanilla read-out {vanilla} (variant {run['variant']})",
        columns,
    )
    for iso, entry in results["countries"].items():
        m = entry["methods"]
        row = {
            "iso3": iso,
            "n": entry["n"],
            vanilla: m[vanilla]["mis"],
            other: m[other]["mis"],
            method: m[method]["mis"],
            "gain": gains.get(iso),
            "gain_other": gains_other.get(iso),
            "jsd": m[method]["jsd"],
            "pearson": m[method]["pearson"],
            "flip_rate": m[method]["flip_rate"],
        }
        row["paper"] = _paper_cell(row[vanilla], row[method], row["gain"])
        row["paper_other"] = _paper_cell(row[other], row[method], row["gain_other"])
        table.rows.append(row)
    macro = results["macro"]
    footer = {
        "iso3": "Mean",
        "n": sum(e["n"] for e in results["countries"].values()),
        vanilla: macro[vanilla]["mis"],
        other: macro[other]["mis"],
        method: macro[method]["mis"],
        "gain": results["vs_vanilla"][vanilla][method]["pct_gain"],
        "gain_other": results["vs_vanilla"][other][method]["pct_gain"],
        "jsd": macro[method]["jsd"],
        "pearson": macro[method]["pearson"],
        "flip_rate": macro[method]["flip_rate"],
    }
    footer["paper"] = _paper_cell(footer[vanilla], footer[method], footer["gain"])
    footer["paper_other"] = _paper_cell(footer[other], footer[method], footer["gain_other"])
    table.footer.append(footer)
    win = results["vs_vanilla"][vanilla][method]
    win_other = results["vs_vanilla"][other][method]
    table.notes = [
        f"wins (MIS below vanilla): {win['wins']}/{win['n']} vs {vanilla}, "
        f"{win_other['wins']}/{win_other['n']} vs {other}; Mean row: macro means, "
        "Δ% from the macro means",
        VANILLA_DESCRIPTIONS[vanilla] + "; " + VANILLA_DESCRIPTIONS[other],
        _run_line(results),
        *_provenance_notes(results),
        *_coverage_notes(results),
    ]
    return table


def dimension_table(
    results: Mapping[str, Any],
    country: str,
    *,
    vanilla: str = "vanilla_raw",
    method: str | None = None,
) -> Table:
    """One country's per-dimension preferences, model vs human, with bars.

    Raises:
        UnknownNameError: the country is not in the results (lists the run's countries).
    """
    run = results["run"]
    method = method or run["primary"]
    iso = country.strip().upper()
    if iso not in results["countries"]:
        raise UnknownNameError(
            f"country {country!r} is not in this run (it has {', '.join(results['countries'])})"
        )
    entry = results["countries"][iso]
    dims = results["dimensions"]
    columns = [
        Column("dimension", "dimension"),
        Column("n", "n", "int"),
        Column("human", "human", "frac"),
        Column(vanilla, vanilla, "frac"),
        Column(method, method, "frac"),
        Column("error_pp", f"{method} − human (pp)", "pp"),
        Column("bar_human", "bar: human", "bar", show="view"),
        Column("bar_vanilla", f"bar: {vanilla}", "bar", show="view"),
        Column("bar_method", f"bar: {method}", "bar", show="view"),
    ]
    table = Table(
        "dimensions",
        f"{iso}: preference per dimension, model vs human — vanilla read-out {vanilla}, "
        f"DISCA variant {run['variant']}",
        columns,
    )
    van_vec = entry["methods"][vanilla]["vector"]
    met_vec = entry["methods"][method]["vector"]
    for d, dim in enumerate(dims):
        human = entry["human"][d]
        model = met_vec[d]
        table.rows.append(
            {
                "dimension": short_label(dim),
                "n": entry["n_per_dimension"].get(dim, 0),
                "human": human,
                vanilla: van_vec[d],
                method: model,
                "error_pp": None if model is None else 100.0 * (model - human),
                "bar_human": human,
                "bar_vanilla": van_vec[d],
                "bar_method": model,
            }
        )
    m = entry["methods"]
    table.notes = [
        f"MIS {vanilla} {_fmt(m[vanilla]['mis'], 'mis')} → {method} {_fmt(m[method]['mis'], 'mis')}; "
        f"preference = mean probability of sparing the dimension's preferred group "
        f"(human: (1 + AMCE)/2)",
        VANILLA_DESCRIPTIONS[vanilla],
        _run_line(results),
        *_provenance_notes(results),
        *_coverage_notes(results),
    ]
    return table


def ablation_table(results: Mapping[str, Any]) -> Table:
    """Full DISCA and its ablations: macro MIS, change vs full and "n hurt" (§9.3 layout)."""
    run = results["run"]
    base = results["ablations"]["base"]
    rows = results["ablations"]["rows"]
    macro = results["macro"]
    n_countries = len(results["countries"])
    columns = [
        Column("configuration", "Configuration"),
        Column("method", "method"),
        Column("mis", "MIS", "mis"),
        Column("delta", "Δ vs full", "delta"),
        Column("n_hurt", "n hurt", "int"),
        Column("paper", "MIS (+Δ, n hurt)", show="view"),
    ]
    table = Table(
        "ablations",
        f"Ablations of {results['methods'][base]['label']} (variant {run['variant']}; "
        f"vanilla read-outs for reference)",
        columns,
    )
    full = macro[base]["mis"]
    table.rows.append(
        {
            "configuration": f"Full {results['methods'][base]['label']}",
            "method": base,
            "mis": full,
            "delta": None,
            "n_hurt": None,
            "paper": _short(full),
        }
    )
    for name, row in rows.items():
        delta = row["delta"]
        table.rows.append(
            {
                "configuration": results["methods"][name]["label"],
                "method": name,
                "mis": row["mis"],
                "delta": delta,
                "n_hurt": row["n_hurt"],
                "paper": "—"
                if row["mis"] is None or delta is None
                else f"{_short(row['mis'])} ({'+' if delta >= 0 else '−'}{_short(abs(delta))}, "
                f"{row['n_hurt']})",
            }
        )
    for van in results["run"]["vanilla"]:
        table.footer.append(
            {
                "configuration": results["methods"][van]["label"],
                "method": van,
                "mis": macro[van]["mis"],
                "delta": None
                if full is None or macro[van]["mis"] is None
                else macro[van]["mis"] - full,
                "n_hurt": None,
                "paper": _short(macro[van]["mis"]),
            }
        )
    table.notes = [
        f"MIS = macro mean over {n_countries} countries; n hurt = countries whose MIS is "
        "strictly above the full method's",
        f"ablation base: {base}"
        + (
            " (country prior on in every ablation)" if "no_prior" in rows else " (no country prior)"
        ),
        VANILLA_DESCRIPTIONS["vanilla_raw"] + "; " + VANILLA_DESCRIPTIONS["vanilla_lfl"],
        _run_line(results),
        *_provenance_notes(results),
        *_coverage_notes(results),
    ]
    return table


def compare_table(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    vanilla: str = "vanilla_raw",
    names: tuple[str, str] = ("A", "B"),
) -> Table:
    """Two runs side by side: vanilla and DISCA MIS per country, gains, and the difference."""
    ma, mb = a["run"]["primary"], b["run"]["primary"]
    na, nb = names
    columns = [
        Column("iso3", "ISO3"),
        Column("a_vanilla", f"{na} {vanilla}", "mis"),
        Column("a_disca", f"{na} {ma}", "mis"),
        Column("a_gain", f"{na} Δ%", "pct"),
        Column("b_vanilla", f"{nb} {vanilla}", "mis"),
        Column("b_disca", f"{nb} {mb}", "mis"),
        Column("b_gain", f"{nb} Δ%", "pct"),
        Column("diff", f"{nb} − {na} (DISCA MIS)", "delta"),
    ]
    table = Table(
        "compare",
        f"MIS per country, two runs — vanilla read-out {vanilla}; "
        f"{na}: variant {a['run']['variant']}, {nb}: variant {b['run']['variant']}",
        columns,
    )
    isos = list(a["countries"]) + [c for c in b["countries"] if c not in a["countries"]]

    def get(res: Mapping[str, Any], iso: str, method: str) -> float | None:
        entry = res["countries"].get(iso)
        return None if entry is None else entry["methods"][method]["mis"]

    for iso in isos:
        row = {
            "iso3": iso,
            "a_vanilla": get(a, iso, vanilla),
            "a_disca": get(a, iso, ma),
            "a_gain": a["vs_vanilla"][vanilla][ma]["per_country_pct_gain"].get(iso),
            "b_vanilla": get(b, iso, vanilla),
            "b_disca": get(b, iso, mb),
            "b_gain": b["vs_vanilla"][vanilla][mb]["per_country_pct_gain"].get(iso),
        }
        row["diff"] = (
            None
            if row["a_disca"] is None or row["b_disca"] is None
            else row["b_disca"] - row["a_disca"]
        )
        table.rows.append(row)
    fa, fb = a["macro"][ma]["mis"], b["macro"][mb]["mis"]
    table.footer.append(
        {
            "iso3": "Mean",
            "a_vanilla": a["macro"][vanilla]["mis"],
            "a_disca": fa,
            "a_gain": a["vs_vanilla"][vanilla][ma]["pct_gain"],
            "b_vanilla": b["macro"][vanilla]["mis"],
            "b_disca": fb,
            "b_gain": b["vs_vanilla"][vanilla][mb]["pct_gain"],
            "diff": None if fa is None or fb is None else fb - fa,
        }
    )
    wa, wb = a["vs_vanilla"][vanilla][ma], b["vs_vanilla"][vanilla][mb]
    table.notes = [
        f"{na}: {_run_line(a)}; wins {wa['wins']}/{wa['n']}",
        f"{nb}: {_run_line(b)}; wins {wb['wins']}/{wb['n']}",
        VANILLA_DESCRIPTIONS[vanilla],
        *sorted(set(_provenance_notes(a)) | set(_provenance_notes(b))),
        *[f"{na}: {n}" for n in _coverage_notes(a)],
        *[f"{nb}: {n}" for n in _coverage_notes(b)],
    ]
    return table


# --------------------------------------------------------------------------- rendering


def render(tables: Sequence[Table], fmt: str = "rich", console: Any = None) -> str | None:
    """Render tables.

    Args:
        tables: the tables, in order.
        fmt: ``rich`` (printed to ``console``, returns None), ``md``, ``csv`` or ``json``
            (returned as text).
        console: a `rich.console.Console` for ``rich`` (default: stdout).
    """
    if fmt == "rich":
        _render_rich(tables, console)
        return None
    if fmt == "md":
        return "\n".join(_markdown(t) for t in tables)
    if fmt == "csv":
        return "\n".join(_csv(t) for t in tables)
    if fmt == "json":
        return json.dumps({"tables": [t.as_dict() for t in tables]}, indent=2, ensure_ascii=False)
    raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")


def _render_rich(tables: Sequence[Table], console: Any) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    if console is None:  # piped output: wide enough for the tables instead of 80 columns
        console = Console() if sys.stdout.isatty() else Console(width=160)
    for t in tables:
        rt = RichTable(title=t.title, title_justify="left", caption_justify="left")
        columns = [c for c in t.columns if c.show != "data"]
        for col in columns:
            numeric = col.kind not in ("text", "bar")
            rt.add_column(
                col.header, justify="right" if numeric else "left", no_wrap=col.kind == "bar"
            )
        for i, row in enumerate(t.rows):
            rt.add_row(
                *(_fmt(row.get(c.key), c.kind) for c in columns),
                end_section=bool(t.footer) and i == len(t.rows) - 1,
            )
        for row in t.footer:
            rt.add_row(
                *(_fmt(row.get(c.key), c.kind) if c.key in row else "" for c in columns),
                style="bold",
            )
        rt.caption = "\n".join(t.notes)
        console.print(rt, markup=False, highlight=False)
        console.print()


def _markdown(t: Table) -> str:
    columns = [c for c in t.columns if c.show != "data"]
    lines = [f"### {t.title}", ""]
    lines.append("| " + " | ".join(c.header.replace("|", "\\|") for c in columns) + " |")
    aligns = [":---" if c.kind in ("text", "bar") else "---:" for c in columns]
    lines.append("| " + " | ".join(aligns) + " |")

    def cell(row: Mapping[str, Any], c: Column) -> str:
        if c.key not in row:
            return ""
        text = _fmt(row.get(c.key), c.kind)
        return f"`{text}`" if c.kind == "bar" else text.replace("|", "\\|")

    for row in t.rows:
        lines.append("| " + " | ".join(cell(row, c) for c in columns) + " |")
    for row in t.footer:
        cells = [cell(row, c) for c in columns]
        lines.append("| " + " | ".join(f"**{x}**" if x else "" for x in cells) + " |")
    lines.append("")
    lines.extend(f"- {note}" for note in t.notes)
    lines.append("")
    return "\n".join(lines)


def _csv(t: Table) -> str:
    keys = [c for c in t.columns if c.show != "view"]
    buffer = io.StringIO()
    buffer.write(f"# {t.title}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.key for c in keys])
    for row in [*t.rows, *t.footer]:
        writer.writerow(["" if row.get(c.key) is None else row.get(c.key) for c in keys])
    for note in t.notes:
        buffer.write(f"# {note}\n")
    return buffer.getvalue()


# --------------------------------------------------------------------------- progress


class RichProgress:
    """A rich progress bar on stderr: country, done/total, scenarios/s, ETA."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self._console = console or Console(stderr=True)
        self._progress: Any = None
        self._task: Any = None
        self._country = ("", 0, 0)

    def start(self, total: int, done: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class _Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.speed
                return Text("…  scen/s" if speed is None else f"{speed:5.2f} scen/s")

        self._progress = Progress(
            TextColumn("[bold]{task.fields[country]}[/] {task.fields[in_country]}"),
            BarColumn(),
            MofNCompleteColumn(),
            _Rate(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self._console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "eval", total=total, completed=done, country="", in_country=""
        )

    def country(self, iso3: str, total: int, done: int) -> None:
        self._country = (iso3, total, done)
        if self._progress is not None:
            self._progress.update(self._task, country=iso3, in_country=f"{done}/{total}")

    def update(self, n: int) -> None:
        iso3, total, done = self._country
        done += n
        self._country = (iso3, total, done)
        if self._progress is not None:
            self._progress.update(self._task, advance=n, in_country=f"{done}/{total}")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class PlainProgress:
    """One line per country and at most one line every ``every`` seconds, on stderr."""

    def __init__(self, stream: Any = None, every: float = 10.0) -> None:
        self._stream = stream or sys.stderr
        self._every = every
        self._total = self._done = self._new = 0
        self._t0 = self._last = 0.0
        self._country = ("", 0, 0)

    def _line(self) -> None:
        iso3, total, done = self._country
        elapsed = time.monotonic() - self._t0
        rate = self._new / elapsed if elapsed > 0 and self._new else 0.0
        left = self._total - self._done
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        print(
            f"{iso3} {done}/{total} | all {self._done}/{self._total} | "
            f"{rate:.2f} scen/s | ETA {eta}",
            file=self._stream,
            flush=True,
        )

    def start(self, total: int, done: int) -> None:
        self._total, self._done = total, done
        self._t0 = self._last = time.monotonic()

    def country(self, iso3: str, total: int, done: int) -> None:
        self._country = (iso3, total, done)
        self._line()

    def update(self, n: int) -> None:
        iso3, total, done = self._country
        self._country = (iso3, total, done + n)
        self._done += n
        self._new += n
        if time.monotonic() - self._last >= self._every:
            self._last = time.monotonic()
            self._line()

    def close(self) -> None:
        if self._total:
            self._line()


def make_progress(display: str = "auto") -> Any:
    """A progress display: ``auto`` (rich on a TTY, else none), ``rich``, ``plain``, ``none``."""
    from .evaluate import NullProgress

    if display == "auto":
        display = "rich" if sys.stderr.isatty() else "none"
    if display == "rich":
        return RichProgress()
    if display == "plain":
        return PlainProgress()
    if display == "none":
        return NullProgress()
    raise ValueError(f"display must be auto, rich, plain or none, got {display!r}")
