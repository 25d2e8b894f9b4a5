"""Figures of evaluation runs, drawn with matplotlib, and the self-contained HTML report.

`FIGURES`, each made by `make_figure` from the `Results` of one or more runs:

* ``dumbbell``: per-country MIS, vanilla (ring) → DISCA (dot), one dumbbell per
  (country, run), each end with its 95% interval as an error bar;
* ``dimensions``: the main run's six dimensions per country, human vs vanilla vs DISCA,
  one panel per country;
* ``ablations``: macro MIS of full DISCA, each ablation and the vanilla read-outs, per
  run, with error bars;
* ``personas``: the main run's persona effects δ_i − δ_base per country, persona and
  dimension (`evals.persona_effects`), a diverging heat map.

Axes start at zero with round ticks (0, 0.1, 0.2, …) and gridlines behind the data; a
zero is drawn (a bar of no length keeps its edge at 0) and a missing value is a hatched
cell, listed in the legend as "no data". `figure_file` writes one figure as SVG, PNG or
PDF (``disca report --figure NAME --out FILE``); `html_report` puts every figure inline
as SVG in one page with the report's tables and the run metadata. The page has no
scripts and loads nothing (no fonts, stylesheets or images from the network), so it
opens offline and can be mailed. Marks are tagged for counting (`plots.Plot`).

matplotlib is the ``plots`` extra; without it these functions raise one `DiscaError`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..evals.persona_effects import PersonaEffects
from ..evals.results import MacroScore, Results
from ..maths.categories import short_label
from .notes import interval_note, prompt_line, run_line
from .plots import Plot, figure, nice_ceiling
from .render import html_table
from .table1 import html_sections as table1_sections
from .tables import ablation_table, country_table

__all__ = ["FIGURES", "figure_file", "html_report", "make_figure"]

FIGURES = ("dumbbell", "dimensions", "ablations", "personas")

_RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
_VANILLA_COLOR = "#8a8a8a"
_HUMAN_COLOR = "#222222"
_MISSING: dict[str, Any] = {
    "facecolor": "none",
    "edgecolor": "#c8c8c8",
    "hatch": "////",
    "linewidth": 0.0,
}
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table.meta { border-collapse: collapse; margin: .5em 0 1em; }
table.meta th, table.meta td { text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }
table.meta th { color: #555; font-weight: 600; }
.note { color: #555; font-size: .9em; }
svg { display: block; margin: .5em 0 1.5em; max-width: 100%; height: auto; }
table.data { border-collapse: collapse; font-size: .85em; margin: .3em 0; }
table.data th, table.data td { padding: 2px 8px; border-bottom: 1px solid #e4e4e4;
       text-align: right; white-space: nowrap; }
table.data th:first-child, table.data td:first-child { text-align: left; }
p.header { margin: .1em 0; font-size: .9em; }
ul.note { color: #555; font-size: .85em; }
"""

Runs = Sequence[tuple[str, Results]]


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


def _value_axis(ax: Any, hi: float, label: str) -> None:
    """A horizontal value axis from 0 to `hi`, round ticks, gridlines behind the data."""
    ax.set_xlim(0.0, hi)
    ax.spines["left"].set_position(("outward", 4))  # so a bar of length 0 shows at 0
    ax.xaxis.set_major_locator(_locator())
    ax.grid(axis="x")
    ax.set_xlabel(label)


def _locator() -> Any:
    """Round ticks: steps of 1, 2 or 5 times a power of ten, at most about 6."""
    from matplotlib.ticker import MaxNLocator  # matplotlib stays lazy (`plots`)

    return MaxNLocator(nbins=6, steps=[1, 2, 5, 10])


def _missing(plot: Plot, ax: Any, x0: float, width: float, y: float, h: float, tip: str) -> None:
    """A hatched cell where a value is missing (class ``missing``)."""
    from matplotlib.patches import Rectangle

    cell = Rectangle((x0, y - h / 2), width, h, **_MISSING)
    plot.mark(ax.add_patch(cell), "missing", None, tip, kind="missing")


