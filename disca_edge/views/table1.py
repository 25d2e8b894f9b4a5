"""The Table-1 view of a run with baselines: DISCA against every baseline, and the sweeps.

From `results.Results.baselines` (`evals.baseline_results`), as `render.Table` s for the
terminal, Markdown, CSV and JSON, and as an HTML section with a figure:

* `table1`: method | uses human data? | macro MIS [95%] | Δ vs DISCA [95%] | DISCA wins,
  the vanilla read-outs first and DISCA last (the paper's Table 1 layout);
* `country_table`: every row's MIS per country (BASELINES.md §12 layout);
* `fits_table`: what was fitted per country (oracle T_c / m_c with "edge" where the grid's
  edge was chosen, the static bias Δ_c, DiffPO's α);
* `sweep_table`: the sensitivity sweeps (persona count, T_cat scale, global T_cat);
* `forest_svg`, `html_sections`: the figure (macro MIS with intervals, DISCA's as a
  line) and the tables for ``disca report --format html``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from ..content.baselines import BASELINES
from ..evals.baseline_results import BaselineCountry, BaselineResults, BaselineRow
from ..evals.results import Results
from .notes import coverage_notes, header_lines
from .render import Column, Table, html_table
from .tables import short_mis

__all__ = [
    "baseline_tables",
    "country_table",
    "fits_table",
    "forest_svg",
    "html_sections",
    "sweep_table",
    "table1",
]

_SWEEP_POINT = {
    "persona_count": lambda v: f"N = {v:g}",
    "tcat_scale": lambda v: f"T_cat × {v:.2f}",
    "global_tcat": lambda v: f"T_cat = {v:g} (all)",
}
_SWEEP_TITLE = {
    "persona_count": "persona count (N = 4: the default panel; 5, 6 add the anchors)",
    "tcat_scale": "T_cat scale (every T_cat × the factor)",
    "global_tcat": "global T_cat (one value for every category)",
}


def _wins(row: BaselineRow) -> str:
    """``3/20 (12 raw)``: countries whose Δ interval lies above 0, and DISCA's raw wins."""
    if row.n == 0:
        return "—"
    if row.disca_wins_significant is None:
        return f"{row.disca_wins}/{row.n} raw"
    return f"{row.disca_wins_significant}/{row.n} ({row.disca_wins} raw)"


def _cells(row: BaselineRow, reference: bool) -> dict[str, Any]:
    """A row's view cells and raw values."""
    low, high = row.mis_interval or (None, None)
    d_low, d_high = (None, None) if reference else (row.difference_interval or (None, None))
    return {
        "method": row.title,
        "label": row.label,
        "human_data": row.human_data,
        "mis_view": (row.mis, row.mis_interval),
        "diff_view": (None, None) if reference else (row.difference, row.difference_interval),
        "wins_view": "—" if reference else _wins(row),
        "mis": row.mis, "mis_low": low, "mis_high": high,
        "diff": None if reference else row.difference, "diff_low": d_low, "diff_high": d_high,
        "reference_mis": row.reference_mis,
        "disca_wins": None if reference else row.disca_wins,
        "disca_wins_significant": None if reference else row.disca_wins_significant,
        "row_wins_significant": None if reference else row.row_wins_significant,
        "n": row.n,
        "note": row.note,
    }  # fmt: skip


def _unavailable() -> str:
    """The spec's baselines no model can give, named (`--baselines` says why)."""
    refused = [b.label for b in BASELINES.values() if b.kind == "refused"]
    return f"not reproducible: {', '.join(refused)} (`--baselines` refuses them, saying why)"


