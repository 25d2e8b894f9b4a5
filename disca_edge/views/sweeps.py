"""Report tables of a rescoring sweep (`rescore.Sweep`): mean ± sd over IS seeds.

* `sweep_table`: one row per parameter point, macro MIS and % gain over the seeds;
* `seed_table`: per-country MIS over runs that differ only in their IS seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..evals.rescore import Sweep
from ..evals.results import Results
from .notes import VANILLA_DESCRIPTIONS, coverage_notes, header_lines, provenance_notes
from .render import Column, Table, format_value

__all__ = ["sweep_table", "seed_table"]


def _spread(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n − 1; None for one value) of the known values."""
    kept = [float(v) for v in values if v is not None]
    if not kept:
        return None, None
    mean = sum(kept) / len(kept)
    if len(kept) < 2:
        return mean, None
    return mean, (sum((v - mean) ** 2 for v in kept) / (len(kept) - 1)) ** 0.5


#: How an sd is shown beside a mean of each kind: the mean's decimals, no sign.
_SD_FORMATS = {"mis": ".3f", "pct": ".1f"}


def _pm(mean: float | None, sd: float | None, kind: str = "mis") -> str:
    """``mean ± sd``, the sd with the mean's decimals (``+70.9 ± 1.0`` for a % gain)."""
    if mean is None:
        return "—"
    text = format_value(mean, kind)
    return text if sd is None else f"{text} ± {sd:{_SD_FORMATS[kind]}}"


def _point_label(overrides: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items()) or "(source parameters)"


def _header(first: Results) -> list[str]:
    """The header of a table over several IS seeds: the source run's, without its seed."""
    return header_lines(first, is_seed=False)


def _notes(first: Results, vanilla: str, spread: str) -> list[str]:
    return [
        spread,
        VANILLA_DESCRIPTIONS[vanilla],
        *provenance_notes(first),
        *coverage_notes(first),
    ]


def _sweep_row(label: str, runs: Sequence[Results], vanilla: str, method: str) -> dict[str, Any]:
    """A parameter point's row: its runs (one per seed) as mean ± sd."""
    mis, mis_sd = _spread([r.macro[method].mis for r in runs])
    gain, gain_sd = _spread([r.vs_vanilla[vanilla][method].pct_gain for r in runs])
    wins, _ = _spread([r.vs_vanilla[vanilla][method].wins for r in runs])
    return {
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


def sweep_table(sweep: Sweep, results: Sequence[Results], *, vanilla: str = "vanilla_raw") -> Table:
    """One row per parameter point: macro MIS and % gain, mean ± sd over the seeds.

    Args:
        sweep: the sweep (`rescore.read_sweep`).
        results: each point's results, in ``sweep.points`` order.
        vanilla: the read-out the gain and wins are measured against.

    Returns:
        The table.
    """
    groups: dict[str, list[Results]] = {}
    for entry, res in zip(sweep.points, results, strict=True):
        groups.setdefault(_point_label(entry.point.overrides), []).append(res)
    first = results[0]
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
    source = (
        f"source run {sweep.source_path} (fingerprint {str(sweep.source_fingerprint)[:12]}…); "
        f"seeds {', '.join(str(s) for s in sweep.seeds)}; sd = sample standard deviation "
        "over seeds (n − 1)"
    )
    return Table(
        "sweep",
        f"Rescoring sweep — {first.label(method)} vs vanilla read-out {vanilla}, macro over "
        "countries, mean ± sd over IS seeds",
        columns,
        rows=[_sweep_row(label, runs, vanilla, method) for label, runs in groups.items()],
        notes=_notes(first, vanilla, source),
        header=_header(first),
    )


def _seed_row(runs: Sequence[Results], iso: str | None, vanilla: str) -> dict[str, Any]:
    """A country's MIS and gain over the seeds (``iso`` None: the per-seed macro means)."""
    method = runs[0].run.primary
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


def seed_table(results: Sequence[Results], *, vanilla: str = "vanilla_raw") -> Table:
    """Per-country MIS, vanilla and DISCA, mean ± sd over runs that differ only in seed.

    Args:
        results: the runs' results (the first one's countries are shown).
        vanilla: the read-out the gain is measured against.

    Returns:
        The table.
    """
    first = results[0]
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
    seeds = ", ".join(str(r.run.is_seed) for r in results)
    return Table(
        "seeds",
        f"MultiTP MIS per country over IS seeds {seeds} — {first.label(method)} vs vanilla "
        f"read-out {vanilla}",
        columns,
        rows=[_seed_row(results, iso, vanilla) for iso in first.countries],
        footer=[_seed_row(results, None, vanilla)],
        notes=_notes(
            first,
            vanilla,
            "sd = sample standard deviation over seeds (n − 1); the Mean row is over the "
            "per-seed macro means; vanilla read-outs do not use the IS seed",
        ),
        header=_header(first),
    )
