"""Report tables of one run or two, built from `Results`.

Each function turns a run's `results.Results` into a neutral `render.Table` (columns
with a kind, rows of raw values, notes), which `render.render` shows as rich,
Markdown, CSV or JSON:

* `country_table`: per-country MIS, vanilla → DISCA with % gain, the paired Δ MIS against
  both vanilla read-outs with 95% intervals, wins and the macro row (DISCA.md §9.4
  layout); with a measured noise floor, its median and 95th percentile beside the
  persona effects and DISCA's shift, and a flag where they are below it;
* `dimension_table`: one country's six dimensions, model vs human, with bars;
* `ablation_table`: full DISCA and each ablation, "MIS (+Δ, n hurt)" (DISCA.md §9.3),
  with intervals;
* `compare_table`: two runs side by side.

Every table's header (`notes.header_lines`) names the model (and says when it is not one of
the paper's backbones), the DISCA variant, the prompt variant, and the caveats that
apply (fewer scenarios than the paper's 310, σ at its floor, the model's numerical
noise above the persona effects or DISCA's shift); its notes name the vanilla read-out,
how the intervals were made (and the noise floor) and the persona provenance. Sweeps of rescored runs have their tables in `views.sweeps`.
"""

from __future__ import annotations

from typing import Any

from ..errors import UnknownNameError
from ..evals.results import CountryResult, Results
from ..maths.categories import short_label
from .notes import (
    VANILLA_DESCRIPTIONS,
    coverage_notes,
    header_lines,
    interval_note,
    noise_note,
    provenance_notes,
    wins_text,
)
from .render import Column, Table, format_value

__all__ = [
    "country_table",
    "dimension_table",
    "ablation_table",
    "compare_table",
    "short_mis",
]

# --------------------------------------------------------------------------- cells


def short_mis(x: float | None) -> str:
    """MIS in the paper's style: .463 (no leading zero)."""
    if x is None:
        return "—"
    text = f"{x:.3f}"
    return text[1:] if text.startswith("0.") else text


def _paper_cell(
    van: float | None, method: float | None, gain: float | None, bounds: Any = None
) -> str:
    if van is None or method is None or gain is None:
        return "—"
    ci = f" [{bounds[0]:+.1f}, {bounds[1]:+.1f}]" if bounds else ""
    return f"{short_mis(van)}→{short_mis(method)} ({gain:+.1f}{ci})"


def _language_notes(results: Results) -> list[str]:
    """Which countries ran with English frames around native personas (persona-only)."""
    mixed = [
        f"{iso} ({c.language.persona_language})"
        for iso, c in results.countries.items()
        if c.language is not None and c.language.persona_only
    ]
    if not mixed:
        return []
    return [
        "persona-only languages (native personas, English frame, base prompt and scenario "
        "text, as in the authors' released code): " + ", ".join(mixed)
    ]


def _lang_cell(entry: CountryResult) -> str:
    language = entry.language
    if language is None:
        return "en"
    if language.persona_only:
        return f"{language.persona_language}/en"
    return str(language.frame_language)


# --------------------------------------------------------------------------- countries


def _data_interval(key: str, header: str, kind: str) -> list[Column]:
    """The value's CSV/JSON columns: itself, then its interval's low and high."""
    return [
        Column(key, header, kind, show="data"),
        Column(f"{key}_low", f"{header} low", kind, show="data"),
        Column(f"{key}_high", f"{header} high", kind, show="data"),
    ]


def _country_columns(vanilla: str, other: str, method: str) -> list[Column]:
    return [
        Column("iso3", "ISO3"),
        Column("n", "n", "int"),
        Column("paper", f"{vanilla} → {method} (Δ%)", show="view"),
        Column("paper_other", f"{other} → {method} (Δ%)", show="view"),
        Column("mis_view", f"MIS {method} [95%]", "mis_ci", show="view"),
        Column("diff_view", f"Δ vs {vanilla} [95%]", "delta_ci", show="view"),
        Column("diff_other_view", f"Δ vs {other} [95%]", "delta_ci", show="view"),
        *_data_interval(vanilla, f"MIS {vanilla}", "mis"),
        *_data_interval(other, f"MIS {other}", "mis"),
        *_data_interval(method, f"MIS {method}", "mis"),
        *_data_interval("gain", f"gain % vs {vanilla}", "pct"),
        *_data_interval("gain_other", f"gain % vs {other}", "pct"),
        *_data_interval("diff", f"Δ MIS vs {vanilla}", "delta"),
        *_data_interval("diff_other", f"Δ MIS vs {other}", "delta"),
        Column("jsd", "JSD", "frac"),
        Column("pearson", "r", "corr"),
        Column("flip_rate", "flip", "frac"),
        Column("lang", "lang"),
    ]


