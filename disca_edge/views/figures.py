"""Figures of evaluation runs: one self-contained HTML page with inline SVG.

`html_report` draws, from the `Results` of one or more runs:

* ``dumbbell``: per-country MIS, vanilla → DISCA, one dumbbell per (country, run), each
  end with its 95% interval as an error bar;
* ``dimensions``: per country, the six dimensions, human vs vanilla vs DISCA, as bars;
* ``ablations``: macro MIS of full DISCA, each ablation and the vanilla read-outs, with
  error bars;
* the tables of `views.tables` (per-country MIS and paired Δ with intervals, wins, the
  ablations), each under its header lines (model, prompt variant, caveats);
* the run metadata (model, language, variant, seeds, coverage, persona provenance).

The page has no scripts and loads nothing (no fonts, no stylesheets, no images from the
network), so it opens offline and can be mailed or attached. Every data mark carries
``class="mark"``, every error bar ``class="errorbar"`` and every figure
``data-figure=NAME``, so tests (and scripts) can count them; each has a ``<title>`` with
its value for hover.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .. import __version__
from ..evals.results import MacroScore, Results
from ..maths.categories import short_label
from .notes import interval_note, prompt_line, run_line
from .render import html_table
from .table1 import html_sections as table1_sections
from .tables import ablation_table, country_table

__all__ = ["FIGURES", "html_report"]

FIGURES = ("dumbbell", "dimensions", "ablations")

_RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
_VANILLA_COLOR = "#8a8a8a"
_HUMAN_COLOR = "#222222"
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table.meta { border-collapse: collapse; margin: .5em 0 1em; }
table.meta th, table.meta td { text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }
table.meta th { color: #555; font-weight: 600; }
.note { color: #555; font-size: .9em; }
svg { display: block; margin: .5em 0 1.5em; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", sans-serif; fill: #222; }
.small-multiples { display: flex; flex-wrap: wrap; gap: 4px 18px; }
table.data { border-collapse: collapse; font-size: .85em; margin: .3em 0; }
table.data th, table.data td { padding: 2px 8px; border-bottom: 1px solid #e4e4e4;
       text-align: right; white-space: nowrap; }
table.data th:first-child, table.data td:first-child { text-align: left; }
p.header { margin: .1em 0; font-size: .9em; }
ul.note { color: #555; font-size: .85em; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _fmt(value: Any, digits: int = 3) -> str:
    value = _num(value)
    return "–" if value is None else f"{value:.{digits}f}"


class _Svg:
    """A tiny SVG builder: elements as strings, marks tagged with class="mark"."""

    def __init__(self, name: str, width: int, height: int, title: str) -> None:
        self.name, self.width, self.height, self.title = name, width, height, title
        self.parts: list[str] = []

    def add(self, tag: str, attrs: Mapping[str, Any], text: str | None = None) -> None:
        body = " ".join(f'{k.replace("_", "-")}="{_esc(v)}"' for k, v in attrs.items())
        if text is None:
            self.parts.append(f"<{tag} {body}/>")
        else:
            self.parts.append(f"<{tag} {body}>{text}</{tag}>")

    def mark(self, tag: str, attrs: Mapping[str, Any], tip: str, series: str) -> None:
        """A data mark with a hover title; `series` names what it shows (for tests)."""
        attrs = {**attrs, "class": "mark", "data_series": series}
        self.add(tag, attrs, f"<title>{_esc(tip)}</title>")

    def errorbar(self, x1: float, x2: float, y: float, color: str, tip: str, series: str) -> None:
        """An interval from x1 to x2 at height y, with end caps (class="errorbar")."""
        a, b, top, bottom = round(x1, 1), round(x2, 1), round(y - 3, 1), round(y + 3, 1)
        lines = "".join(
            f'<line x1="{p}" y1="{q}" x2="{r}" y2="{t}"/>'
            for p, q, r, t in ((a, round(y, 1), b, round(y, 1)), (a, top, a, bottom),
                               (b, top, b, bottom))
        )  # fmt: skip
        self.parts.append(
            f'<g class="errorbar" data-series="{_esc(series)}" stroke="{_esc(color)}" '
            f'stroke-width="1.2"><title>{_esc(tip)}</title>{lines}</g>'
        )

    def text(self, x: float, y: float, text: str, **attrs: Any) -> None:
        self.add("text", {"x": round(x, 1), "y": round(y, 1), **attrs}, _esc(text))

    def line(self, x1, y1, x2, y2, **attrs: Any) -> None:
        coords = {"x1": round(x1, 1), "y1": round(y1, 1), "x2": round(x2, 1), "y2": round(y2, 1)}
        self.add("line", {**coords, **attrs})

    def render(self) -> str:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" data-figure="{_esc(self.name)}" '
            f'width="{self.width}" height="{self.height}" viewBox="0 0 {self.width} '
            f'{self.height}" role="img" aria-label="{_esc(self.title)}">'
        )
        return head + f"<title>{_esc(self.title)}</title>" + "".join(self.parts) + "</svg>"


def _axis(svg: _Svg, x0: float, x1: float, y: float, lo: float, hi: float, label: str) -> None:
    """A horizontal value axis from lo to hi at height y, with 5 ticks and gridlines."""
    svg.line(x0, y, x1, y, stroke="#999")
    for i in range(6):
        value = lo + (hi - lo) * i / 5
        x = x0 + (x1 - x0) * i / 5
        svg.line(x, 28, x, y, stroke="#eee")
        svg.text(x, y + 15, f"{value:.2f}", text_anchor="middle", fill="#555")
    svg.text((x0 + x1) / 2, y + 32, label, text_anchor="middle", fill="#555")


def _legend(svg: _Svg, x: float, y: float, items: Sequence[tuple[str, str, str]]) -> None:
    """Legend entries (label, colour, shape: dot|bar|ring), left to right."""
    for label, color, shape in items:
        if shape == "bar":
            svg.add("rect", {"x": x, "y": y - 9, "width": 12, "height": 10, "fill": color})
        elif shape == "ring":
            svg.add("circle", {"cx": x + 6, "cy": y - 4, "r": 5, "fill": "white",
                               "stroke": color, "stroke_width": 2})  # fmt: skip
        else:
            svg.add("circle", {"cx": x + 6, "cy": y - 4, "r": 5, "fill": color})
        svg.text(x + 16, y, label)
        x += 24 + 7 * len(label)


def dumbbell(runs: Sequence[tuple[str, Results]], vanilla: str) -> str:
    """Per-country MIS, vanilla (ring) → DISCA (dot), one dumbbell per country and run."""
    countries: list[str] = []
    for _, res in runs:
        countries += [c for c in res.countries if c not in countries]
    values = [
        _num(value)
        for _, res in runs
        for entry in res.countries.values()
        for m in (vanilla, res.run.primary)
        for value in [entry.methods[m].mis, *(entry.methods[m].mis_interval or [])]
    ]
    hi = max([v for v in values if v is not None] + [0.1])
    hi = math.ceil(hi * 10) / 10
    per = max(1, len(runs))
    row_h, band = 14, 14 * per + 8
    left, right, top = 80, 40, 40
    width = 760
    height = top + band * len(countries) + 60
    svg = _Svg("dumbbell", width, height, f"MIS per country, {vanilla} → DISCA (lower is better)")
    legend = [(f"vanilla ({vanilla})", _VANILLA_COLOR, "ring")]
    legend += [(f"DISCA: {name}" if len(runs) > 1 else "DISCA", _RUN_COLORS[i % 7], "dot")
               for i, (name, _) in enumerate(runs)]  # fmt: skip
    _legend(svg, left, 18, legend)
    x0, x1 = left, width - right

    def x(v: float) -> float:
        return x0 + (x1 - x0) * v / hi

    for ci, iso in enumerate(countries):
        y_band = top + ci * band
        svg.text(left - 10, y_band + band / 2 + 4, iso, text_anchor="end", font_weight="600")
        for ri, (name, res) in enumerate(runs):
            entry = res.countries.get(iso)
            if entry is None:
                continue
            y = y_band + 4 + row_h * ri + row_h / 2
            color = _RUN_COLORS[ri % 7]
            v = _num(entry.methods[vanilla].mis)
            d = _num(entry.methods[res.run.primary].mis)
            who = f"{iso} ({name})" if len(runs) > 1 else iso
            if v is not None and d is not None:
                svg.mark("line", {"x1": round(x(v), 1), "y1": round(y, 1), "x2": round(x(d), 1),
                                  "y2": round(y, 1), "stroke": color, "stroke_width": 2,
                                  "stroke_opacity": 0.6},
                         f"{who}: MIS {v:.3f} → {d:.3f}", "change")  # fmt: skip
            if v is not None:
                svg.mark("circle", {"cx": round(x(v), 1), "cy": round(y, 1), "r": 5,
                                    "fill": "white", "stroke": _VANILLA_COLOR, "stroke_width": 2},
                         f"{who}: {vanilla} MIS {v:.3f}", "vanilla")  # fmt: skip
            _dumbbell_errorbars(svg, x, y, entry, (vanilla, res.run.primary), color, who)
            if d is not None:
                svg.mark("circle", {"cx": round(x(d), 1), "cy": round(y, 1), "r": 5,
                                    "fill": color},
                         f"{who}: {res.run.primary} MIS {d:.3f}", "disca")  # fmt: skip
    _axis(svg, x0, x1, top + band * len(countries) + 6, 0.0, hi, "MIS (lower is better)")
    return svg.render()


def _dumbbell_errorbars(
    svg: _Svg, x: Any, y: float, entry: Any, methods: tuple[str, str], color: str, who: str
) -> None:
    """The vanilla (above the line) and DISCA (below) MIS intervals of one dumbbell."""
    for (method, series, shade), dy in zip(
        ((methods[0], "vanilla", _VANILLA_COLOR), (methods[1], "disca", color)), (-4, 4),
        strict=True,
    ):  # fmt: skip
        bounds = entry.methods[method].mis_interval
        if bounds:
            svg.errorbar(x(bounds[0]), x(bounds[1]), y + dy, shade,
                         f"{who}: {method} MIS 95% interval [{bounds[0]:.3f}, "
                         f"{bounds[1]:.3f}]", series)  # fmt: skip


def dimension_bars(name: str, res: Results, iso: str, vanilla: str) -> str:
    """One country's six dimensions: human, vanilla and DISCA preference as bars."""
    entry = res.countries[iso]
    dims = res.dimensions
    method = res.run.primary
    bar_h, gap = 7, 6
    group = 3 * bar_h + gap
    left, top, width = 92, 30, 330
    height = top + group * len(dims) + 44
    mis_v = _fmt(entry.methods[vanilla].mis)
    mis_d = _fmt(entry.methods[method].mis)
    svg = _Svg("dimensions", width, height,
               f"{iso}: preference per dimension, human vs model (MIS {mis_v} → {mis_d})")  # fmt: skip
    svg.text(4, 16, f"{iso} — MIS {mis_v} → {mis_d}", font_weight="600")
    x0, x1 = left, width - 16
    series: tuple[tuple[str, Sequence[float | None], str], ...] = (
        ("human", entry.human, _HUMAN_COLOR),
        (vanilla, entry.methods[vanilla].vector, _VANILLA_COLOR),
        (method, entry.methods[method].vector, _RUN_COLORS[0]),
    )
    for d, dim in enumerate(dims):
        y = top + d * group
        n = entry.n_per_dimension.get(dim)
        label = short_label(dim)
        svg.text(left - 6, y + 1.5 * bar_h + 4, label, text_anchor="end")
        for s, (series_name, vector, color) in enumerate(series):
            value = _num(vector[d]) if vector else None
            yy = y + s * bar_h
            if value is None:
                svg.text(x0 + 3, yy + bar_h - 0.5, "no data", fill="#999", font_size="8")
                continue
            svg.mark("rect", {"x": x0, "y": round(yy, 1), "width": round((x1 - x0) * value, 1),
                              "height": bar_h - 1, "fill": color},
                     f"{iso} {label}, {series_name}: {value:.3f}"
                     + (f" (n = {n})" if n is not None and series_name != "human" else ""),
                     series_name)  # fmt: skip
    svg.line(x0 + (x1 - x0) / 2, top - 4, x0 + (x1 - x0) / 2, top + group * len(dims),
             stroke="#bbb", stroke_dasharray="3 3")  # fmt: skip
    base = top + group * len(dims) + 2
    svg.line(x0, base, x1, base, stroke="#999")
    for v in (0.0, 0.5, 1.0):
        svg.text(x0 + (x1 - x0) * v, base + 13, f"{v:.1f}", text_anchor="middle", fill="#555")
    svg.text((x0 + x1) / 2, base + 28, "P(spare the preferred group)", text_anchor="middle",
             fill="#555")  # fmt: skip
    return svg.render()


