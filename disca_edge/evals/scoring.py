"""Scoring a MultiTP run: its header and sample records -> `Results`.

`score_run` computes, per country and method, the 6-dim model vector, MIS, JSD,
Pearson r, Kendall τ, Spearman ρ, flip rate and σ-at-floor share; macro means; % gain,
paired differences and wins against both vanilla read-outs; the ablation rows;
coverage; and the 95% intervals of MIS and of every paired difference from a scenario
bootstrap (`intervals`, seeded by the run's data seed, so results are reproducible).
The `reference` variant's country
prior is sequential in pool order, so it is applied here, per country, over the
records sorted by pool position (`methods.finalize`): a resumed, sharded-then-merged or
single run gives identical results.

`read_run_results` opens a run folder's results (``results.json``, rescored from the
samples when absent or stale); `write_run_results` writes them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..content import human_targets
from ..errors import DiscaError
from ..maths import bootstrap, categories, metrics
from ..maths.methods import (
    METHOD_ORDER,
    VANILLA,
    Method,
    finalize,
    primary_method,
    suite_from_config,
)
from ..models import registry
from . import intervals, noise, runlog
from .baseline_scores import with_baselines
from .intervals import Resamples
from .records import read_records
from .results import (
    RESULTS_FORMAT,
    AblationRow,
    BootstrapInfo,
    CountryResult,
    Coverage,
    MacroScore,
    MethodInfo,
    MethodScore,
    NoiseFloor,
    PromptLanguage,
    PromptVariant,
    Results,
    RunInfo,
    TargetsSource,
    VanillaComparison,
)

__all__ = ["score_run", "read_run_results", "write_run_results"]

log = logging.getLogger(__name__)

#: prior-applied p_spare of the sequential methods: method -> ISO3 -> scenario id -> value
_Sequential = dict[str, dict[str, dict[str, float]]]


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
    """Scores of one model vector (ndarray[6]): MIS over the covered dimensions.

    The shape metrics (JSD, correlations) need all six dimensions.
    """
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


def _sigma_at_floor(name: str, method: Method, recs: Sequence[Mapping[str, Any]]) -> float | None:
    """Share of scenarios whose σ equals the floor σ₀ (None unless every record has σ)."""
    sigma = [((r.get("diagnostics") or {}).get(name) or {}).get("sigma") for r in recs]
    if not sigma or any(s is None for s in sigma):
        return None
    floor = method.params.sigma_floor
    return float(np.mean(np.asarray(sigma, dtype=float) <= floor * (1 + 1e-9)))


def _method_score(
    name: str, method: Method, recs: Sequence[Mapping[str, Any]], human: np.ndarray
) -> tuple[MethodScore, np.ndarray]:
    """One method in one country (records in pool order); also its p_spare (ndarray[S])."""
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
    score = _vector_score(vector, human, flip, consistency)
    return dataclasses.replace(score, sigma_at_floor=_sigma_at_floor(name, method, recs)), p_spare


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


def _macro(
    countries: Mapping[str, CountryResult], name: str, resamples: Mapping[str, Resamples],
    level: float,
) -> MacroScore:  # fmt: skip
    rows = [c.methods[name] for c in countries.values()]
    mis = _mean([r.mis for r in rows])
    samples = _macro_resamples(countries, name, resamples)
    return MacroScore(
        mis=mis,
        jsd=_mean([r.jsd for r in rows]),
        pearson=_mean([r.pearson for r in rows]),
        kendall_tau=_mean([r.kendall_tau for r in rows]),
        spearman=_mean([r.spearman for r in rows]),
        flip_rate=_mean([r.flip_rate for r in rows]),
        n_countries=sum(r.mis is not None for r in rows),
        mis_interval=intervals.interval(samples, mis, level, floor=0.0),
    )


def _macro_resamples(
    countries: Mapping[str, CountryResult], name: str, resamples: Mapping[str, Resamples]
) -> np.ndarray | None:
    """A method's resampled macro MIS over the countries with a MIS (ndarray[B])."""
    isos = [iso for iso, c in countries.items() if c.methods[name].mis is not None]
    return intervals.macro_resamples([resamples.get(iso, {}).get(name) for iso in isos])