def _noise_columns() -> list[Column]:
    """The noise floor's columns (`notes.noise_note` says what they are)."""
    return [
        Column("noise_n", "noise n", "int"),
        Column("noise_median", "noise med", "frac"),
        Column("noise_p95", "noise p95", "frac"),
        Column("persona_effect", "persona effect", "frac"),
        Column("disca_shift", "DISCA shift", "frac"),
        Column("below_noise", "< noise"),
    ]


def _noise_cells(results: Results, iso: str) -> dict[str, Any]:
    """A country's noise-floor cells (all None where it was not measured)."""
    noise = results.noise
    entry = None if noise is None else noise.countries.get(iso)
    if entry is None:
        return dict.fromkeys(c.key for c in _noise_columns())
    flags = [name for name, on in (("effects", entry.effects_below_floor),
                                   ("shift", entry.shift_below_floor)) if on]  # fmt: skip
    return {
        "noise_n": entry.n,
        "noise_median": entry.floor_median,
        "noise_p95": entry.floor_p95,
        "persona_effect": entry.persona_effect,
        "disca_shift": entry.shift,
        "below_noise": ", ".join(flags) or "no",
    }


def _put(row: dict[str, Any], key: str, value: Any, bounds: list[float] | None) -> None:
    """A value and its interval into a row's data keys (``key``, ``key_low``, ``key_high``)."""
    row[key] = value
    row[f"{key}_low"], row[f"{key}_high"] = bounds if bounds else (None, None)


def _interval_of(row: dict[str, Any], key: str) -> list[float] | None:
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    return None if low is None or high is None else [low, high]


def _with_view_cells(row: dict[str, Any], vanilla: str, other: str, method: str) -> dict:
    row["paper"] = _paper_cell(row[vanilla], row[method], row["gain"], _interval_of(row, "gain"))
    row["paper_other"] = _paper_cell(
        row[other], row[method], row["gain_other"], _interval_of(row, "gain_other")
    )
    row["mis_view"] = (row[method], _interval_of(row, method))
    row["diff_view"] = (row["diff"], _interval_of(row, "diff"))
    row["diff_other_view"] = (row["diff_other"], _interval_of(row, "diff_other"))
    return row


def _country_row(
    iso: str, entry: CountryResult, results: Results, vanilla: str, other: str, method: str
) -> dict[str, Any]:
    m = entry.methods
    row: dict[str, Any] = {"iso3": iso, "n": entry.n}
    for name in (vanilla, other, method):
        _put(row, name, m[name].mis, m[name].mis_interval)
    for key, van in (("gain", vanilla), ("gain_other", other)):
        vs = results.vs_vanilla[van][method]
        _put(row, key, vs.per_country_pct_gain.get(iso), None)
        _put(row, key.replace("gain", "diff"), vs.per_country_difference.get(iso),
             vs.per_country_difference_interval.get(iso))  # fmt: skip
    row.update(jsd=m[method].jsd, pearson=m[method].pearson, flip_rate=m[method].flip_rate)
    row["lang"] = _lang_cell(entry)
    if results.noise is not None:
        row.update(_noise_cells(results, iso))
    return _with_view_cells(row, vanilla, other, method)


def _country_footer(res: Results, vanilla: str, other: str, method: str) -> dict[str, Any]:
    """The Mean row: macro means, gains from the macro means, mean paired differences."""
    macro = res.macro
    row: dict[str, Any] = {"iso3": "Mean", "n": sum(e.n for e in res.countries.values())}
    for name in (vanilla, other, method):
        _put(row, name, macro[name].mis, macro[name].mis_interval)
    for key, van in (("gain", vanilla), ("gain_other", other)):
        vs = res.vs_vanilla[van][method]
        _put(row, key, vs.pct_gain, vs.pct_gain_interval)
        _put(row, key.replace("gain", "diff"), vs.difference, vs.difference_interval)
    m = macro[method]
    row.update(jsd=m.jsd, pearson=m.pearson, flip_rate=m.flip_rate)
    return _with_view_cells(row, vanilla, other, method)