def ablations(runs: Sequence[tuple[str, Results]]) -> str:
    """Macro MIS of full DISCA, each ablation and the vanilla read-outs, per run."""
    rows: list[tuple[str, str, MacroScore, str]] = []  # (label, series, macro, colour)
    for ri, (name, res) in enumerate(runs):
        base = res.ablation_base
        prefix = f"{name}: " if len(runs) > 1 else ""
        color = _RUN_COLORS[ri % 7]
        rows.append((prefix + "full " + res.label(base), "full", res.macro[base], color))
        rows += [(prefix + res.label(m), "ablation", res.macro[m], color) for m in res.ablations]
        rows += [(prefix + res.label(v), "vanilla", res.macro[v], _VANILLA_COLOR)
                 for v in res.run.vanilla]  # fmt: skip
    ends = [_num(v) for _, _, m, _ in rows for v in [m.mis, *(m.mis_interval or [])]]
    hi = max([v for v in ends if v is not None] + [0.1])
    hi = math.ceil(hi * 10) / 10
    left, right, top, bar_h = 260, 60, 30, 18
    width = 760
    height = top + len(rows) * (bar_h + 4) + 50
    svg = _Svg("ablations", width, height, "Ablations: macro MIS over the run's countries")
    x0, x1 = left, width - right
    for i, (label, series, score, color) in enumerate(rows):
        mis = _num(score.mis)
        y = top + i * (bar_h + 4)
        svg.text(left - 8, y + bar_h - 5, label, text_anchor="end",
                 font_weight="600" if series == "full" else "400")  # fmt: skip
        if mis is None:
            svg.text(x0 + 4, y + bar_h - 5, "no data", fill="#999")
            continue
        opacity = 1.0 if series == "full" else 0.55
        svg.mark("rect", {"x": x0, "y": y, "width": round((x1 - x0) * mis / hi, 1),
                          "height": bar_h, "fill": color, "fill_opacity": opacity},
                 f"{label}: macro MIS {mis:.4f}", series)  # fmt: skip
        end = mis
        if score.mis_interval:
            low, end = score.mis_interval
            svg.errorbar(x0 + (x1 - x0) * low / hi, x0 + (x1 - x0) * end / hi, y + bar_h / 2,
                         _HUMAN_COLOR, f"{label}: macro MIS 95% interval [{low:.3f}, {end:.3f}]",
                         series)  # fmt: skip
        svg.text(x0 + (x1 - x0) * max(mis, end) / hi + 4, y + bar_h - 5, f"{mis:.3f}",
                 fill="#555")  # fmt: skip
    _axis(svg, x0, x1, top + len(rows) * (bar_h + 4) + 4, 0.0, hi, "macro MIS (lower is better)")
    return svg.render()


