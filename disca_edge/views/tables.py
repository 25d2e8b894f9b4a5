"""Reports of evaluation results: tables rendered as rich, Markdown, CSV or JSON, and the run display.

Tables are built from a run's `results.Results` (or its ``results.json``) into a neutral
`Table` (columns with a kind, rows of raw values, notes), then rendered:

* `country_table`: per-country MIS, vanilla → DISCA with % gain, wins and the macro row
  (DISCA.md §9.4 layout);
* `dimension_table`: one country's six dimensions, model vs human, with bars;
* `ablation_table`: full DISCA and each ablation, "MIS (+Δ, n hurt)" (DISCA.md §9.3);
* `compare_table`: two runs side by side;
* `sweep_table`, `seed_table`: a rescoring sweep (`rescore`), mean ± sd over seeds.

Every table names the vanilla read-out and the DISCA variant, and carries the persona
provenance line. The progress displays live in `display` (re-exported here).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..content.scenarios import PROMPT_PROTOCOLS
from ..errors import UnknownNameError
from ..evals.results import CountryResult, Results, as_results
from ..maths.categories import short_label
from ..progress import PlainProgress, RichProgress, make_progress  # moved; names kept

__all__ = [
    "Column",
    "Table",
    "FORMATS",
    "VANILLA_DESCRIPTIONS",
    "country_table",
    "dimension_table",
    "ablation_table",
    "compare_table",
    "sweep_table",
    "seed_table",
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


def _run_line(results: Results) -> str:
    run = results.run
    sha = (run.model_sha256 or "")[:12]
    parts = [
        f"model {run.model} (sha256 {sha}…)" if sha else f"model {run.model}",
        f"DISCA variant: {run.variant}",
        f"IS seed {run.is_seed}, data seed {run.data_seed}",
        f"prompts --lang {run.lang}",
    ]
    return "; ".join(parts)


def _protocol_line(results: Results) -> str:
    """Which DISCA prompt rules the run used (`scenarios.PROMPT_PROTOCOLS`)."""
    number = results.run.prompt_protocol
    return f"prompt protocol {number}: {PROMPT_PROTOCOLS.get(number, 'unknown to this version')}"


def _language_notes(results: Results) -> list[str]:
    """Which countries ran with English frames around native personas (persona-only)."""
    mixed = [
        f"{iso} ({(c.language or {}).get('persona_language')})"
        for iso, c in results.countries.items()
        if (c.language or {}).get("persona_only")
    ]
    if not mixed:
        return []
    return [
        "persona-only languages (native personas, English frame, base prompt and scenario "
        "text, as in the authors' released code): " + ", ".join(mixed)
    ]


def _lang_cell(entry: CountryResult) -> str:
    language = entry.language or {}
    if not language:
        return "en"
    if language.get("persona_only"):
        return f"{language['persona_language']}/en"
    return str(language.get("frame_language"))


def _provenance_notes(results: Results) -> list[str]:
    return list(results.provenance) or ["personas: provenance not recorded"]


def _coverage_notes(results: Results) -> list[str]:
    notes = []
    cov = results.coverage
    if not cov.complete:
        notes.append(
            f"INCOMPLETE: {cov.present} of {cov.expected} scenarios "
            f"(status {results.run.status}); rerun the same command to finish"
        )
    if cov.shard:
        notes.append(f"shard {cov.shard} only: merge shards with `disca eval merge`")
    if results.run.limit:
        notes.append(
            f"--limit {results.run.limit}: first {cov.pool_positions} pool scenarios per country"
        )
    partial = []
    for iso, entry in results.countries.items():
        first = next(iter(entry.methods.values()), None)
        if first is not None and first.dims_covered < 6:
            partial.append(f"{iso} ({first.dims_covered}/6)")
    if partial:
        notes.append(
            "MIS over the covered dimensions only (JSD and correlations need all 6): "
            + ", ".join(partial[:8])
            + (" …" if len(partial) > 8 else "")
        )
    if results.recomputed:
        notes.append("results recomputed from samples.jsonl (results.json absent or stale)")
    return notes


# --------------------------------------------------------------------------- tables


def _country_row(
    iso: str, entry: CountryResult, results: Results, vanilla: str, other: str, method: str
) -> dict[str, Any]:
    m = entry.methods
    row: dict[str, Any] = {
        "iso3": iso,
        "n": entry.n,
        vanilla: m[vanilla].mis,
        other: m[other].mis,
        method: m[method].mis,
        "gain": results.vs_vanilla[vanilla][method].per_country_pct_gain.get(iso),
        "gain_other": results.vs_vanilla[other][method].per_country_pct_gain.get(iso),
        "jsd": m[method].jsd,
        "pearson": m[method].pearson,
        "flip_rate": m[method].flip_rate,
        "lang": _lang_cell(entry),
    }
    row["paper"] = _paper_cell(row[vanilla], row[method], row["gain"])
    row["paper_other"] = _paper_cell(row[other], row[method], row["gain_other"])
    return row


def country_table(
    results: Results | Mapping[str, Any], *, vanilla: str = "vanilla_raw", method: str | None = None
) -> Table:
    """Per-country MIS: both vanilla read-outs, DISCA, % gain, JSD, r; macro row and wins.

    Args:
        results: a run's results (or its ``results.json`` mapping).
        vanilla: the read-out the gain and wins are measured against.
        method: the DISCA method (default: the run's primary, ``disca_<variant>``).

    Returns:
        The table.
    """
    res = as_results(results)
    method = method or res.run.primary
    other = "vanilla_lfl" if vanilla == "vanilla_raw" else "vanilla_raw"
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
        Column("lang", "lang"),
    ]
    table = Table(
        "countries",
        f"MultiTP MIS per country — {res.label(method)} vs vanilla read-out {vanilla} "
        f"(variant {res.run.variant})",
        columns,
    )
    for iso, entry in res.countries.items():
        table.rows.append(_country_row(iso, entry, res, vanilla, other, method))
    macro = res.macro
    win, win_other = res.vs_vanilla[vanilla][method], res.vs_vanilla[other][method]
    footer: dict[str, Any] = {
        "iso3": "Mean",
        "n": sum(e.n for e in res.countries.values()),
        vanilla: macro[vanilla].mis,
        other: macro[other].mis,
        method: macro[method].mis,
        "gain": win.pct_gain,
        "gain_other": win_other.pct_gain,
        "jsd": macro[method].jsd,
        "pearson": macro[method].pearson,
        "flip_rate": macro[method].flip_rate,
    }
    footer["paper"] = _paper_cell(footer[vanilla], footer[method], footer["gain"])
    footer["paper_other"] = _paper_cell(footer[other], footer[method], footer["gain_other"])
    table.footer.append(footer)
    table.notes = [
        f"wins (MIS below vanilla): {win.wins}/{win.n} vs {vanilla}, "
        f"{win_other.wins}/{win_other.n} vs {other}; Mean row: macro means, "
        "Δ% from the macro means",
        VANILLA_DESCRIPTIONS[vanilla] + "; " + VANILLA_DESCRIPTIONS[other],
        _run_line(res),
        _protocol_line(res),
        *_language_notes(res),
        *_provenance_notes(res),
        *_coverage_notes(res),
    ]
    return table


def dimension_table(
    results: Results | Mapping[str, Any],
    country: str,
    *,
    vanilla: str = "vanilla_raw",
    method: str | None = None,
) -> Table:
    """One country's per-dimension preferences, model vs human, with bars.

    Args:
        results: a run's results (or its ``results.json`` mapping).
        country: the country's ISO3 code (any case).
        vanilla: the vanilla read-out shown beside DISCA.
        method: the DISCA method (default: the run's primary).

    Returns:
        The table.

    Raises:
        UnknownNameError: the country is not in the results (lists the run's countries).
    """
    res = as_results(results)
    method = method or res.run.primary
    iso = country.strip().upper()
    if iso not in res.countries:
        raise UnknownNameError(
            f"country {country!r} is not in this run (it has {', '.join(res.countries)})"
        )
    entry = res.countries[iso]
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
        f"DISCA variant {res.run.variant}",
        columns,
    )
    van, met = entry.methods[vanilla], entry.methods[method]
    for d, dim in enumerate(res.dimensions):
        human, model = entry.human[d], met.vector[d]
        table.rows.append(
            {
                "dimension": short_label(dim),
                "n": entry.n_per_dimension.get(dim, 0),
                "human": human,
                vanilla: van.vector[d],
                method: model,
                "error_pp": None if model is None else 100.0 * (model - human),
                "bar_human": human,
                "bar_vanilla": van.vector[d],
                "bar_method": model,
            }
        )
    table.notes = [
        f"MIS {vanilla} {_fmt(van.mis, 'mis')} → {method} {_fmt(met.mis, 'mis')}; "
        f"preference = mean probability of sparing the dimension's preferred group "
        f"(human: (1 + AMCE)/2)",
        VANILLA_DESCRIPTIONS[vanilla],
        _run_line(res),
        *_provenance_notes(res),
        *_coverage_notes(res),
    ]
    return table


def _ablation_paper_cell(mis: float | None, delta: float | None, n_hurt: int) -> str:
    if mis is None or delta is None:
        return "—"
    return f"{_short(mis)} ({'+' if delta >= 0 else '−'}{_short(abs(delta))}, {n_hurt})"


def ablation_table(results: Results | Mapping[str, Any]) -> Table:
    """Full DISCA and its ablations: macro MIS, change vs full and "n hurt" (§9.3 layout).

    Args:
        results: a run's results (or its ``results.json`` mapping).

    Returns:
        The table.
    """
    res = as_results(results)
    base = res.ablation_base
    macro = res.macro
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
        f"Ablations of {res.label(base)} (variant {res.run.variant}; "
        f"vanilla read-outs for reference)",
        columns,
    )
    full = macro[base].mis
    table.rows.append(
        {
            "configuration": f"Full {res.label(base)}",
            "method": base,
            "mis": full,
            "delta": None,
            "n_hurt": None,
            "paper": _short(full),
        }
    )
    for name, row in res.ablations.items():
        table.rows.append(
            {
                "configuration": res.label(name),
                "method": name,
                "mis": row.mis,
                "delta": row.delta,
                "n_hurt": row.n_hurt,
                "paper": _ablation_paper_cell(row.mis, row.delta, row.n_hurt),
            }
        )
    for van in res.run.vanilla:
        mis = macro[van].mis
        table.footer.append(
            {
                "configuration": res.label(van),
                "method": van,
                "mis": mis,
                "delta": None if full is None or mis is None else mis - full,
                "n_hurt": None,
                "paper": _short(mis),
            }
        )
    prior = " (country prior on in every ablation)" if "no_prior" in res.ablations else ""
    table.notes = [
        f"MIS = macro mean over {len(res.countries)} countries; n hurt = countries whose MIS "
        "is strictly above the full method's",
        f"ablation base: {base}" + (prior or " (no country prior)"),
        VANILLA_DESCRIPTIONS["vanilla_raw"] + "; " + VANILLA_DESCRIPTIONS["vanilla_lfl"],
        _run_line(res),
        *_provenance_notes(res),
        *_coverage_notes(res),
    ]
    return table


def _mis_of(res: Results, iso: str, method: str) -> float | None:
    entry = res.countries.get(iso)
    return None if entry is None else entry.methods[method].mis


def compare_table(
    a: Results | Mapping[str, Any],
    b: Results | Mapping[str, Any],
    *,
    vanilla: str = "vanilla_raw",
    names: tuple[str, str] = ("A", "B"),
) -> Table:
    """Two runs side by side: vanilla and DISCA MIS per country, gains, and the difference.

    Args:
        a: the first run's results.
        b: the second run's results.
        vanilla: the vanilla read-out.
        names: the two runs' labels.

    Returns:
        The table.
    """
    ra, rb = as_results(a), as_results(b)
    ma, mb = ra.run.primary, rb.run.primary
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
        f"{na}: variant {ra.run.variant}, {nb}: variant {rb.run.variant}",
        columns,
    )
    wa, wb = ra.vs_vanilla[vanilla][ma], rb.vs_vanilla[vanilla][mb]
    for iso in [*ra.countries, *(c for c in rb.countries if c not in ra.countries)]:
        row: dict[str, Any] = {
            "iso3": iso,
            "a_vanilla": _mis_of(ra, iso, vanilla),
            "a_disca": _mis_of(ra, iso, ma),
            "a_gain": wa.per_country_pct_gain.get(iso),
            "b_vanilla": _mis_of(rb, iso, vanilla),
            "b_disca": _mis_of(rb, iso, mb),
            "b_gain": wb.per_country_pct_gain.get(iso),
        }
        both = row["a_disca"] is not None and row["b_disca"] is not None
        row["diff"] = row["b_disca"] - row["a_disca"] if both else None
        table.rows.append(row)
    fa, fb = ra.macro[ma].mis, rb.macro[mb].mis
    table.footer.append(
        {
            "iso3": "Mean",
            "a_vanilla": ra.macro[vanilla].mis,
            "a_disca": fa,
            "a_gain": wa.pct_gain,
            "b_vanilla": rb.macro[vanilla].mis,
            "b_disca": fb,
            "b_gain": wb.pct_gain,
            "diff": None if fa is None or fb is None else fb - fa,
        }
    )
    table.notes = [
        f"{na}: {_run_line(ra)}; wins {wa.wins}/{wa.n}",
        f"{nb}: {_run_line(rb)}; wins {wb.wins}/{wb.n}",
        VANILLA_DESCRIPTIONS[vanilla],
        *sorted(set(_provenance_notes(ra)) | set(_provenance_notes(rb))),
        *[f"{na}: {n}" for n in _coverage_notes(ra)],
        *[f"{nb}: {n}" for n in _coverage_notes(rb)],
    ]
    return table


def _spread(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n − 1; None for one value) of the known values."""
    kept = [float(v) for v in values if v is not None]
    if not kept:
        return None, None
    mean = sum(kept) / len(kept)
    if len(kept) < 2:
        return mean, None
    return mean, (sum((v - mean) ** 2 for v in kept) / (len(kept) - 1)) ** 0.5


def _pm(mean: float | None, sd: float | None, kind: str = "mis") -> str:
    if mean is None:
        return "—"
    return _fmt(mean, kind) if sd is None else f"{_fmt(mean, kind)} ± {sd:.3f}"


def _point_label(overrides: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items()) or "(source parameters)"


def sweep_table(
    sweep: Mapping[str, Any],
    results: Sequence[Results | Mapping[str, Any]],
    *,
    vanilla: str = "vanilla_raw",
) -> Table:
    """One row per parameter point: macro MIS and % gain, mean ± sd over the seeds.

    Args:
        sweep: the ``sweep.json`` mapping (`rescore.rescore`).
        results: each point's results, in ``sweep["points"]`` order.
        vanilla: the read-out the gain and wins are measured against.
    """
    runs_all = [as_results(r) for r in results]
    groups: dict[str, list[Results]] = {}
    for point, res in zip(sweep["points"], runs_all, strict=True):
        groups.setdefault(_point_label(point["overrides"]), []).append(res)
    first = runs_all[0]
    method = first.run.primary
    columns = [
        Column("point", "parameters"),
        Column("n_seeds", "seeds", "int"),
        Column("vanilla", f"MIS {vanilla}", "mis"),
        Column("mis_view", f"MIS {method} (mean ± sd)", show="view"),
        Column("mis", f"MIS {method}", "mis", show="data"),
        Column("mis_sd", f"MIS {method} sd", "frac", show="data"),
        Column("gain_view", f"gain % vs {vanilla} (mean ± sd)", show="view"),
        Column("gain", f"gain % vs {vanilla}", "pct", show="data"),
        Column("gain_sd", "gain % sd", "frac", show="data"),
        Column("wins", "wins (mean)", "frac"),
        Column("n", "countries", "int"),
    ]
    table = Table(
        "sweep",
        f"Rescoring sweep — {first.label(method)} vs vanilla read-out {vanilla}, macro over "
        "countries, mean ± sd over IS seeds",
        columns,
    )
    for label, runs in groups.items():
        mis, mis_sd = _spread([r.macro[method].mis for r in runs])
        gain, gain_sd = _spread([r.vs_vanilla[vanilla][method].pct_gain for r in runs])
        wins, _ = _spread([r.vs_vanilla[vanilla][method].wins for r in runs])
        table.rows.append(
            {
                "point": label,
                "n_seeds": len(runs),
                "vanilla": _spread([r.macro[vanilla].mis for r in runs])[0],
                "mis_view": _pm(mis, mis_sd),
                "mis": mis,
                "mis_sd": mis_sd,
                "gain_view": _pm(gain, gain_sd, "pct"),
                "gain": gain,
                "gain_sd": gain_sd,
                "wins": wins,
                "n": runs[0].vs_vanilla[vanilla][method].n,
            }
        )
    source = sweep.get("source", {})
    table.notes = [
        f"source run {source.get('path')} (fingerprint {str(source.get('fingerprint'))[:12]}…); "
        f"seeds {', '.join(str(s) for s in sweep.get('seeds', []))}; sd = sample standard "
        "deviation over seeds (n − 1)",
        VANILLA_DESCRIPTIONS[vanilla],
        _run_line(first),
        *_provenance_notes(first),
        *_coverage_notes(first),
    ]
    return table


def seed_table(
    results: Sequence[Results | Mapping[str, Any]], *, vanilla: str = "vanilla_raw"
) -> Table:
    """Per-country MIS, vanilla and DISCA, mean ± sd over runs that differ only in seed."""
    runs = [as_results(r) for r in results]
    first = runs[0]
    method = first.run.primary
    columns = [
        Column("iso3", "ISO3"),
        Column("vanilla", f"MIS {vanilla}", "mis"),
        Column("mis_view", f"MIS {method} (mean ± sd)", show="view"),
        Column("mis", f"MIS {method}", "mis", show="data"),
        Column("mis_sd", f"MIS {method} sd", "frac", show="data"),
        Column("gain_view", "gain % (mean ± sd)", show="view"),
        Column("gain", "gain %", "pct", show="data"),
        Column("gain_sd", "gain % sd", "frac", show="data"),
    ]
    seeds = ", ".join(str(r.run.is_seed) for r in runs)
    table = Table(
        "seeds",
        f"MultiTP MIS per country over IS seeds {seeds} — {first.label(method)} vs vanilla "
        f"read-out {vanilla}",
        columns,
    )

    def row(iso: str | None) -> dict[str, Any]:
        if iso is None:
            mis = [r.macro[method].mis for r in runs]
            gains = [r.vs_vanilla[vanilla][method].pct_gain for r in runs]
            vans = [r.macro[vanilla].mis for r in runs]
        else:
            mis = [r.countries[iso].methods[method].mis for r in runs]
            gains = [r.vs_vanilla[vanilla][method].per_country_pct_gain.get(iso) for r in runs]
            vans = [r.countries[iso].methods[vanilla].mis for r in runs]
        m, sd = _spread(mis)
        g, gsd = _spread(gains)
        return {
            "iso3": iso or "Mean",
            "vanilla": _spread(vans)[0],
            "mis_view": _pm(m, sd),
            "mis": m,
            "mis_sd": sd,
            "gain_view": _pm(g, gsd, "pct"),
            "gain": g,
            "gain_sd": gsd,
        }

    table.rows = [row(iso) for iso in first.countries]
    table.footer = [row(None)]
    table.notes = [
        "sd = sample standard deviation over seeds (n − 1); the Mean row is over the "
        "per-seed macro means; vanilla read-outs do not use the IS seed",
        VANILLA_DESCRIPTIONS[vanilla],
        _run_line(first),
        *_provenance_notes(first),
        *_coverage_notes(first),
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