def _paired(
    countries: Mapping[str, CountryResult], a: str, b: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Countries where both methods have a MIS, with the two MIS arrays (ndarray[C])."""
    isos = [
        iso
        for iso, c in countries.items()
        if c.methods[a].mis is not None and c.methods[b].mis is not None
    ]
    va = np.array([countries[c].methods[a].mis for c in isos], dtype=float)
    vb = np.array([countries[c].methods[b].mis for c in isos], dtype=float)
    return isos, va, vb


def _gain_interval(
    countries: Mapping[str, CountryResult], resamples: Mapping[str, Resamples], van: str,
    name: str, gain: float | None, level: float,
) -> list[float] | None:  # fmt: skip
    """[low, high] of the macro % gain ``gain``, each resample's from its macro means."""
    m_van = _macro_resamples(countries, van, resamples)
    m_m = _macro_resamples(countries, name, resamples)
    if m_van is None or m_m is None or not np.all(m_van > 0):
        return None
    return intervals.interval(100.0 * (m_van - m_m) / m_van, gain, level)


def _against_vanilla(
    countries: Mapping[str, CountryResult], macro: Mapping[str, MacroScore], van: str,
    name: str, resamples: Mapping[str, Resamples], level: float,
) -> VanillaComparison:  # fmt: skip
    isos, v_van, v_m = _paired(countries, van, name)
    m_van, m_m = macro[van].mis, macro[name].mis
    gain = None
    if m_van is not None and m_m is not None and m_van != 0:
        gain = _or_none(metrics.pct_gain(m_van, m_m))
    diff = intervals.paired(
        dict(zip(isos, zip(v_van, v_m, strict=True), strict=True)), resamples, van, name, level
    )
    return VanillaComparison(
        pct_gain=gain,
        wins=metrics.wins(v_van, v_m) if isos else 0,
        n=len(isos),
        per_country_pct_gain={
            c: _or_none(metrics.pct_gain(a, b)) if a != 0 else None
            for c, a, b in zip(isos, v_van, v_m, strict=True)
        },
        pct_gain_interval=_gain_interval(countries, resamples, van, name, gain, level),
        difference=diff.macro,
        difference_interval=diff.macro_interval,
        wins_significant=diff.below,
        hurt_significant=diff.above,
        per_country_difference=diff.per_country,
        per_country_difference_interval=diff.per_country_interval,
    )


def _vs_vanilla(
    countries: Mapping[str, CountryResult], macro: Mapping[str, MacroScore], names: Sequence[str],
    resamples: Mapping[str, Resamples], level: float,
) -> dict[str, dict[str, VanillaComparison]]:  # fmt: skip
    """Every method against each vanilla read-out."""
    return {
        van: {
            n: _against_vanilla(countries, macro, van, n, resamples, level)
            for n in names
            if n != van
        }
        for van in VANILLA
    }


def _ablation(
    countries: Mapping[str, CountryResult], macro: Mapping[str, MacroScore], base: str,
    name: str, resamples: Mapping[str, Resamples], level: float,
) -> AblationRow:  # fmt: skip
    isos, v_full, v_abl = _paired(countries, base, name)
    m_full, m_abl = macro[base].mis, macro[name].mis
    r_full = _macro_resamples(countries, base, resamples)
    r_abl = _macro_resamples(countries, name, resamples)
    diff = intervals.paired(
        dict(zip(isos, zip(v_full, v_abl, strict=True), strict=True)), resamples, base, name, level
    )
    delta = None if m_full is None or m_abl is None else m_abl - m_full
    return AblationRow(
        mis=m_abl,
        delta=delta,
        n_hurt=metrics.n_hurt(v_full, v_abl) if isos else 0,
        n=len(isos),
        delta_interval=None
        if r_full is None or r_abl is None
        else intervals.interval(r_abl - r_full, delta, level),
        n_hurt_significant=diff.above,
    )


def _targets_source() -> TargetsSource | None:
    try:
        info = human_targets.dataset_info()
    except DiscaError:
        return None
    return TargetsSource(info.get("sha256"), info.get("source"), info.get("pulled_at"))


def _country_result(
    iso: str,
    recs: Sequence[Mapping[str, Any]],
    human: np.ndarray,
    suite: Mapping[str, Method],
    header: Mapping[str, Any],
    sequential: _Sequential,
    info: BootstrapInfo,
) -> tuple[CountryResult, Resamples]:
    """One country's result and resampled MIS; fills ``sequential`` (prior-applied p_spare)."""
    config = header["config"]
    dims = [categories.DIMENSION_OF_CATEGORY[r["category"]] for r in recs]
    scores, p_spares = {}, {}
    for name in (n for n in METHOD_ORDER if n in suite):
        scores[name], p_spares[name] = _method_score(name, suite[name], recs, human)
        if suite[name].sequential and recs:
            sequential[name][iso] = {
                r["scenario_id"]: float(p) for r, p in zip(recs, p_spares[name], strict=True)
            }
    resamples = intervals.country_resamples(
        p_spares, [r["category"] for r in recs], human, iso, info
    )
    for name, score in scores.items():
        if score.mis is not None:
            bounds = intervals.interval(resamples.get(name), score.mis, info.level, floor=0.0)
            scores[name] = dataclasses.replace(score, mis_interval=bounds)
    language = (config.get("languages") or {}).get(iso)
    result = CountryResult(
        n=len(recs),
        n_expected=_expected_positions(config, header.get("scope") or {})[1],
        n_per_dimension={d: dims.count(d) for d in categories.DIMENSIONS} if recs else {},
        human=[float(x) for x in human],
        panel_sha256=config.get("panels", {}).get(iso),
        provenance=((header.get("panels") or {}).get(iso) or {}).get("provenance"),
        methods=scores,
        language=None if language is None else PromptLanguage.from_dict(language),
    )
    return result, resamples


def _method_info(method: Method) -> MethodInfo:
    return MethodInfo(method.label, method.kind, method.ablation_of, method.sequential)


def _prompt_variant(config: Mapping[str, Any]) -> PromptVariant:
    """The run's prompt variant (runs from before variants were recorded: the defaults)."""
    pool, personas = config.get("pool") or {}, config.get("personas") or {}
    default = PromptVariant()
    return PromptVariant(
        cap=pool.get("cap", default.cap),
        min_per_category=int(pool.get("min_per_category", default.min_per_category)),
        fourth=str(personas.get("fourth", default.fourth)),
        drop_dims=list(personas.get("drop_dims") or []),
        anchor_text=personas.get("anchor_text"),
    )


def _paper_backbone(name: str | None) -> bool | None:
    """The registry's ``paper_backbone`` of a model name; None outside the registry."""
    if not name:
        return None
    try:
        return registry.get_model(name).paper_backbone
    except DiscaError:  # not a registry name (a .gguf path), or an unreadable registry
        return None


def _run_info(header: Mapping[str, Any], countries: list[str]) -> RunInfo:
    config, scope = header["config"], header.get("scope") or {}
    model = header.get("model") or {}
    primary = primary_method(config["variant"])
    return RunInfo(
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
        prompts=_prompt_variant(config),
        paper_backbone=_paper_backbone(model.get("name")),
    )


def _coverage(header: Mapping[str, Any], present: int, n_records: int) -> Coverage:
    scope = header.get("scope") or {}
    n_positions, per_country = _expected_positions(header["config"], scope)
    expected = per_country * len(scope.get("countries") or [])
    return Coverage(
        expected=expected,
        present=present,
        missing=expected - present,
        complete=present == expected,
        per_country_expected=per_country,
        pool_positions=n_positions,
        shard=scope.get("shard"),
        n_records=n_records,
    )


def _score_countries(
    header: Mapping[str, Any], records: Sequence[Mapping[str, Any]], targets: Any,
    suite: Mapping[str, Method], sequential: _Sequential, info: BootstrapInfo,
) -> tuple[dict[str, CountryResult], dict[str, Resamples]]:  # fmt: skip
    """Every country's result and resampled MIS, in run order."""
    config, scope = header["config"], header.get("scope") or {}
    countries = list(scope.get("countries") or [])
    by_country = _by_country(records, countries, _expected_positions(config, scope)[0])
    scored = {
        iso: _country_result(
            iso, by_country[iso], targets.loc[iso].to_numpy(dtype=float), suite, header,
            sequential, info,
        )
        for iso in countries
    }  # fmt: skip
    return {iso: r for iso, (r, _) in scored.items()}, {iso: s for iso, (_, s) in scored.items()}


def score_run(
    header: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    targets: Any = None,
    n_resamples: int = bootstrap.N_RESAMPLES,
    noise_records: Sequence[Mapping[str, Any]] = (),
) -> Results:
    """Results of a run from its header and records.

    Pure apart from reading the human targets and the model registry.

    Args:
        header: the run's ``run.json``.
        records: its sample records (any order; duplicates by key are ignored).
        targets: human targets (`human_targets.load_human_targets()` frame, ISO3 x 6
            dimensions); default: loaded.
        n_resamples: bootstrap resamples per country for the intervals (seeded with the
            run's data seed, `intervals.settings`).
        noise_records: the run's noise records (`noise.read_noise`), for `Results.noise`.

    Returns:
        The typed results.

    Raises:
        DiscaError: a country of the run has no human targets, or a record lacks a
            method of the run's config.
    """
    config, scope = header["config"], header.get("scope") or {}
    suite = suite_from_config(config)
    names = [n for n in METHOD_ORDER if n in suite]
    primary = primary_method(config["variant"])
    countries = list(scope.get("countries") or [])
    targets = _check_inputs(records, names, countries, targets)
    sequential: _Sequential = {n: {} for n in names if suite[n].sequential}
    info = intervals.settings(config.get("data_seed"), n_resamples=n_resamples)
    country_out, resamples = _score_countries(header, records, targets, suite, sequential, info)
    level = info.level
    macro = {name: _macro(country_out, name, resamples, level) for name in names}
    panels = header.get("panels") or {}
    statements = {(panels.get(c) or {}).get("provenance_statement") for c in countries}
    ablated = [n for n in names if suite[n].ablation_of == primary]
    results = Results(
        created=runlog.now(),
        run=_run_info(header, countries),
        provenance=sorted(s for s in statements if s),
        human_targets=_targets_source(),
        coverage=_coverage(header, sum(c.n for c in country_out.values()), len(records)),
        dimensions=list(categories.DIMENSIONS),
        methods={n: _method_info(suite[n]) for n in names},
        countries=country_out,
        macro=macro,
        vs_vanilla=_vs_vanilla(country_out, macro, names, resamples, level),
        ablation_base=primary,
        ablations={n: _ablation(country_out, macro, primary, n, resamples, level) for n in ablated},
        sequential=sequential,
        bootstrap=info,
        noise=_noise_floor(header, records, noise_records, suite[primary]),
    )
    return with_baselines(results, header, records, targets)


def _check_inputs(
    records: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    countries: Sequence[str],
    targets: Any,
) -> Any:
    """The human targets (default: loaded), checked against the run's countries and records.

    Refuses a country without human targets, or a record lacking a method of the config
    (its ``delta_micro`` has no value under the method's name).
    """
    if targets is None:
        targets = human_targets.load_human_targets()
    missing = [iso for iso in countries if iso not in targets.index]
    if missing:
        raise DiscaError(f"no Moral Machine targets for {', '.join(missing)}")
    for record in records:
        missing = [n for n in names if n not in (record.get("delta_micro") or {})]
        if missing:
            raise DiscaError(
                f"record {record.get('country')}/{record.get('scenario_id')} has no "
                f"delta_micro for {', '.join(missing)}, a method of the run's config; "
                "`disca eval rescore RUN --out NEW` recomputes every method from the logits"
            )
    return targets


def _noise_floor(
    header: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
    noise_records: Sequence[Mapping[str, Any]], method: Method,
) -> NoiseFloor | None:  # fmt: skip
    """The run's noise floor from its noise records (`noise.noise_floor`), None without."""
    if not noise_records:
        return None
    config, scope = header["config"], header.get("scope") or {}
    countries = list(scope.get("countries") or [])
    in_scope = _by_country(records, countries, _expected_positions(config, scope)[0])
    return noise.noise_floor(header, in_scope, noise_records, method)


def _stored_results(run_dir: str | os.PathLike, n_records: int, n_noise: int = 0) -> Results | None:
    """The run's ``results.json`` when it is current.

    Current: this format, this many records (and noise records), and written with
    intervals (an older file is rescored, so every report has them).
    """
    stored = runlog.read_results(run_dir)
    if not isinstance(stored, Mapping) or stored.get("format") != RESULTS_FORMAT:
        return None
    try:
        results = Results.from_dict(stored)
    except DiscaError as exc:  # malformed (edited by hand?): recomputed like a stale file
        path = Path(run_dir) / runlog.RESULTS_FILE
        log.warning("warning: %s: %s; reported from samples.jsonl instead", path, exc)
        return None
    current = results.coverage.n_records == n_records and results.bootstrap is not None
    noise_read = 0 if results.noise is None else results.noise.n_records
    return results if current and noise_read == n_noise else None


def read_run_results(run_dir: str | os.PathLike, *, recompute: bool = False) -> Results:
    """A run folder's results: its ``results.json``, or scored from the samples.

    The samples are scored (and `Results.recomputed` set) when ``results.json`` is
    absent, in another format, malformed, stale (its record count differs from the
    samples on disk, e.g. after kill -9, or its noise floor from ``noise.jsonl``) or
    without intervals (written before them), or when ``recompute``. Nothing is written.

    Raises:
        DiscaError: not a run folder, corrupt samples, or no human targets.
    """
    header = runlog.read_header(run_dir)
    records = read_records(run_dir)
    noise_records = noise.read_noise(run_dir)
    stored = None if recompute else _stored_results(run_dir, len(records), len(noise_records))
    if stored is not None:
        return stored
    results = score_run(header, records, noise_records=noise_records)
    return dataclasses.replace(results, recomputed=True)


def write_run_results(run_dir: str | os.PathLike, results: Results) -> Path:
    """Write a run folder's ``results.json`` atomically; returns its path."""
    return runlog.write_results(run_dir, results.to_dict())