def _notes(results: Results, base: BaselineResults) -> list[str]:
    boot = results.bootstrap
    level = f"{boot.level:.0%} basic intervals, {boot.n_resamples:,} stratified scenario " \
        "resamples" if boot else "no intervals"  # fmt: skip
    return [
        f"MIS: macro mean over the countries (lower is better); Δ = MIS(row) − MIS({base.reference}) "
        "per country on the same scenarios and resamples, averaged (above 0: DISCA is closer "
        "to the humans); DISCA wins = countries whose Δ interval lies above 0 (raw: DISCA's "
        f"MIS lower); {level}",
        "uses human data 'yes': the oracles and DiffPO are fit to the targets they are scored "
        "against (upper bounds, not competitors); DiffPO-binary copies them, so MIS ≈ 0 "
        "checks the metric pipeline",
        "…:released oracles and DiffPO fit on the released 25% calibration split "
        "(RandomState(42), n_cal = max(20, round(n/4))) and are scored on the other 75%, "
        "their Δ against DISCA on those scenarios; …:paper fit and score every scenario",
        "prompt baselines: one extra prompt per scenario, the released English prefixes "
        "before the native frame, the base system prompt, T_dec = 0.5, original order, no "
        "swap, no T_cat; prism:suffix sends B3_short as a raw string (no system turn), T = 1; "
        "wvs_prompt:paper is a project construction (the population persona's ten "
        "descriptor sentences, native, as the system prompt)",
        "static bias: corpus logits of the country's WVS sentences (or the one fallback "
        "sentence, …:as_run) give b_B − b_A, added to the vanilla gap",
        _unavailable(),
        *base.notes,
        *coverage_notes(results),
    ]


def table1(results: Results) -> Table | None:
    """Table 1: the vanilla read-outs, every baseline, DISCA; None without baselines."""
    base = results.baselines
    if base is None:
        return None
    rows = [_cells(r, r.label == base.reference) for r in base.rows.values()]
    reference = [row for row in rows if row["label"] == base.reference]
    columns = [
        Column("method", "Method"),
        Column("label", "label"),
        Column("human_data", "Uses human data?"),
        Column("mis_view", "MIS [95%]", "mis_ci", show="view"),
        Column("diff_view", f"Δ vs {base.reference} [95%]", "delta_ci", show="view"),
        Column("wins_view", "DISCA wins", show="view"),
        Column("n", "countries", "int"),
        *(Column(k, k, kind, show="data") for k, kind in (
            ("mis", "mis"), ("mis_low", "mis"), ("mis_high", "mis"), ("diff", "delta"),
            ("diff_low", "delta"), ("diff_high", "delta"), ("reference_mis", "mis"),
            ("disca_wins", "int"), ("disca_wins_significant", "int"),
            ("row_wins_significant", "int"), ("note", "text"))),
    ]  # fmt: skip
    return Table(
        "table1",
        f"Table 1: baselines against {base.reference} (macro over {len(results.countries)} "
        "countries)",
        columns,
        rows=[row for row in rows if row["label"] != base.reference],
        footer=reference,
        notes=_notes(results, base),
        header=header_lines(results),
    )


def country_table(results: Results) -> Table | None:
    """Every Table-1 row's MIS per country, a row per method (BASELINES.md §12, transposed).

    None without baselines.
    """
    base = results.baselines
    if base is None:
        return None
    isos = list(results.countries)
    rows = []
    for label, row in base.rows.items():
        values = {iso: (row.countries.get(iso) or BaselineCountry(None)).mis for iso in isos}
        rows.append({"label": label, **values, "macro": row.mis,
                     **{f"{k}_view": short_mis(v) for k, v in {**values, "macro": row.mis}.items()}})  # fmt: skip
    columns = [Column("label", "MIS per country")]
    for key in [*isos, "macro"]:
        columns += [Column(f"{key}_view", "Macro" if key == "macro" else key, "short", show="view"),
                    Column(key, key, "mis", show="data")]  # fmt: skip
    return Table(
        "baseline_countries",
        "Baselines: MIS per country",
        columns,
        rows=rows,
        notes=[
            "MIS on the scored scenarios (…:released oracles and DiffPO: the 75% test split); "
            "—: not scored"
        ],  # fmt: skip
        header=header_lines(results),
    )


def _fit_cell(label: str, fit: dict[str, Any]) -> tuple[Any, str]:
    """(value, shown text) of what a row fitted in one country."""
    if "delta_c" in fit:
        return fit["delta_c"], f"{fit['delta_c']:+.2f} ({fit['n_sentences']} sent.)"
    key = "alpha" if label == "diffpo_binary" else "value"
    value = fit.get(key)
    if value is None:
        return None, "not fitted"
    return value, f"{value:.2f}" + (" (edge)" if fit.get("at_edge") else "")