def _errorbar(
    plot: Plot, ax: Any, bounds: Sequence[float] | None, y: float, color: str, series: str, who: str
) -> None:
    """An interval [low, high] at height y, with end caps (class ``errorbar``)."""
    if not bounds:
        return
    low, high = bounds
    (line,) = ax.plot([low, high], [y, y], color=color, linewidth=1.1, marker="|",
                      markersize=6, markeredgewidth=1.1, zorder=2)  # fmt: skip
    plot.mark(line, series, None, f"{who} 95% interval [{low:.3f}, {high:.3f}]", "errorbar")


def _no_data_handle() -> Any:
    from matplotlib.patches import Patch

    return Patch(label="no data", **{**_MISSING, "linewidth": 0.6})


# --------------------------------------------------------------------------- dumbbell


def _countries(runs: Runs) -> list[str]:
    countries: list[str] = []
    for _, res in runs:
        countries += [c for c in res.countries if c not in countries]
    return countries


def _mis_ceiling(values: Sequence[Any]) -> float:
    """A round upper end for a MIS axis holding `values` (None ignored)."""
    present = [v for v in map(_num, values) if v is not None]
    return nice_ceiling(max(present + [0.1]) * 1.05)


def dumbbell(runs: Runs, vanilla: str, prefix: str = "dumbbell") -> Plot:
    """Per-country MIS, vanilla (ring) → DISCA (dot), one dumbbell per country and run."""
    countries = _countries(runs)
    hi = _mis_ceiling([
        v for _, res in runs for entry in res.countries.values()
        for m in (vanilla, res.run.primary)
        for v in [entry.methods[m].mis, *(entry.methods[m].mis_interval or [])]
    ])  # fmt: skip
    band = len(runs) + 0.7
    size = (7.5, 1.3 + 0.26 * band * len(countries))
    with figure("dumbbell", f"MIS per country, {vanilla} → DISCA (lower is better)", size,
                prefix) as plot:  # fmt: skip
        ax = plot.fig.subplots()
        for ci, iso in enumerate(countries):
            for ri, (name, res) in enumerate(runs):
                if iso in res.countries:
                    who = f"{iso} ({name})" if len(runs) > 1 else iso
                    _dumbbell_row(plot, ax, res, iso, vanilla, ci * band + ri, ri, who, hi)
        ax.set_yticks([ci * band + (len(runs) - 1) / 2 for ci in range(len(countries))],
                      countries)  # fmt: skip
        ax.set_ylim(len(countries) * band - 0.5, -0.8)
        ax.tick_params(axis="y", length=0)
        _value_axis(ax, hi, "MIS (lower is better)")
        _dumbbell_legend(ax, runs, vanilla)
    return plot


def _dumbbell_row(
    plot: Plot, ax: Any, res: Results, iso: str, vanilla: str, y: float, ri: int, who: str,
    hi: float,
) -> None:  # fmt: skip
    """One dumbbell: the change line, both ends and their intervals; hatched where missing."""
    entry, primary = res.countries[iso], res.run.primary
    color = _RUN_COLORS[ri % len(_RUN_COLORS)]
    v, d = _num(entry.methods[vanilla].mis), _num(entry.methods[primary].mis)
    if v is None or d is None:
        _missing(
            plot, ax, 0.0, hi, y, 0.7, f"{who}: no MIS for {vanilla if v is None else primary}"
        )
    if v is not None and d is not None:
        (line,) = ax.plot([v, d], [y, y], color=color, linewidth=2, alpha=0.6, zorder=2)
        plot.mark(line, "change", d - v, f"{who}: MIS {v:.3f} → {d:.3f}")
    _errorbar(plot, ax, entry.methods[vanilla].mis_interval, y - 0.22, _VANILLA_COLOR,
              "vanilla", f"{who}: {vanilla} MIS")  # fmt: skip
    _errorbar(plot, ax, entry.methods[primary].mis_interval, y + 0.22, color, "disca",
              f"{who}: {primary} MIS")  # fmt: skip
    if v is not None:
        (ring,) = ax.plot([v], [y], "o", markersize=6, markerfacecolor="white",
                          markeredgecolor=_VANILLA_COLOR, markeredgewidth=1.6, zorder=3)  # fmt: skip
        plot.mark(ring, "vanilla", v, f"{who}: {vanilla} MIS {v:.3f}")
    if d is not None:
        (dot,) = ax.plot([d], [y], "o", markersize=6, color=color, zorder=4)
        plot.mark(dot, "disca", d, f"{who}: {primary} MIS {d:.3f}")