def country_table(
    results: Results, *, vanilla: str = "vanilla_raw", method: str | None = None
) -> Table:
    """Per-country MIS: both vanilla read-outs, DISCA, % gain, JSD, r; macro row and wins.

    Args:
        results: a run's results.
        vanilla: the read-out the gain and wins are measured against.
        method: the DISCA method (default: the run's primary, ``disca_<variant>``).

    Returns:
        The table.
    """
    method = method or results.run.primary
    other = "vanilla_lfl" if vanilla == "vanilla_raw" else "vanilla_raw"
    table = Table(
        "countries",
        f"MultiTP MIS per country — {results.label(method)} vs vanilla read-out {vanilla} "
        f"(variant {results.run.variant})",
        _country_columns(vanilla, other, method)
        + (_noise_columns() if results.noise is not None else []),
    )
    for iso, entry in results.countries.items():
        table.rows.append(_country_row(iso, entry, results, vanilla, other, method))
    table.footer.append(_country_footer(results, vanilla, other, method))
    win, win_other = results.vs_vanilla[vanilla][method], results.vs_vanilla[other][method]
    table.header = header_lines(results)
    table.notes = [
        f"{wins_text(win)} vs {vanilla}; {wins_text(win_other)} vs {other} (a win or hurt: "
        "the country's interval of Δ lies below or above 0; raw: MIS below vanilla)",
        interval_note(results),
        *noise_note(results),
        "Mean row: macro means, Δ% from the macro means, Δ the mean of the countries' Δ",
        VANILLA_DESCRIPTIONS[vanilla] + "; " + VANILLA_DESCRIPTIONS[other],
        *_language_notes(results),
        *provenance_notes(results),
        *coverage_notes(results),
    ]
    return table


# --------------------------------------------------------------------------- dimensions