def _labels(paths: Sequence[str]) -> list[str]:
    """Short display names: each run folder's last path part, numbered when they clash."""
    names = [str(p).rstrip("/").rsplit("/", 1)[-1] or str(p) for p in paths]
    if len(set(names)) < len(names):
        names = [f"{i + 1}: {n}" for i, n in enumerate(names)]
    return names


def _meta_table(name: str, res: Results, path: str) -> str:
    run = res.run
    cov = res.coverage
    rows = [
        ("run", f"{name} ({path})" if name != path else name),
        ("model", run_line(res)),
        ("language", "en (prompts and personas in English)" if run.lang == "en" else run.lang),
        ("variant", f"{run.variant} (headline method {run.primary})"),
        ("prompts", prompt_line(res)),
        ("intervals", interval_note(res)),
        ("seed", f"IS seed {run.is_seed}, data seed {run.data_seed}"),
        ("countries", ", ".join(run.countries)),
        (
            "coverage",
            f"{cov.present} of {cov.expected} scenario records"
            + ("" if cov.complete else " (incomplete)"),
        ),  # fmt: skip
        ("scope", f"limit {run.limit}, shard {run.shard}, status {run.status}"),
        (
            "results",
            f"{res.format} created {res.created}"
            + (" (recomputed from samples)" if res.recomputed else ""),
        ),  # fmt: skip
        ("personas", "; ".join(res.provenance) or "–"),
        ("fingerprint", str(run.fingerprint)),
    ]
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta" data-run="{_esc(name)}">{body}</table>'