def _dumbbell_legend(ax: Any, runs: Runs, vanilla: str) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                      markeredgecolor=_VANILLA_COLOR, markeredgewidth=1.6,
                      label=f"vanilla ({vanilla})")]  # fmt: skip
    handles += [Line2D([], [], marker="o", linestyle="", color=_RUN_COLORS[i % len(_RUN_COLORS)],
                       label=f"DISCA: {name}" if len(runs) > 1 else "DISCA")
                for i, (name, _) in enumerate(runs)]  # fmt: skip
    entries = [(entry, m) for _, res in runs for entry in res.countries.values()
               for m in (vanilla, res.run.primary)]  # fmt: skip
    if any(entry.methods[m].mis_interval for entry, m in entries):
        handles.append(Line2D([], [], color="#555", marker="|", label="95% interval"))
    if any(_num(entry.methods[m].mis) is None for entry, m in entries):
        handles.append(_no_data_handle())
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=len(handles),
              borderaxespad=0, handlelength=1.6)  # fmt: skip


# --------------------------------------------------------------------------- dimensions


def dimensions(res: Results, vanilla: str, prefix: str = "dimensions") -> Plot:
    """Per country (one panel each), the six dimensions: human, vanilla and DISCA bars."""
    isos = list(res.countries)
    ncols = min(3, max(1, len(isos)))
    nrows = max(1, math.ceil(len(isos) / ncols))
    size = (2.6 * ncols + 0.9, 2.15 * nrows + 0.5)
    with figure("dimensions", "Preference per dimension, human vs model, per country", size,
                prefix) as plot:  # fmt: skip
        axes = plot.fig.subplots(nrows, ncols, squeeze=False, sharex=True)
        series = (("human", _HUMAN_COLOR), (vanilla, _VANILLA_COLOR),
                  (res.run.primary, _RUN_COLORS[0]))  # fmt: skip
        for k, ax in enumerate(axes.flat):
            if k >= len(isos):
                ax.set_axis_off()
                axes.flat[k - ncols].tick_params(labelbottom=True)  # the panel above ends it
                continue
            _dimension_panel(plot, ax, res, isos[k], series, first_column=k % ncols == 0)
        vectors: list[Sequence[float | None] | None] = [
            v for e in res.countries.values() for v in (e.human, e.methods[vanilla].vector,
                                                         e.methods[res.run.primary].vector)
        ]  # fmt: skip
        missing = any(v is None or any(_num(x) is None for x in v) for v in vectors)
        _dimension_legend(plot.fig, vanilla, missing)
    return plot


def _dimension_panel(
    plot: Plot, ax: Any, res: Results, iso: str, series: Sequence[tuple[str, str]],
    first_column: bool,
) -> None:  # fmt: skip
    """One country: three bars per dimension; a bar of length 0 keeps a visible edge at 0."""
    entry = res.countries[iso]
    vectors: dict[str, Sequence[float | None] | None] = {
        "human": entry.human,
        **{m: entry.methods[m].vector for m, _ in series[1:]},
    }
    height = 0.26
    for d, dim in enumerate(res.dimensions):
        n = entry.n_per_dimension.get(dim)
        for s, (name, color) in enumerate(series):
            vector = vectors[name]
            value = _num(vector[d]) if vector else None
            y = d + (s - 1) * height
            label = f"{iso} {short_label(dim)}, {name}"
            if value is None:
                _missing(plot, ax, 0.0, 1.0, y, height * 0.92, f"{label}: no data")
                continue
            (bar,) = ax.barh([y], [value], height=height * 0.92, color=color, edgecolor=color,
                             linewidth=1.0, zorder=2)  # fmt: skip
            n_text = f" (n = {n})" if n is not None and name != "human" else ""
            plot.mark(bar, name, value, f"{label}: {value:.3f}{n_text}")
    ax.axvline(0.5, color="#999", linestyle=(0, (3, 3)), linewidth=0.8, zorder=1)
    mis = f"MIS {_fmt(entry.methods[series[1][0]].mis)} → {_fmt(entry.methods[series[2][0]].mis)}"
    ax.set_title(f"{iso}   {mis}", loc="left")
    ax.set_yticks(range(len(res.dimensions)),
                  [short_label(d) for d in res.dimensions] if first_column else [])  # fmt: skip
    ax.set_ylim(len(res.dimensions) - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.set_xlim(0.0, 1.0)
    ax.spines["left"].set_position(("outward", 4))  # so a bar of length 0 shows at 0
    ax.set_xticks([0.0, 0.25, 0.5, 0.75, 1.0], ["0", ".25", ".5", ".75", "1"])
    ax.grid(axis="x")


def _dimension_legend(fig: Any, vanilla: str, missing: bool) -> None:
    from matplotlib.patches import Patch

    handles = [
        Patch(color=_HUMAN_COLOR, label="human (Moral Machine, (1 + AMCE)/2)"),
        Patch(color=_VANILLA_COLOR, label=f"vanilla ({vanilla})"),
        Patch(color=_RUN_COLORS[0], label="DISCA (the run's headline variant)"),
    ]
    handles += [_no_data_handle()] if missing else []
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles))
    fig.supxlabel("P(spare the preferred group); dashed: indifference (0.5)", fontsize=8.5)


