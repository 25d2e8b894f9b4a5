"""Report tables of one run or two, built from `Results`.

Each function turns a run's `results.Results` into a neutral `render.Table` (columns
with a kind, rows of raw values, notes), which `render.render` shows as rich,
Markdown, CSV or JSON:

* `country_table`: per-country MIS, vanilla → DISCA with % gain, wins and the macro row
  (DISCA.md §9.4 layout);
* `dimension_table`: one country's six dimensions, model vs human, with bars;
* `ablation_table`: full DISCA and each ablation, "MIS (+Δ, n hurt)" (DISCA.md §9.3);
* `compare_table`: two runs side by side.

Every table names the vanilla read-out and the DISCA variant, and carries the persona
provenance line. Sweeps of rescored runs have their tables in `views.sweeps`.
"""

from __future__ import annotations

from typing import Any

from ..content.scenarios import PROMPT_PROTOCOLS
from ..errors import UnknownNameError
from ..evals.results import CountryResult, Results
from ..maths.categories import short_label
from .render import Column, Table, format_value

__all__ = [
    "VANILLA_DESCRIPTIONS",
    "country_table",
    "dimension_table",
    "ablation_table",
    "compare_table",
    "run_line",
    "provenance_notes",
    "coverage_notes",
    "short_mis",
]

VANILLA_DESCRIPTIONS = {
    "vanilla_raw": "vanilla_raw = base prompt, original order, raw gap, no T_cat (paper baseline)",
    "vanilla_lfl": "vanilla_lfl = base prompt, T_cat-scaled and debiased gap (like-for-like)",
}


# --------------------------------------------------------------------------- notes


def short_mis(x: float | None) -> str:
    """MIS in the paper's style: .463 (no leading zero)."""
    if x is None:
        return "—"
    text = f"{x:.3f}"
    return text[1:] if text.startswith("0.") else text


def _paper_cell(van: float | None, method: float | None, gain: float | None) -> str:
    if van is None or method is None:
        return "—"
    return f"{short_mis(van)}→{short_mis(method)} ({gain:+.1f})" if gain is not None else "—"


def run_line(results: Results) -> str:
    """One line naming the model, the variant, the seeds and the prompt language."""
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


def provenance_notes(results: Results) -> list[str]:
    """The persona provenance statements of a run (a placeholder when none were recorded)."""
    return list(results.provenance) or ["personas: provenance not recorded"]


def coverage_notes(results: Results) -> list[str]:
    """Notes on what a run lacks: incomplete, one shard, --limit, partial dimensions."""
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


# --------------------------------------------------------------------------- countries


