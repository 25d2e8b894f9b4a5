"""Typed, versioned results of a MultiTP run, built from its header and sample records.

`build_results` turns a run's records into a `Results`: per country and method the
6-dim model vector, MIS, JSD, Pearson r, Kendall τ, Spearman ρ, flip rate; macro means;
% gain and wins against both vanilla read-outs; the ablation rows; coverage. The
`reference` variant's country prior is sequential in pool order, so it is applied here,
per country, over the records sorted by pool position (`methods.finalize`): a resumed,
sharded-then-merged or single run gives identical results.

``results.json`` is `Results.to_dict` (format `RESULTS_FORMAT`); `Results.from_dict`
reads it back. `report` reads `Results`, not string keys.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ..errors import DiscaError
from ..maths import categories, metrics
from ..maths.methods import (
    METHOD_ORDER,
    VANILLA,
    Method,
    finalize,
    primary_method,
    suite_from_config,
)
from . import runlog

__all__ = [
    "RESULTS_FORMAT",
    "MethodScore",
    "CountryResult",
    "MacroScore",
    "VanillaComparison",
    "AblationRow",
    "Coverage",
    "RunInfo",
    "Results",
    "as_results",
    "build_results",
    "summarize",
    "load_results",
]

#: Format tag of ``results.json``; `Results.from_dict` reads this version.
RESULTS_FORMAT = "disca-edge-results/1"

_T = TypeVar("_T")


def _from_mapping(cls: type[_T], data: Mapping[str, Any]) -> _T:
    """A dataclass from a mapping: known fields only, absent ones at their defaults."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class MethodScore:
    """One method's scores in one country.

    Attributes:
        vector: model preference per dimension (6 values in `categories.DIMENSIONS`
            order, [0, 1]); None where a dimension has no scenario.
        dims_covered: dimensions with a value.
        mis: L2 distance to the human vector over the covered dimensions.
        jsd, pearson, kendall_tau, spearman: shape metrics (None unless all 6 covered).
        worst_dimension: the dimension with the largest error.
        flip_rate: share of scenarios where DISCA flips the consensus sign (DISCA only).
        option_order_consistency: agreement between the two label orders.
    """

    vector: list[float | None]
    dims_covered: int
    mis: float | None
    jsd: float | None = None
    pearson: float | None = None
    kendall_tau: float | None = None
    spearman: float | None = None
    worst_dimension: str | None = None
    flip_rate: float | None = None
    option_order_consistency: float | None = None


@dataclass(frozen=True)
class CountryResult:
    """One country: scenario counts, the human vector and every method's scores.

    Attributes:
        n: scenarios with a record.
        n_expected: scenarios this run's scope asks for.
        n_per_dimension: scenario count per dimension name.
        human: the Moral Machine vector (6 values, `categories.DIMENSIONS` order).
        panel_sha256: hash of the persona panel used.
        provenance: the panel's provenance tag.
        methods: method name -> scores.
        language: the prompts' languages (mode, persona_language, frame_language,
            persona_only); None for runs from before languages were recorded (English).
    """

    n: int
    n_expected: int
    n_per_dimension: dict[str, int]
    human: list[float]
    panel_sha256: str | None
    provenance: str | None
    methods: dict[str, MethodScore]
    language: dict[str, Any] | None = None


@dataclass(frozen=True)
class MacroScore:
    """A method's macro means over the countries with a value (``n_countries``)."""

    mis: float | None
    jsd: float | None
    pearson: float | None
    kendall_tau: float | None
    spearman: float | None
    flip_rate: float | None
    n_countries: int


@dataclass(frozen=True)
class VanillaComparison:
    """A method against a vanilla read-out: macro % gain, wins and per-country gains."""

    pct_gain: float | None
    wins: int
    n: int
    per_country_pct_gain: dict[str, float | None]


@dataclass(frozen=True)
class AblationRow:
    """An ablation's macro MIS, change against the full method and countries hurt."""

    mis: float | None
    delta: float | None
    n_hurt: int
    n: int


@dataclass(frozen=True)
class Coverage:
    """How much of the run's scope has records."""

    expected: int
    present: int
    missing: int
    complete: bool
    per_country_expected: int
    pool_positions: int
    shard: str | None
    n_records: int