# --------------------------------------------------------------------------- ablations


def _ablation_rows(runs: Runs) -> list[tuple[str, str, MacroScore, str]]:
    """(label, series, macro score, colour) per bar: full, ablations, vanilla, per run."""
    rows: list[tuple[str, str, MacroScore, str]] = []
    for ri, (name, res) in enumerate(runs):
        base = res.ablation_base
        prefix = f"{name}: " if len(runs) > 1 else ""
        color = _RUN_COLORS[ri % len(_RUN_COLORS)]
        rows.append((prefix + "full " + res.label(base), "full", res.macro[base], color))
        rows += [(prefix + res.label(m), "ablation", res.macro[m], color) for m in res.ablations]
        rows += [(prefix + res.label(v), "vanilla", res.macro[v], _VANILLA_COLOR)
                 for v in res.run.vanilla]  # fmt: skip
    return rows


def ablations(runs: Runs, prefix: str = "ablations") -> Plot:
    """Macro MIS of full DISCA, each ablation and the vanilla read-outs, per run."""
    rows = _ablation_rows(runs)
    ends = [v for _, _, m, _ in rows for v in [m.mis, *(m.mis_interval or [])]]
    hi = _mis_ceiling([max([e for e in map(_num, ends) if e is not None] + [0.1]) * 1.12])
    size = (7.5, 1.1 + 0.27 * len(rows))
    with figure("ablations", "Ablations: macro MIS over the run's countries", size,
                prefix) as plot:  # fmt: skip
        ax = plot.fig.subplots()
        for i, (label, series, score, color) in enumerate(rows):
            mis = _num(score.mis)
            if mis is None:
                _missing(plot, ax, 0.0, hi, i, 0.7, f"{label}: no data")
                continue
            (bar,) = ax.barh([i], [mis], height=0.7, color=color, edgecolor=color, linewidth=0.8,
                             alpha=1.0 if series == "full" else 0.55, zorder=2)  # fmt: skip
            plot.mark(bar, series, mis, f"{label}: macro MIS {mis:.4f}")
            _errorbar(plot, ax, score.mis_interval, i, _HUMAN_COLOR, series, f"{label}: macro MIS")
            end = max([mis, *(score.mis_interval or [])])
            ax.annotate(f"{mis:.3f}", (end, i), xytext=(4, 0), textcoords="offset points",
                        va="center", color="#555", fontsize=7.5)  # fmt: skip
        ax.set_yticks(range(len(rows)), [label for label, *_ in rows])
        for tick, (_, series, _, _) in zip(ax.get_yticklabels(), rows, strict=True):
            tick.set_fontweight("bold" if series == "full" else "normal")
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        _value_axis(ax, hi, "macro MIS (lower is better)")
        if any(_num(score.mis) is None for _, _, score, _ in rows):
            ax.legend(handles=[_no_data_handle()], loc="lower right")
    return plot


# --------------------------------------------------------------------------- personas