def _country_columns(vanilla: str, other: str, method: str) -> list[Column]:
    return [
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


def _with_paper_cells(row: dict[str, Any], vanilla: str, other: str, method: str) -> dict:
    row["paper"] = _paper_cell(row[vanilla], row[method], row["gain"])
    row["paper_other"] = _paper_cell(row[other], row[method], row["gain_other"])
    return row


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
    return _with_paper_cells(row, vanilla, other, method)


def _country_footer(res: Results, vanilla: str, other: str, method: str) -> dict[str, Any]:
    """The Mean row: macro means, gains from the macro means."""
    macro = res.macro
    row: dict[str, Any] = {
        "iso3": "Mean",
        "n": sum(e.n for e in res.countries.values()),
        vanilla: macro[vanilla].mis,
        other: macro[other].mis,
        method: macro[method].mis,
        "gain": res.vs_vanilla[vanilla][method].pct_gain,
        "gain_other": res.vs_vanilla[other][method].pct_gain,
        "jsd": macro[method].jsd,
        "pearson": macro[method].pearson,
        "flip_rate": macro[method].flip_rate,
    }
    return _with_paper_cells(row, vanilla, other, method)


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
        _country_columns(vanilla, other, method),
    )
    for iso, entry in results.countries.items():
        table.rows.append(_country_row(iso, entry, results, vanilla, other, method))
    table.footer.append(_country_footer(results, vanilla, other, method))
    win, win_other = results.vs_vanilla[vanilla][method], results.vs_vanilla[other][method]
    table.notes = [
        f"wins (MIS below vanilla): {win.wins}/{win.n} vs {vanilla}, "
        f"{win_other.wins}/{win_other.n} vs {other}; Mean row: macro means, "
        "Δ% from the macro means",
        VANILLA_DESCRIPTIONS[vanilla] + "; " + VANILLA_DESCRIPTIONS[other],
        run_line(results),
        _protocol_line(results),
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
    table.notes = [
        f"MIS {vanilla} {format_value(van.mis, 'mis')} → {method} "
        f"{format_value(met.mis, 'mis')}; preference = mean probability of sparing the "
        "dimension's preferred group (human: (1 + AMCE)/2)",
        VANILLA_DESCRIPTIONS[vanilla],
        run_line(results),
        *provenance_notes(results),
        *coverage_notes(results),
    ]
    return table


# --------------------------------------------------------------------------- ablations


def _ablation_paper_cell(mis: float | None, delta: float | None, n_hurt: int) -> str:
    if mis is None or delta is None:
        return "—"
    return f"{short_mis(mis)} ({'+' if delta >= 0 else '−'}{short_mis(abs(delta))}, {n_hurt})"


def _ablation_rows(results: Results) -> list[dict[str, Any]]:
    """Full DISCA, then each ablation."""
    base = results.ablation_base
    full = results.macro[base].mis
    rows: list[dict[str, Any]] = [
        {"configuration": f"Full {results.label(base)}", "method": base, "mis": full,
         "delta": None, "n_hurt": None, "paper": short_mis(full)},
    ]  # fmt: skip
    for name, row in results.ablations.items():
        rows.append(
            {
                "configuration": results.label(name),
                "method": name,
                "mis": row.mis,
                "delta": row.delta,
                "n_hurt": row.n_hurt,
                "paper": _ablation_paper_cell(row.mis, row.delta, row.n_hurt),
            }
        )
    return rows


def _vanilla_rows(results: Results) -> list[dict[str, Any]]:
    """The vanilla read-outs, for reference, against full DISCA."""
    full = results.macro[results.ablation_base].mis
    rows = []
    for van in results.run.vanilla:
        mis = results.macro[van].mis
        rows.append(
            {
                "configuration": results.label(van),
                "method": van,
                "mis": mis,
                "delta": None if full is None or mis is None else mis - full,
                "n_hurt": None,
                "paper": short_mis(mis),
            }
        )
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
        Column("mis", "MIS", "mis"),
        Column("delta", "Δ vs full", "delta"),
        Column("n_hurt", "n hurt", "int"),
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
    table.notes = [
        f"MIS = macro mean over {len(results.countries)} countries; n hurt = countries whose "
        "MIS is strictly above the full method's",
        f"ablation base: {base}" + (prior or " (no country prior)"),
        VANILLA_DESCRIPTIONS["vanilla_raw"] + "; " + VANILLA_DESCRIPTIONS["vanilla_lfl"],
        run_line(results),
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
    return {
        "iso3": iso or "Mean",
        "a_vanilla": a_van,
        "a_disca": a_disca,
        "a_gain": a_gain,
        "b_vanilla": b_van,
        "b_disca": b_disca,
        "b_gain": b_gain,
        "diff": None if a_disca is None or b_disca is None else b_disca - a_disca,
    }


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
        Column("a_disca", f"{na} {a.run.primary}", "mis"),
        Column("a_gain", f"{na} Δ%", "pct"),
        Column("b_vanilla", f"{nb} {vanilla}", "mis"),
        Column("b_disca", f"{nb} {b.run.primary}", "mis"),
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
    table.notes = [
        f"{na}: {run_line(a)}; wins {wa.wins}/{wa.n}",
        f"{nb}: {run_line(b)}; wins {wb.wins}/{wb.n}",
        VANILLA_DESCRIPTIONS[vanilla],
        *sorted(set(provenance_notes(a)) | set(provenance_notes(b))),
        *[f"{na}: {n}" for n in coverage_notes(a)],
        *[f"{nb}: {n}" for n in coverage_notes(b)],
    ]
    return table