@dataclass(frozen=True)
class RunInfo:
    """What the results were computed from: model, variant, seeds, scope and status."""

    model: str | None
    model_sha256: str | None
    fingerprint: str | None
    variant: str
    primary: str
    ablation_base: str
    vanilla: list[str]
    is_seed: int | None
    data_seed: int | None
    status: str | None
    countries: list[str]
    limit: int | None
    shard: str | None
    lang: str = "en"
    prompt_protocol: int = 1  # `scenarios.PROMPT_PROTOCOLS`; runs before it was recorded: 1


@dataclass(frozen=True)
class Results:
    """Everything a report shows about one run (``results.json``, `RESULTS_FORMAT`).

    Attributes:
        created: when the results were computed (UTC, ISO 8601).
        run: what they were computed from.
        provenance: the persona provenance statements of the run's panels.
        human_targets: sha256, source and pull time of the Moral Machine file.
        coverage: records present against the scope.
        dimensions: the dimension names (`categories.DIMENSIONS`).
        methods: method name -> label, kind, ablation base, sequential flag.
        countries: ISO3 -> the country's result, in run order.
        macro: method name -> macro means.
        vs_vanilla: vanilla read-out -> method name -> comparison.
        ablation_base: the method the ablations switch things off in.
        ablations: ablation name -> row.
        sequential: method -> ISO3 -> scenario id -> p_spare (the prior-applied values).
        recomputed: computed from the samples because ``results.json`` was absent or stale.
        format: the format tag.
    """

    created: str
    run: RunInfo
    provenance: list[str]
    human_targets: dict[str, Any]
    coverage: Coverage
    dimensions: list[str]
    methods: dict[str, dict[str, Any]]
    countries: dict[str, CountryResult]
    macro: dict[str, MacroScore]
    vs_vanilla: dict[str, dict[str, VanillaComparison]]
    ablation_base: str
    ablations: dict[str, AblationRow]
    sequential: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    recomputed: bool = False
    format: str = RESULTS_FORMAT

    def label(self, method: str) -> str:
        """A method's display label."""
        return str(self.methods[method]["label"])

    def to_dict(self) -> dict[str, Any]:
        """The ``results.json`` mapping (format `RESULTS_FORMAT`), JSON-ready."""
        out: dict[str, Any] = {
            "format": self.format,
            "created": self.created,
            "run": dataclasses.asdict(self.run),
            "provenance": list(self.provenance),
            "human_targets": dict(self.human_targets),
            "coverage": dataclasses.asdict(self.coverage),
            "dimensions": list(self.dimensions),
            "methods": {k: dict(v) for k, v in self.methods.items()},
            "countries": {k: dataclasses.asdict(v) for k, v in self.countries.items()},
            "macro": {k: dataclasses.asdict(v) for k, v in self.macro.items()},
            "vs_vanilla": {
                van: {k: dataclasses.asdict(v) for k, v in rows.items()}
                for van, rows in self.vs_vanilla.items()
            },
            "ablations": {
                "base": self.ablation_base,
                "rows": {k: dataclasses.asdict(v) for k, v in self.ablations.items()},
            },
            "sequential": self.sequential,
        }
        if self.recomputed:
            out["recomputed"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Results:
        """Read a ``results.json`` mapping.

        Raises:
            DiscaError: the format tag is not `RESULTS_FORMAT`.
        """
        if data.get("format", RESULTS_FORMAT) != RESULTS_FORMAT:
            raise DiscaError(
                f"results format {data.get('format')!r} is not {RESULTS_FORMAT!r}; "
                "recompute with `disca report --recompute`"
            )
        countries = {
            iso: _from_mapping(
                CountryResult,
                {
                    **entry,
                    "methods": {
                        n: _from_mapping(MethodScore, m) for n, m in entry["methods"].items()
                    },
                },
            )
            for iso, entry in data["countries"].items()
        }
        ablations = data.get("ablations") or {}
        return cls(
            created=data.get("created", ""),
            run=_from_mapping(RunInfo, data["run"]),
            provenance=list(data.get("provenance") or []),
            human_targets=dict(data.get("human_targets") or {}),
            coverage=_from_mapping(Coverage, data["coverage"]),
            dimensions=list(data.get("dimensions") or categories.DIMENSIONS),
            methods={k: dict(v) for k, v in data["methods"].items()},
            countries=countries,
            macro={k: _from_mapping(MacroScore, v) for k, v in data["macro"].items()},
            vs_vanilla={
                van: {k: _from_mapping(VanillaComparison, v) for k, v in rows.items()}
                for van, rows in data["vs_vanilla"].items()
            },
            ablation_base=ablations.get("base", data["run"].get("primary", "")),
            ablations={
                k: _from_mapping(AblationRow, v) for k, v in (ablations.get("rows") or {}).items()
            },
            sequential=dict(data.get("sequential") or {}),
            recomputed=bool(data.get("recomputed", False)),
        )


def as_results(results: Results | Mapping[str, Any]) -> Results:
    """`Results` as is, or read from a ``results.json`` mapping."""
    return results if isinstance(results, Results) else Results.from_dict(results)


# --------------------------------------------------------------------------- building


def _or_none(x: Any) -> float | None:
    if x is None:
        return None
    value = float(x)
    return value if np.isfinite(value) else None


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _vector_score(
    vector: np.ndarray, human: np.ndarray, flip_rate: float | None, consistency: float | None
) -> MethodScore:
    """Scores of one model vector: MIS over the covered dimensions, shape metrics with all six."""
    covered = ~np.isnan(vector)
    listed = [_or_none(v) for v in vector]
    if not covered.any():
        return MethodScore(
            listed, 0, None, flip_rate=flip_rate, option_order_consistency=consistency
        )
    # a missing dimension contributes 0: its model value is replaced by the human one
    mis = _or_none(metrics.mis(np.where(covered, vector, human), human))
    full = bool(covered.all())
    return MethodScore(
        vector=listed,
        dims_covered=int(covered.sum()),
        mis=mis,
        jsd=_or_none(metrics.jsd(vector, human)) if full else None,
        pearson=_or_none(metrics.pearson(vector, human)) if full else None,
        kendall_tau=_or_none(metrics.kendall_tau(vector, human)) if full else None,
        spearman=_or_none(metrics.spearman(vector, human)) if full else None,
        worst_dimension=metrics.worst_dimension(vector, human),
        flip_rate=flip_rate,
        option_order_consistency=consistency,
    )


def _method_score(
    name: str, method: Method, recs: Sequence[Mapping[str, Any]], human: np.ndarray
) -> tuple[MethodScore, np.ndarray]:
    """One method in one country (records in pool order); also its p_spare per record."""
    if not recs:
        return _vector_score(np.full(6, np.nan), human, None, None), np.zeros(0)
    cats = [r["category"] for r in recs]
    right = np.array([bool(r["preferred_right"]) for r in recs], dtype=bool)
    delta_micro = np.array([r["delta_micro"][name] for r in recs], dtype=float)
    delta_out, p_spare = finalize(delta_micro, right, method)
    flip = None
    if all(name in r.get("delta_bar", {}) for r in recs):
        delta_bar = np.array([r["delta_bar"][name] for r in recs], dtype=float)
        flip = _or_none(metrics.flip_rate(delta_out, delta_bar))
    consistency = _or_none(
        metrics.option_order_consistency(p_spare, [r["unordered_key"] for r in recs], ~right)
    )
    vector = metrics.model_vector(p_spare, cats)
    return _vector_score(vector, human, flip, consistency), p_spare


def _expected_positions(config: Mapping[str, Any], scope: Mapping[str, Any]) -> tuple[int, int]:
    """(pool positions in scope, positions this shard covers)."""
    pool_size = int(config["pool_size"])
    limit = scope.get("limit")
    n_positions = pool_size if limit is None else min(int(limit), pool_size)
    shard_i, shard_n = runlog.parse_shard(scope.get("shard")) or (0, 1)
    return n_positions, len(range(shard_i, n_positions, shard_n))


def _by_country(
    records: Sequence[Mapping[str, Any]], countries: Sequence[str], n_positions: int
) -> dict[str, list[Mapping[str, Any]]]:
    """Records per country in pool order, within scope, duplicates (by key) dropped."""
    kept: dict[str, dict[tuple[str, str], Mapping[str, Any]]] = {c: {} for c in countries}
    for record in records:
        iso = record["country"]
        if iso in kept and int(record["pool_position"]) < n_positions:
            kept[iso].setdefault(runlog.record_key(record), record)
    return {
        iso: sorted(recs.values(), key=lambda r: int(r["pool_position"]))
        for iso, recs in kept.items()
    }


def _macro(countries: Mapping[str, CountryResult], name: str) -> MacroScore:
    rows = [c.methods[name] for c in countries.values()]
    return MacroScore(
        mis=_mean([r.mis for r in rows]),
        jsd=_mean([r.jsd for r in rows]),
        pearson=_mean([r.pearson for r in rows]),
        kendall_tau=_mean([r.kendall_tau for r in rows]),
        spearman=_mean([r.spearman for r in rows]),
        flip_rate=_mean([r.flip_rate for r in rows]),
        n_countries=sum(r.mis is not None for r in rows),
    )


def _paired(
    countries: Mapping[str, CountryResult], a: str, b: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Countries where both methods have a MIS, with the two MIS arrays."""
    isos = [
        iso
        for iso, c in countries.items()
        if c.methods[a].mis is not None and c.methods[b].mis is not None
    ]
    va = np.array([countries[c].methods[a].mis for c in isos], dtype=float)
    vb = np.array([countries[c].methods[b].mis for c in isos], dtype=float)
    return isos, va, vb


def _against_vanilla(
    countries: Mapping[str, CountryResult], macro: Mapping[str, MacroScore], van: str, name: str
) -> VanillaComparison:
    isos, v_van, v_m = _paired(countries, van, name)
    m_van, m_m = macro[van].mis, macro[name].mis
    gain = None
    if m_van is not None and m_m is not None and m_van != 0:
        gain = _or_none(metrics.pct_gain(m_van, m_m))
    return VanillaComparison(
        pct_gain=gain,
        wins=metrics.wins(v_van, v_m) if isos else 0,
        n=len(isos),
        per_country_pct_gain={
            c: _or_none(metrics.pct_gain(a, b)) if a != 0 else None
            for c, a, b in zip(isos, v_van, v_m, strict=True)
        },
    )


def _ablation(
    countries: Mapping[str, CountryResult], macro: Mapping[str, MacroScore], base: str, name: str
) -> AblationRow:
    isos, v_full, v_abl = _paired(countries, base, name)
    m_full, m_abl = macro[base].mis, macro[name].mis
    return AblationRow(
        mis=m_abl,
        delta=None if m_full is None or m_abl is None else m_abl - m_full,
        n_hurt=metrics.n_hurt(v_full, v_abl) if isos else 0,
        n=len(isos),
    )


def _human_source() -> dict[str, Any]:
    from ..content import human_targets as data

    try:
        info = data.dataset_info()
    except DiscaError:
        return {}
    return {k: info.get(k) for k in ("sha256", "source", "pulled_at")}


def _country_result(
    iso: str,
    recs: Sequence[Mapping[str, Any]],
    human: np.ndarray,
    suite: Mapping[str, Method],
    names: Sequence[str],
    meta: tuple[int, str | None, str | None],
    sequential: dict[str, dict[str, dict[str, float]]],
) -> CountryResult:
    """One country's result; fills ``sequential`` with the prior-applied p_spare."""
    n_expected, panel_sha256, provenance = meta
    dims = [categories.DIMENSION_OF_CATEGORY[r["category"]] for r in recs]
    scores = {}
    for name in names:
        scores[name], p_spare = _method_score(name, suite[name], recs, human)
        if suite[name].sequential and recs:
            sequential[name][iso] = {
                r["scenario_id"]: float(p) for r, p in zip(recs, p_spare, strict=True)
            }
    return CountryResult(
        n=len(recs),
        n_expected=n_expected,
        n_per_dimension={d: dims.count(d) for d in categories.DIMENSIONS} if recs else {},
        human=[float(x) for x in human],
        panel_sha256=panel_sha256,
        provenance=provenance,
        methods=scores,
    )


def build_results(
    header: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    targets: Any = None,
) -> Results:
    """Results of a run from its header and records (pure apart from loading targets).

    Args:
        header: the run's ``run.json``.
        records: its sample records (any order; duplicates by key are ignored).
        targets: human targets (`data.load_human_targets()` frame); default: loaded.

    Returns:
        The typed results.

    Raises:
        DiscaError: a country of the run has no human targets.
    """
    from ..content import human_targets as data

    if targets is None:
        targets = data.load_human_targets()
    config, scope = header["config"], header.get("scope") or {}
    suite = suite_from_config(config)
    names = [n for n in METHOD_ORDER if n in suite]
    primary = primary_method(config["variant"])
    countries = list(scope.get("countries") or [])
    n_positions, expected = _expected_positions(config, scope)
    panels_meta = header.get("panels") or {}
    missing = [iso for iso in countries if iso not in targets.index]
    if missing:
        raise DiscaError(f"no Moral Machine targets for {', '.join(missing)}")

    sequential: dict[str, dict[str, dict[str, float]]] = {
        n: {} for n in names if suite[n].sequential
    }
    by_country = _by_country(records, countries, n_positions)
    country_out = {
        iso: _country_result(
            iso,
            by_country[iso],
            targets.loc[iso].to_numpy(dtype=float),
            suite,
            names,
            (
                expected,
                config.get("panels", {}).get(iso),
                (panels_meta.get(iso) or {}).get("provenance"),
            ),
            sequential,
        )
        for iso in countries
    }
    languages = config.get("languages") or {}
    country_out = {
        iso: dataclasses.replace(entry, language=languages.get(iso))
        for iso, entry in country_out.items()
    }
    macro = {name: _macro(country_out, name) for name in names}
    present = sum(c.n for c in country_out.values())
    statements = {(panels_meta.get(c) or {}).get("provenance_statement") for c in countries}
    model = header.get("model") or {}
    return Results(
        created=runlog.now(),
        run=RunInfo(
            model=model.get("name"),
            model_sha256=model.get("sha256"),
            fingerprint=header.get("fingerprint"),
            variant=config["variant"],
            primary=primary,
            ablation_base=primary,
            vanilla=list(VANILLA),
            is_seed=config.get("is_seed"),
            data_seed=config.get("data_seed"),
            status=header.get("status"),
            countries=countries,
            limit=scope.get("limit"),
            shard=scope.get("shard"),
            lang=config.get("lang", "en"),
            prompt_protocol=config.get("prompt_protocol", 1),
        ),
        provenance=sorted(s for s in statements if s),
        human_targets=_human_source(),
        coverage=Coverage(
            expected=expected * len(countries),
            present=present,
            missing=expected * len(countries) - present,
            complete=present == expected * len(countries),
            per_country_expected=expected,
            pool_positions=n_positions,
            shard=scope.get("shard"),
            n_records=len(records),
        ),
        dimensions=list(categories.DIMENSIONS),
        methods={n: {k: v for k, v in suite[n].describe().items() if k != "params"} for n in names},
        countries=country_out,
        macro=macro,
        vs_vanilla={
            van: {n: _against_vanilla(country_out, macro, van, n) for n in names if n != van}
            for van in VANILLA
        },
        ablation_base=primary,
        ablations={
            n: _ablation(country_out, macro, primary, n)
            for n in names
            if suite[n].ablation_of == primary
        },
        sequential=sequential,
    )


def summarize(
    header: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    targets: Any = None,
) -> dict[str, Any]:
    """The ``results.json`` mapping of a run: `build_results` as `Results.to_dict`."""
    return build_results(header, records, targets=targets).to_dict()


def load_results(run_dir: str | os.PathLike, *, recompute: bool = False) -> dict[str, Any]:
    """A run's ``results.json`` mapping, or computed from the samples when absent or stale.

    Stale means the record count differs from the samples on disk (e.g. after kill -9).
    A file in another format is recomputed too.
    """
    header = runlog.read_header(run_dir)
    records = runlog.read_samples(run_dir)
    results = None if recompute else runlog.read_results(run_dir)
    if (
        results is not None
        and results.get("format") == RESULTS_FORMAT
        and results.get("coverage", {}).get("n_records") == len(records)
    ):
        return results
    recomputed = dataclasses.replace(build_results(header, records), recomputed=True)
    return recomputed.to_dict()