def personas(res: Results, effects: PersonaEffects, prefix: str = "personas") -> Plot:
    """Persona effects δ_i − δ_base per country (rows) and dimension × persona (columns)."""
    isos = [iso for iso in res.countries if iso in effects.countries]
    agents = _persona_labels(res, effects)
    n_dims, n_agents = len(effects.dimensions), len(effects.personas)
    values = [v for iso in isos for row in effects.countries[iso].values() for v in row]
    limit = nice_ceiling(max([abs(v) for v in values if v is not None] + [0.05]))
    width = 0.42 * n_dims * n_agents + 0.3 * n_dims + 2.4
    size = (width, 1.9 + 0.27 * max(1, len(isos)))
    title = "Persona effects: δ_persona − δ_base per country and dimension"
    with figure("personas", title, size, prefix) as plot:
        ax = plot.fig.subplots()
        colors = _diverging(limit)
        for r, iso in enumerate(isos):
            for d, dim in enumerate(effects.dimensions):
                for a, agent in enumerate(effects.personas):
                    x = d * (n_agents + 0.5) + a
                    value = effects.countries[iso][agent][d]
                    who = f"{iso} {short_label(dim)}, {agents[a]}"
                    _persona_cell(plot, ax, x, r, value, colors, who, effects.n[iso].get(dim))
        _persona_axes(ax, isos, effects, agents)
        mappable = plot.fig.colorbar(
            colors, ax=ax, fraction=0.04, pad=0.01, aspect=8 + 1.5 * len(isos)
        )  # as wide for any height
        mappable.set_label("δ_persona − δ_base", fontsize=7.5)
        mappable.ax.yaxis.set_major_locator(_locator())
    return plot


def _persona_labels(res: Results, effects: PersonaEffects) -> list[str]:
    """Column names: the cohorts, the fourth persona named as the run's variant has it."""
    fourth = res.run.prompts.fourth if res.run.prompts else "aggregate"
    names = {"all": "utilitarian" if fourth == "utilitarian" else "aggregate"}
    return [names.get(p, p) for p in effects.personas]