def fits_table(results: Results) -> Table | None:
    """What each fitted baseline chose per country; None when none was fitted."""
    base = results.baselines
    if base is None:
        return None
    fitted = [r for r in base.rows.values() if any(c.fit for c in r.countries.values())]
    fitted = [r for r in fitted if r.label != "wvs_prompt:released_as_run"
              and getattr(BASELINES.get(r.label), "kind", "") != "hook"]  # fmt: skip
    if not fitted:
        return None
    heads = {"oracle_temp": "T_c", "oracle_margin": "m_c", "static_bias": "Δ_c",
             "diffpo_binary": "α"}  # fmt: skip
    columns = [Column("iso3", "ISO3")]
    rows: list[dict[str, Any]] = [{"iso3": iso} for iso in results.countries]
    for r in fitted:
        family, _, variant = r.label.partition(":")
        head = f"{heads.get(family, family)} {variant}".strip()
        columns += [Column(f"{r.label}_view", head, show="view"),
                    Column(r.label, r.label, "frac", show="data"),
                    Column(f"{r.label}_at_edge", f"{r.label} at edge", show="data")]  # fmt: skip
        for row in rows:
            fit = r.countries[row["iso3"]].fit if row["iso3"] in r.countries else {}
            row[r.label], row[f"{r.label}_view"] = _fit_cell(r.label, fit) if fit else (None, "—")
            row[f"{r.label}_at_edge"] = fit.get("at_edge")
    return Table(
        "baseline_fits",
        "Baselines: fitted values per country",
        columns,
        rows=rows,
        notes=[
            "T_c, m_c: the oracle temperature and margin (oracle_temp, oracle_margin); Δ_c: "
            "the static bias; α: DiffPO-binary's mixing weight",
            "grids as released: T_c in linspace(0.25, 1, 16) ∪ linspace(1.05, 4, 24), m_c in "
            "linspace(−4, 4, 41), α in linspace(0, 1, 41); (edge): the grid's first or last "
            "value was chosen, so the optimum may lie beyond it",
            "Δ_c: the static bias's shift of the vanilla gap z_B − z_A (logits), from the "
            "country's corpus sentences",
        ],
        header=header_lines(results),
    )


def sweep_table(results: Results) -> Table | None:
    """The DISCA sensitivity sweeps run from the stored logits; None without any."""
    base = results.baselines
    if base is None or not base.sweeps:
        return None
    rows = []
    for sweep, points in base.sweeps.items():
        for point in points:
            row = _cells(point, False)
            row.update(sweep=sweep, point=point.point,
                       point_view=_SWEEP_POINT[sweep](point.point))  # fmt: skip
            rows.append(row)
    columns = [
        Column("sweep", "sweep"),
        Column("point_view", "point", show="view"),
        Column("point", "point", "frac", show="data"),
        Column("mis_view", "MIS [95%]", "mis_ci", show="view"),
        Column("diff_view", f"Δ vs {base.reference} [95%]", "delta_ci", show="view"),
        Column("wins_view", "default wins", show="view"),
        *(Column(k, k, kind, show="data") for k, kind in (
            ("mis", "mis"), ("mis_low", "mis"), ("mis_high", "mis"), ("diff", "delta"),
            ("diff_low", "delta"), ("diff_high", "delta"), ("disca_wins", "int"),
            ("disca_wins_significant", "int"))),
    ]  # fmt: skip
    return Table(
        "baseline_sweeps",
        f"Sensitivity of {base.reference} (from the stored logits)",
        columns,
        rows=rows,
        notes=[
            *(f"{name}: {_SWEEP_TITLE[name]}" for name in base.sweeps),
            f"Δ = MIS(point) − MIS({base.reference} at its defaults), same resamples; default "
            "wins = countries whose Δ interval lies above 0 (raw: default MIS lower)",
        ],
        header=header_lines(results),
    )


def baseline_tables(results: Results) -> list[Table]:
    """Every baseline table of a run (none without baselines)."""
    tables = [table1(results), country_table(results), fits_table(results), sweep_table(results)]
    return [t for t in tables if t is not None]