def _dimension_columns(vanilla: str, method: str) -> list[Column]:
    return [
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


def _dimension_rows(
    results: Results, entry: CountryResult, vanilla: str, method: str
) -> list[dict[str, Any]]:
    van, met = entry.methods[vanilla], entry.methods[method]
    rows = []
    for d, dim in enumerate(results.dimensions):
        human, model = entry.human[d], met.vector[d]
        rows.append(
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
    return rows


def dimension_table(
    results: Results, country: str, *, vanilla: str = "vanilla_raw", method: str | None = None
) -> Table:
    """One country's per-dimension preferences, model vs human, with bars.

    Args:
        results: a run's results.
        country: the country's ISO3 code (any case).
        vanilla: the vanilla read-out shown beside DISCA.
        method: the DISCA method (default: the run's primary).

    Returns:
        The table.

    Raises:
        UnknownNameError: the country is not in the results (lists the run's countries).
    """
    method = method or results.run.primary
    iso = country.strip().upper()
    if iso not in results.countries:
        raise UnknownNameError(
            f"country {country!r} is not in this run (it has {', '.join(results.countries)})"
        )
    entry = results.countries[iso]
    table = Table(
        "dimensions",
        f"{iso}: preference per dimension, model vs human — vanilla read-out {vanilla}, "
        f"DISCA variant {results.run.variant}",
        _dimension_columns(vanilla, method),
        rows=_dimension_rows(results, entry, vanilla, method),
    )
    van, met = entry.methods[vanilla], entry.methods[method]
    vs = results.vs_vanilla[vanilla][method]
    diff = (vs.per_country_difference.get(iso), vs.per_country_difference_interval.get(iso))
    table.header = header_lines(results)
    table.notes = [
        f"MIS {vanilla} {format_value((van.mis, van.mis_interval), 'mis_ci')} → {method} "
        f"{format_value((met.mis, met.mis_interval), 'mis_ci')}, Δ "
        f"{format_value(diff, 'delta_ci')}; preference = mean probability of sparing the "
        "dimension's preferred group (human: (1 + AMCE)/2)",
        interval_note(results),
        VANILLA_DESCRIPTIONS[vanilla],
        *provenance_notes(results),
        *coverage_notes(results),
    ]
    return table


# --------------------------------------------------------------------------- ablations


def _ablation_paper_cell(mis: float | None, delta: float | None, n_hurt: int) -> str:
    if mis is None or delta is None:
        return "—"
    return f"{short_mis(mis)} ({'+' if delta >= 0 else '−'}{short_mis(abs(delta))}, {n_hurt})"


def _hurt_text(n_hurt_significant: int | None, n_hurt: int, n: int) -> str:
    if n_hurt_significant is None:
        return f"{n_hurt}/{n} raw"
    return f"{n_hurt_significant}/{n} ({n_hurt} raw)"


def _ablation_row(
    results: Results, configuration: str, method: str, delta: float | None,
    delta_bounds: list[float] | None,
) -> dict[str, Any]:  # fmt: skip
    """A row's MIS (macro, with interval) and change against the full method."""
    macro = results.macro[method]
    row: dict[str, Any] = {"configuration": configuration, "method": method}
    _put(row, "mis", macro.mis, macro.mis_interval)
    _put(row, "delta", delta, delta_bounds)
    row["mis_view"] = (macro.mis, macro.mis_interval)
    row["delta_view"] = (delta, delta_bounds)
    return row


def _ablation_rows(results: Results) -> list[dict[str, Any]]:
    """Full DISCA, then each ablation."""
    base = results.ablation_base
    full = _ablation_row(results, f"Full {results.label(base)}", base, None, None)
    full.update(n_hurt=None, n_hurt_significant=None, paper=short_mis(full["mis"]))
    rows = [full]
    for name, ablation in results.ablations.items():
        row = _ablation_row(
            results, results.label(name), name, ablation.delta, ablation.delta_interval
        )
        row.update(
            n_hurt=ablation.n_hurt,
            n_hurt_significant=ablation.n_hurt_significant,
            n_hurt_view=_hurt_text(ablation.n_hurt_significant, ablation.n_hurt, ablation.n),
            paper=_ablation_paper_cell(ablation.mis, ablation.delta, ablation.n_hurt),
        )
        rows.append(row)
    return rows


def _vanilla_rows(results: Results) -> list[dict[str, Any]]:
    """The vanilla read-outs, for reference, against full DISCA."""
    base = results.ablation_base
    full = results.macro[base].mis
    rows = []
    for van in results.run.vanilla:
        mis = results.macro[van].mis
        vs = results.vs_vanilla[van].get(base)  # its difference is full − vanilla
        bounds = vs.difference_interval if vs is not None else None
        row = _ablation_row(
            results, results.label(van), van, None if full is None or mis is None else mis - full,
            None if bounds is None else [-bounds[1], -bounds[0]],
        )  # fmt: skip
        row.update(n_hurt=None, n_hurt_significant=None, paper=short_mis(mis))
        rows.append(row)
    return rows


def ablation_table(results: Results) -> Table:
    """Full DISCA and its ablations: macro MIS, change vs full and "n hurt" (§9.3 layout).

    Args:
        results: a run's results.

    Returns:
        The table.
    """
    base = results.ablation_base
    columns = [
        Column("configuration", "Configuration"),
        Column("method", "method"),
        Column("mis_view", "MIS [95%]", "mis_ci", show="view"),
        Column("delta_view", "Δ vs full [95%]", "delta_ci", show="view"),
        Column("n_hurt_view", "n hurt (raw)", show="view"),
        *_data_interval("mis", "MIS", "mis"),
        *_data_interval("delta", "Δ vs full", "delta"),
        Column("n_hurt", "n hurt", "int", show="data"),
        Column("n_hurt_significant", "n hurt (interval above 0)", "int", show="data"),
        Column("paper", "MIS (+Δ, n hurt)", show="view"),
    ]
    table = Table(
        "ablations",
        f"Ablations of {results.label(base)} (variant {results.run.variant}; "
        f"vanilla read-outs for reference)",
        columns,
        rows=_ablation_rows(results),
        footer=_vanilla_rows(results),
    )
    prior = " (country prior on in every ablation)" if "no_prior" in results.ablations else ""
    table.header = header_lines(results)
    table.notes = [
        f"MIS = macro mean over {len(results.countries)} countries; n hurt = countries whose "
        "interval of Δ (ablation − full) lies above 0, of those with both; raw: MIS strictly "
        "above the full method's (the paper's count, in the last column)",
        interval_note(results),
        f"ablation base: {base}" + (prior or " (no country prior)"),
        VANILLA_DESCRIPTIONS["vanilla_raw"] + "; " + VANILLA_DESCRIPTIONS["vanilla_lfl"],
        *provenance_notes(results),
        *coverage_notes(results),
    ]
    return table


# --------------------------------------------------------------------------- two runs


def _mis_of(res: Results, iso: str, method: str) -> float | None:
    entry = res.countries.get(iso)
    return None if entry is None else entry.methods[method].mis


def _compare_row(ra: Results, rb: Results, iso: str | None, vanilla: str) -> dict[str, Any]:
    """A country's row of two runs (``iso`` None: the Mean row, from the macro means)."""
    ma, mb = ra.run.primary, rb.run.primary
    wa, wb = ra.vs_vanilla[vanilla][ma], rb.vs_vanilla[vanilla][mb]
    if iso is None:
        a_van, a_disca, a_gain = ra.macro[vanilla].mis, ra.macro[ma].mis, wa.pct_gain
        b_van, b_disca, b_gain = rb.macro[vanilla].mis, rb.macro[mb].mis, wb.pct_gain
    else:
        a_van, a_disca = _mis_of(ra, iso, vanilla), _mis_of(ra, iso, ma)
        b_van, b_disca = _mis_of(rb, iso, vanilla), _mis_of(rb, iso, mb)
        a_gain, b_gain = wa.per_country_pct_gain.get(iso), wb.per_country_pct_gain.get(iso)
    row: dict[str, Any] = {
        "iso3": iso or "Mean",
        "a_vanilla": a_van,
        "a_gain": a_gain,
        "b_vanilla": b_van,
        "b_gain": b_gain,
        "diff": None if a_disca is None or b_disca is None else b_disca - a_disca,
    }
    for key, res, value in (("a_disca", ra, a_disca), ("b_disca", rb, b_disca)):
        _put(row, key, value, _mis_interval(res, iso))
        row[f"{key}_view"] = (value, _mis_interval(res, iso))
    return row


def _mis_interval(res: Results, iso: str | None) -> list[float] | None:
    """The primary method's MIS interval in a country (None: the macro one)."""
    method = res.run.primary
    if iso is None:
        return res.macro[method].mis_interval
    entry = res.countries.get(iso)
    return None if entry is None else entry.methods[method].mis_interval


def compare_table(
    a: Results,
    b: Results,
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
    na, nb = names
    columns = [
        Column("iso3", "ISO3"),
        Column("a_vanilla", f"{na} {vanilla}", "mis"),
        Column("a_disca_view", f"{na} {a.run.primary} [95%]", "mis_ci", show="view"),
        *_data_interval("a_disca", f"{na} {a.run.primary}", "mis"),
        Column("a_gain", f"{na} Δ%", "pct"),
        Column("b_vanilla", f"{nb} {vanilla}", "mis"),
        Column("b_disca_view", f"{nb} {b.run.primary} [95%]", "mis_ci", show="view"),
        *_data_interval("b_disca", f"{nb} {b.run.primary}", "mis"),
        Column("b_gain", f"{nb} Δ%", "pct"),
        Column("diff", f"{nb} − {na} (DISCA MIS)", "delta"),
    ]
    countries = [*a.countries, *(c for c in b.countries if c not in a.countries)]
    table = Table(
        "compare",
        f"MIS per country, two runs — vanilla read-out {vanilla}; "
        f"{na}: variant {a.run.variant}, {nb}: variant {b.run.variant}",
        columns,
        rows=[_compare_row(a, b, iso, vanilla) for iso in countries],
        footer=[_compare_row(a, b, None, vanilla)],
    )
    wa, wb = a.vs_vanilla[vanilla][a.run.primary], b.vs_vanilla[vanilla][b.run.primary]
    table.header = [
        *(f"{na}: {line}" for line in header_lines(a)),
        *(f"{nb}: {line}" for line in header_lines(b)),
    ]
    table.notes = [
        f"{na}: {wins_text(wa)}; {nb}: {wins_text(wb)} (vs {vanilla}; a win or hurt: the "
        "country's interval of Δ lies below or above 0)",
        *sorted({interval_note(a), interval_note(b)}),
        VANILLA_DESCRIPTIONS[vanilla],
        *sorted(set(provenance_notes(a)) | set(provenance_notes(b))),
        *[f"{na}: {n}" for n in coverage_notes(a)],
        *[f"{nb}: {n}" for n in coverage_notes(b)],
    ]
    return table