def _diverging(limit: float) -> Any:
    """A colour scale from −limit (orange) through 0 (white) to +limit (purple)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    return ScalarMappable(Normalize(-limit, limit), "PuOr")


def _persona_cell(
    plot: Plot, ax: Any, x: float, y: int, value: float | None, colors: Any, who: str,
    n: int | None,
) -> None:  # fmt: skip
    """One heat-map cell with its value written in it; hatched where there is none."""
    from matplotlib.patches import Rectangle

    if value is None:
        _missing(plot, ax, x - 0.48, 0.96, y, 0.92, f"{who}: no data")
        return
    face = colors.to_rgba(value)
    cell = Rectangle((x - 0.48, y - 0.46), 0.96, 0.92, facecolor=face, edgecolor="none")
    n_text = "" if n is None else f" (n = {n})"
    plot.mark(ax.add_patch(cell), who.rsplit(", ", 1)[-1], value, f"{who}: {value:+.3f}{n_text}")
    dark = 0.299 * face[0] + 0.587 * face[1] + 0.114 * face[2] < 0.5
    ax.text(x, y, f"{value:+.2f}", ha="center", va="center", fontsize=6,
            color="white" if dark else "#222")  # fmt: skip


def _persona_axes(ax: Any, isos: list[str], effects: PersonaEffects, agents: list[str]) -> None:
    """Countries down the side, personas under the columns, dimensions over their groups."""
    n_agents = len(effects.personas)
    step = n_agents + 0.5
    ax.set_xlim(-0.6, len(effects.dimensions) * step - 0.9)
    ax.set_ylim(max(1, len(isos)) - 0.5, -0.5)
    ax.set_yticks(range(len(isos)), isos)
    centers = [d * step + a for d in range(len(effects.dimensions)) for a in range(n_agents)]
    ax.set_xticks(centers, agents * len(effects.dimensions), rotation=90, fontsize=7)
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    top = ax.secondary_xaxis("top")
    top.set_xticks([d * step + (n_agents - 1) / 2 for d in range(len(effects.dimensions))],
                   [short_label(d) for d in effects.dimensions])  # fmt: skip
    top.tick_params(length=0)
    top.spines["top"].set_visible(False)


# --------------------------------------------------------------------------- figures, page


def make_figure(
    name: str,
    runs: Runs,
    *,
    vanilla: str = "vanilla_raw",
    effects: PersonaEffects | None = None,
    prefix: str | None = None,
) -> Plot:
    """One of `FIGURES` (``dimensions`` and ``personas``: of the first run).

    Args:
        name: the figure.
        runs: (display name, results) per run; the first is the main run.
        vanilla: the vanilla read-out the dumbbells and dimension bars show.
        effects: the main run's persona effects (``personas`` only).
        prefix: prefix of the marks' SVG ids (default: `name`).

    Raises:
        ValueError: an unknown figure, no run, or ``personas`` without `effects`.
        DiscaError: matplotlib is not installed.
    """
    if not runs:
        raise ValueError("a figure needs at least one run")
    prefix = prefix or name
    if name == "dumbbell":
        return dumbbell(runs, vanilla, prefix)
    if name == "dimensions":
        return dimensions(runs[0][1], vanilla, prefix)
    if name == "ablations":
        return ablations(runs, prefix)
    if name == "personas":
        if effects is None:
            raise ValueError("the personas figure needs the run's persona effects")
        return personas(runs[0][1], effects, prefix)
    raise ValueError(f"unknown figure {name!r}; one of {', '.join(FIGURES)}")


def figure_file(name: str, runs: Runs, fmt: str, **kw: Any) -> bytes:
    """`make_figure`'s figure as a ``svg``, ``png`` or ``pdf`` file's bytes."""
    return make_figure(name, runs, **kw).file_bytes(fmt)


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


def _per_run_figures(
    runs: Runs, vanilla: str, effects: Sequence[PersonaEffects | None]
) -> list[str]:
    """The dimension and persona sections: one figure of each per run."""
    parts = ["<h2>Per-dimension preferences, model vs human</h2>"]
    for k, (name, res) in enumerate(runs):
        parts += [f"<h3>{_esc(name)}</h3>"] if len(runs) > 1 else []
        parts.append(dimensions(res, vanilla, f"dimensions{k}").svg())
    parts += [
        "<h2>Persona effects</h2>",
        '<p class="note">Mean over a dimension\'s scenarios of δ_persona − δ_base (debiased, '
        "T_cat-scaled logit gaps of the headline DISCA variant), turned towards the group "
        "the dimension prefers: above 0 (purple), the persona spares that group more readily "
        "than the base prompt; below 0 (orange), less.</p>",
    ]
    for k, ((name, res), found) in enumerate(zip(runs, effects, strict=True)):
        parts += [f"<h3>{_esc(name)}</h3>"] if len(runs) > 1 else []
        if found is None or not found.countries:
            parts.append('<p class="note">No persona effects: the run\'s samples were not '
                         "read, or they hold no DISCA diagnostics.</p>")  # fmt: skip
        else:
            parts.append(personas(res, found, f"personas{k}").svg())
    return parts


def html_report(
    runs: Runs,
    *,
    vanilla: str = "vanilla_raw",
    effects: Sequence[PersonaEffects | None] | None = None,
) -> str:
    """The whole page for one run or several (`--compare`): figures, tables, metadata.

    Args:
        runs: (display name, results) per run; the first is the main run.
        vanilla: the vanilla read-out the dumbbells start from.
        effects: per run, its persona effects (None: that run's persona figure is left
            out with a note).

    Returns:
        A complete HTML document (UTF-8 text), with no external resources.

    Raises:
        ValueError: no run.
        DiscaError: matplotlib is not installed.
    """
    if not runs:
        raise ValueError("html_report needs at least one run")
    paths = [name for name, _ in runs]
    runs = list(zip(_labels(paths), (res for _, res in runs), strict=True))
    effects = list(effects) if effects is not None else [None] * len(runs)
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
        dumbbell(runs, vanilla).svg(),
        *_per_run_figures(runs, vanilla, effects),
        "<h2>Ablations</h2>",
        ablations(runs).svg(),
        "<h2>Tables</h2>",
    ]
    for name, res in runs:
        if len(runs) > 1:
            parts.append(f"<h3>{_esc(name)}</h3>")
        parts += [html_table(country_table(res, vanilla=vanilla)), html_table(ablation_table(res))]
    parts += table1_sections(runs)  # Table 1 and the sweeps, for runs with baselines
    parts.append("<h2>Run metadata</h2>")
    parts += [_meta_table(name, res, path) for (name, res), path in zip(runs, paths, strict=True)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