def html_report(runs: Sequence[tuple[str, Results]], *, vanilla: str = "vanilla_raw") -> str:
    """The whole page for one run or several (`--compare`): figures, then metadata.

    Args:
        runs: (display name, results) per run; the first is the main run.
        vanilla: the vanilla read-out the dumbbells start from.

    Returns:
        A complete HTML document (UTF-8 text), with no external resources.
    """
    if not runs:
        raise ValueError("html_report needs at least one run")
    paths = [name for name, _ in runs]
    runs = list(zip(_labels(paths), (res for _, res in runs), strict=True))
    title = "DISCA report — " + ", ".join(name for name, _ in runs)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        '<p class="note">MIS: misalignment with the Moral Machine human preferences (lower '
        f"is better). Vanilla read-out: {_esc(vanilla)}. Made by disca-edge {__version__}.</p>",
        "<h2>MIS per country: vanilla → DISCA</h2>",
        dumbbell(runs, vanilla),
        "<h2>Per-dimension preferences, model vs human</h2>",
        '<p class="note">'
        + " ".join(
            f'<span style="display:inline-block;width:12px;height:10px;background:{color}">'
            f"</span> {_esc(label)}&nbsp;&nbsp;"
            for label, color in (
                ("human (Moral Machine, (1 + AMCE)/2)", _HUMAN_COLOR),
                (f"vanilla ({vanilla})", _VANILLA_COLOR),
                ("DISCA (the run's headline variant)", _RUN_COLORS[0]),
            )
        )
        + "; dashed line: indifference (0.5).</p>",
    ]
    for name, res in runs:
        if len(runs) > 1:
            parts.append(f"<h3>{_esc(name)}</h3>")
        parts.append('<div class="small-multiples">')
        parts += [dimension_bars(name, res, iso, vanilla) for iso in res.countries]
        parts.append("</div>")
    parts += ["<h2>Ablations</h2>", ablations(runs), "<h2>Tables</h2>"]
    for name, res in runs:
        if len(runs) > 1:
            parts.append(f"<h3>{_esc(name)}</h3>")
        parts += [html_table(country_table(res, vanilla=vanilla)), html_table(ablation_table(res))]
    parts += table1_sections(runs)  # Table 1 and the sweeps, for runs with baselines
    parts.append("<h2>Run metadata</h2>")
    parts += [_meta_table(name, res, path) for (name, res), path in zip(runs, paths, strict=True)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