# --------------------------------------------------------------------------- figure

_COLORS = {"no": "#8a8a8a", "WVS only": "#1f77b4"}
_HUMAN_COLOR = "#ff7f0e"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _color(human_data: str) -> str:
    return _COLORS.get(human_data, _HUMAN_COLOR)


def forest_svg(results: Results) -> str:
    """Table 1 as a figure: each row's macro MIS with its interval, DISCA's MIS as a line.

    Returns:
        An inline ``<svg data-figure="table1">``; marks carry ``class="mark"``, intervals
        ``class="errorbar"``; "" without baselines.
    """
    base = results.baselines
    if base is None:
        return ""
    rows = [r for r in base.rows.values() if r.mis is not None]
    values = [v for r in rows for v in (r.mis, *(r.mis_interval or ()))]
    if not values:
        return ""
    lo, hi = 0.0, max(values) * 1.05 or 1.0
    left, width, step = 300, 420, 22
    height = 50 + step * len(rows)

    def x(v: float) -> float:
        return round(left + width * (v - lo) / (hi - lo), 1)

    parts = [f'<line x1="{left}" y1="{height - 30}" x2="{left + width}" y2="{height - 30}" '
             'stroke="#999"/>']  # fmt: skip
    for i in range(6):
        v = lo + (hi - lo) * i / 5
        parts.append(f'<text x="{x(v)}" y="{height - 14}" text-anchor="middle" '
                     f'fill="#555">{v:.2f}</text>')  # fmt: skip
    ref = base.rows.get(base.reference)
    if ref is not None and ref.mis is not None:
        parts.append(f'<line x1="{x(ref.mis)}" y1="10" x2="{x(ref.mis)}" y2="{height - 30}" '
                     'stroke="#d62728" stroke-dasharray="4 3" class="reference"/>')  # fmt: skip
    for k, r in enumerate(rows):
        y, color, mis = 22 + step * k, _color(r.human_data), float(r.mis or 0.0)
        tip = _esc(
            f"{r.label}: MIS {mis:.3f}"
            + (f" [{r.mis_interval[0]:.3f}, {r.mis_interval[1]:.3f}]" if r.mis_interval else "")
        )
        parts.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{_esc(r.title)}</text>')
        if r.mis_interval:
            a, b = x(r.mis_interval[0]), x(r.mis_interval[1])
            parts.append(f'<g class="errorbar" data-series="{_esc(r.label)}" stroke="{color}">'
                         f'<title>{tip}</title><line x1="{a}" y1="{y}" x2="{b}" y2="{y}"/>'
                         f'<line x1="{a}" y1="{y - 3}" x2="{a}" y2="{y + 3}"/>'
                         f'<line x1="{b}" y1="{y - 3}" x2="{b}" y2="{y + 3}"/></g>')  # fmt: skip
        parts.append(f'<circle class="mark" data-series="{_esc(r.label)}" cx="{x(mis)}" '
                     f'cy="{y}" r="4.5" fill="{color}"><title>{tip}</title></circle>')  # fmt: skip
    title = f"Table 1: macro MIS of each baseline; dashed line: {base.reference}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" data-figure="table1" width="{left + width + 30}" '
        f'height="{height}" viewBox="0 0 {left + width + 30} {height}" role="img" '
        f'aria-label="{_esc(title)}"><title>{_esc(title)}</title>{"".join(parts)}</svg>'
    )


def html_sections(runs: Sequence[tuple[str, Results]]) -> list[str]:
    """The Table-1 part of the HTML report: per run with baselines, the figure and tables."""
    parts: list[str] = []
    for name, res in runs:
        if res.baselines is None:
            continue
        parts.append(f"<h2>Table 1: baselines ({_esc(name)})</h2>")
        parts.append(
            '<p class="note">Macro MIS (lower is better) with 95% intervals; colour: uses '
            "human data (grey: no, blue: WVS only, orange: yes, an oracle); dashed line: "
            f"{_esc(res.baselines.reference)}.</p>"
        )
        parts.append(forest_svg(res))
        parts += [html_table(t) for t in baseline_tables(res)]
    return parts
