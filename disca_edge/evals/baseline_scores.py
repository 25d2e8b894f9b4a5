"""Scoring the baselines of a run from its stored logits: Table 1 and the sensitivity sweeps.

`with_baselines` is called by `scoring.score_run` (so ``disca eval multitp``, ``disca eval
rescore`` and ``disca report --recompute`` all give them); it leaves results alone unless
the run's config names baselines. Every baseline is a p_spare per scenario of a country
(`maths.baselines` does the arithmetic):

* the prompt baselines and model-call hooks: their stored (z_A, z_B), T_dec = 0.5 (T = 1
  for ``prism:suffix``), no swap, no T_cat (BASELINES.md §1.2);
* ``wvs_prompt:released_as_run``: ``b1``'s logits in every country but USA, whose
  ``wvs_prompt:released`` ones it takes (the released result files, §3);
* the static bias: (b_A, b_B) from the country's corpus logits, applied to the vanilla
  logits (§5);
* the oracles (§8) and DiffPO-binary (§9): ``released`` fits on the 25% calibration split
  (the released objective: dimensions with >= 3 rows) and is scored on the other 75%;
  ``paper`` fits on every scenario with the reported MIS as objective and is scored on
  them all; each country's fitted value says whether it sits at the grid's edge;
* the sweeps (§11): the headline DISCA method recomputed with every T_cat scaled, with one
  global T_cat, and with 2-6 personas (5 and 6 from the stored anchor logits).

Each row is then scored as `baseline_results` says: MIS per country and macro, and the
paired difference against DISCA on the same scenarios and resamples (`intervals`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..content import baselines as specs
from ..maths import baselines as bl
from ..maths import bootstrap, core
from ..maths.methods import Method, compute_methods, finalize, suite_from_config
from . import intervals, runlog
from .baseline_results import BaselineCountry, BaselineResults, BaselineRow
from .baselines import held_labels
from .results import BootstrapInfo, Results

__all__ = ["score_baselines", "with_baselines"]

#: The sweeps and their points (`maths.baselines`).
SWEEPS: dict[str, tuple[float, ...]] = {
    "persona_count": tuple(float(n) for n in bl.PERSONA_COUNTS),
    "tcat_scale": bl.TCAT_SCALES,
    "global_tcat": bl.GLOBAL_TCATS,
}

_REF = "reference"


@dataclass(frozen=True)
class _Country:
    """One country's scenarios, in pool order, as the baselines read them."""

    iso3: str
    records: Sequence[Mapping[str, Any]]
    categories: list[str]
    dims: np.ndarray  # ndarray[S] of int
    right: np.ndarray  # ndarray[S] of bool
    human: np.ndarray  # ndarray[6]
    base: np.ndarray  # ndarray[S, 2]: the vanilla (base prompt, orig order) logits
    reference: np.ndarray  # ndarray[S]: the DISCA method's p_spare

    @property
    def gap(self) -> np.ndarray:
        """Raw vanilla gaps z_B − z_A (ndarray[S])."""
        return self.base[:, 1] - self.base[:, 0]

    def oriented(self, p_b: np.ndarray) -> np.ndarray:
        """p_spare of a p_B (ndarray[S])."""
        return np.where(self.right, p_b, 1.0 - p_b)


def _finite(x: float) -> float | None:
    """A float for JSON: None where it is not finite."""
    return float(x) if np.isfinite(x) else None


#: One row in one country: p_spare (ndarray[S]) or None, the scored rows, what was fitted.
_Scored = tuple[np.ndarray | None, np.ndarray, dict[str, Any]]


def _pair_logits(country: _Country, label: str) -> np.ndarray | None:
    """A per-scenario baseline's stored (z_A, z_B) (ndarray[S, 2]); None if a record lacks it."""
    pairs = [(r.get("baseline_logits") or {}).get(label) for r in country.records]
    if not pairs or any(p is None for p in pairs):
        return None
    return np.asarray(pairs, dtype=np.float64)


def _prompt(country: _Country, label: str, t: float) -> _Scored:
    pairs = _pair_logits(country, label)
    every = np.ones(len(country.records), dtype=bool)
    info = dict((country.records[0].get("baseline_info") or {}).get(label) or {})
    if pairs is None:
        return None, every, info
    if pairs.ndim == 3:  # [S, passes, 2]: MC-dropout
        return country.oriented(bl.mean_pass_p_b(pairs, t)), every, info
    return country.oriented(bl.two_way_p_b(pairs[:, 0], pairs[:, 1], t)), every, info


def _as_run(country: _Country) -> _Scored:
    label = "wvs_prompt:released" if country.iso3 == "USA" else "b1"
    p, every, _ = _prompt(country, label, 0.5)
    return p, every, {"prompt": label}


def _static_bias(country: _Country, label: str) -> _Scored:
    every = np.ones(len(country.records), dtype=bool)
    corpus = (country.records[0].get("baseline_corpus_logits") or {}).get(label)
    if corpus is None:
        return None, every, {}
    b_a, b_b = bl.static_bias(np.asarray(corpus, dtype=np.float64))
    p_b = bl.static_bias_p_b(country.base[:, 0], country.base[:, 1], b_a, b_b)
    fit = {"b_a": b_a, "b_b": b_b, "delta_c": b_b - b_a, "n_sentences": len(corpus)}
    return country.oriented(p_b), every, fit


def _oracle(country: _Country, kind: str, variant: str) -> _Scored:
    """An oracle scaler (``kind`` temperature or margin) fitted per `variant`."""
    grid = bl.TEMPERATURE_GRID if kind == "temperature" else bl.MARGIN_GRID
    gap, right, dims = country.gap, country.right, country.dims
    if variant == "released":
        fit_rows = bl.calibration_split(len(gap))
        scored, objective = ~fit_rows, bl.released_objective
    else:
        fit_rows = scored = np.ones(len(gap), dtype=bool)
        objective = bl.covered_mis
    fit = bl.fit_on_grid(
        grid,
        lambda v: objective(
            bl.oracle_p_spare(gap[fit_rows], right[fit_rows], kind, v), dims[fit_rows],
            country.human,
        ),
    )  # fmt: skip
    fitted = np.isfinite(fit.loss)  # else no grid point had a finite objective
    info = {"value": fit.value if fitted else None, "loss": _finite(fit.loss),
            "at_edge": fit.at_edge if fitted else None, "n_cal": int(fit_rows.sum())}  # fmt: skip
    return bl.oracle_p_spare(gap, right, kind, fit.value), scored, info


def _diffpo(country: _Country) -> _Scored:
    gap, right, dims, human = country.gap, country.right, country.dims, country.human
    cal = bl.calibration_split(len(gap))
    fit = bl.fit_on_grid(
        bl.ALPHA_GRID,
        lambda a: bl.released_objective(
            bl.diffpo_p_spare(gap[cal], right[cal], dims[cal], human, a), dims[cal], human
        ),
    )
    fitted = np.isfinite(fit.loss)
    info = {"alpha": fit.value if fitted else None, "loss": _finite(fit.loss),
            "n_cal": int(cal.sum())}  # fmt: skip
    return bl.diffpo_p_spare(gap, right, dims, human, fit.value), ~cal, info


def _baseline(country: _Country, label: str) -> _Scored:
    """The p_spare of one baseline label in one country."""
    kind = specs.BASELINES[label].kind
    if label == "wvs_prompt:released_as_run":
        return _as_run(country)
    if kind in ("prompt", "hook", "raw"):
        return _prompt(country, label, 1.0 if kind == "raw" else 0.5)
    if kind == "corpus":
        return _static_bias(country, label)
    if label.startswith("oracle_"):
        family, variant = label.split(":")
        return _oracle(country, "temperature" if family == "oracle_temp" else "margin", variant)
    if label == "diffpo_binary":
        return _diffpo(country)
    raise ValueError(f"{label} is not a Table-1 baseline")


# --------------------------------------------------------------------------- sweeps


def _panel(country: _Country, n_personas: int) -> np.ndarray | None:
    """Panel logits of a persona count (ndarray[S, 2, N + 1, 2]); None without the anchors."""
    logits = np.asarray([r["logits"] for r in country.records], dtype=np.float64)
    if n_personas > 4:
        anchors = [r.get("anchor_logits") for r in country.records]
        if any(a is None for a in anchors):
            return None
        logits = np.concatenate([logits, np.asarray(anchors, dtype=np.float64)], axis=2)
    return logits[:, :, list(bl.panel_agents(n_personas))]


def _sweep_p(country: _Country, method: Method, sweep: str, point: float, seed: int) -> Any:
    """The DISCA method's p_spare (ndarray[S]) at one sweep point; None without the logits."""
    params = method.params
    if sweep == "tcat_scale":
        params = bl.scaled_tcat(params, point)
    elif sweep == "global_tcat":
        params = bl.global_tcat(params, point)
    n_personas = int(point) if sweep == "persona_count" else 4
    logits = _panel(country, n_personas)
    if logits is None:
        return None
    recs = country.records
    moved = dataclasses.replace(method, params=params)
    z = core.draws(seed, [int(r["vignette_index"]) for r in recs], params.k_half)
    has_swap = np.array([bool(r["has_swap"]) for r in recs], dtype=bool)
    out = compute_methods(logits, has_swap, country.categories, country.right, z,
                          {method.name: moved})  # fmt: skip
    return finalize(out[method.name]["delta_micro"], country.right, moved)[1]


# --------------------------------------------------------------------------- scoring


def _country_records(
    header: Mapping[str, Any], records: Sequence[Mapping[str, Any]]
) -> dict[str, list[Mapping[str, Any]]]:
    """Records per country of the run's scope, in pool order, first copy of each key."""
    scope = header.get("scope") or {}
    limit, size = scope.get("limit"), int(header["config"]["pool_size"])
    n_positions = size if limit is None else min(int(limit), size)
    kept: dict[str, dict[tuple[str, str], Mapping[str, Any]]] = {
        iso: {} for iso in scope.get("countries") or []
    }
    for record in records:
        if record["country"] in kept and int(record["pool_position"]) < n_positions:
            kept[record["country"]].setdefault(runlog.record_key(record), record)
    return {
        iso: sorted(recs.values(), key=lambda r: int(r["pool_position"]))
        for iso, recs in kept.items()
    }


def _country(iso: str, recs: Sequence[Mapping[str, Any]], human: np.ndarray,
             method: Method) -> _Country:  # fmt: skip
    cats = [r["category"] for r in recs]
    right = np.array([bool(r["preferred_right"]) for r in recs], dtype=bool)
    delta = np.array([r["delta_micro"][method.name] for r in recs], dtype=float)
    return _Country(
        iso3=iso,
        records=recs,
        categories=cats,
        dims=bootstrap.dimension_indices(cats) if cats else np.zeros(0, dtype=np.int64),
        right=right,
        human=np.asarray(human, dtype=float),
        base=np.array([r["logits"][0][0] for r in recs], dtype=float).reshape(-1, 2),
        reference=finalize(delta, right, method)[1] if recs else np.zeros(0),
    )


@dataclass
class _Tally:
    """One row's per-country values and resamples while the countries are scored."""

    countries: dict[str, BaselineCountry]
    resamples: dict[str, dict[str, np.ndarray]]  # ISO3 -> {reference, row} resampled MIS


def _score_country(
    country: _Country, rows: Mapping[str, _Scored], info: BootstrapInfo, tallies: dict
) -> None:
    """Score every row of one country against DISCA on the same rows and resamples."""
    groups: dict[bytes, list[str]] = {}  # rows with the same scored scenarios share resamples
    given: dict[str, np.ndarray] = {}
    for label, (p, mask, _) in rows.items():
        if p is not None and mask.any():
            groups.setdefault(mask.tobytes(), []).append(label)
            given[label] = p
    for labels in groups.values():
        mask = rows[labels[0]][1]
        cats = [c for c, keep in zip(country.categories, mask, strict=True) if keep]
        p_spare = {_REF: country.reference[mask], **{lb: given[lb][mask] for lb in labels}}
        samples = intervals.country_resamples(p_spare, cats, country.human, country.iso3, info)
        ref = bl.covered_mis(country.reference[mask], country.dims[mask], country.human)
        for label in labels:
            mis = bl.covered_mis(p_spare[label], country.dims[mask], country.human)
            tally = tallies[label]
            pair = {k: samples[k] for k in (_REF, label) if k in samples}
            tally.resamples[country.iso3] = pair
            diff = samples[label] - samples[_REF] if len(pair) == 2 else None
            tally.countries[country.iso3] = BaselineCountry(
                mis=mis, n=int(mask.sum()),
                mis_interval=intervals.interval(samples.get(label), mis, info.level, floor=0.0),
                reference_mis=ref, difference=mis - ref,
                difference_interval=intervals.interval(diff, mis - ref, info.level),
                fit=rows[label][2],
            )  # fmt: skip
    for label, (_, mask, fit) in rows.items():
        if country.iso3 not in tallies[label].countries:
            tallies[label].countries[country.iso3] = BaselineCountry(None, int(mask.sum()), fit=fit)


def _row(label: str, spec: tuple[str, str, str], tally: _Tally, level: float,
         point: float | None = None) -> BaselineRow:  # fmt: skip
    """The macro values of one row from its per-country tally."""
    scored = {iso: c for iso, c in tally.countries.items() if c.mis is not None}
    points = {iso: (c.reference_mis, c.mis) for iso, c in scored.items()}
    paired = intervals.paired(points, tally.resamples, _REF, label, level)  # type: ignore[arg-type]
    mis = float(np.mean([c.mis for c in scored.values()])) if scored else None
    samples = intervals.macro_resamples([tally.resamples.get(i, {}).get(label) for i in scored])
    return BaselineRow(
        label=label, title=spec[0], human_data=spec[1], note=spec[2], mis=mis,
        mis_interval=intervals.interval(samples, mis, level, floor=0.0),
        reference_mis=float(np.mean([c.reference_mis for c in scored.values()]))
        if scored else None,
        difference=paired.macro, difference_interval=paired.macro_interval,
        disca_wins=sum(c.reference_mis < c.mis for c in scored.values()),  # type: ignore[operator]
        disca_wins_significant=paired.above, row_wins_significant=paired.below,
        n=len(scored), countries=dict(tally.countries), point=point,
    )  # fmt: skip


def _titles(results: Results, labels: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """Table 1's rows in order, with (title, human data, note)."""
    rows = {van: (results.label(van), "no", "") for van in results.run.vanilla}
    for label in labels:
        if label in SWEEPS:
            continue
        spec = specs.BASELINES[label]
        rows[label] = (spec.title, spec.human_data, spec.note)
    primary = results.run.primary
    rows[primary] = (results.label(primary), "WVS only", "the run's headline method")
    return rows


def _info_notes(tallies: Mapping[str, _Tally]) -> tuple[list[str], set[str]]:
    """One line per model-call baseline the model refused or ran in its own way; the refused."""
    notes, refused = [], set()
    for label, tally in tallies.items():
        fits = [c.fit or {} for c in tally.countries.values()]
        infos = {
            str(f.get("refused") or f["note"]) for f in fits if f.get("refused") or "note" in f
        }
        is_refused = any(f.get("refused") for f in fits)
        if is_refused:
            refused.add(label)
        ratios = [f["alpha_over_norm"] for f in fits if "alpha_over_norm" in f]
        scale = (f"; alpha is {min(ratios):.3g}-{max(ratios):.3g} of the captured states' "
                 "mean norm" if ratios else "")  # fmt: skip
        notes += [f"{label}: {'refused on this model: ' if is_refused else ''}{i}{scale}"
                  for i in sorted(infos)]  # fmt: skip
    return notes, refused


def _notes(tallies: Mapping[str, _Tally], no_records: Sequence[str] = ()) -> list[str]:
    """What could not be scored where, and why: one line per reason and set of countries."""
    notes, refused = _info_notes(tallies)
    if no_records:
        notes.append(f"no records yet in {', '.join(no_records)}: nothing is scored there")
    grouped: dict[tuple[str, str], list[str]] = {}
    for label, tally in tallies.items():
        missing = [iso for iso, c in tally.countries.items()
                   if c.mis is None and iso not in no_records]  # fmt: skip
        if not missing or label in refused:
            continue
        empty = [iso for iso in missing if tally.countries[iso].n == 0]
        why = ("its calibration split takes every scenario (n_cal = max(20, 25%)), so no "
               "test scenario is left" if empty else "its logits are missing")  # fmt: skip
        grouped.setdefault((", ".join(missing), why), []).append(label)
    notes += [f"{', '.join(labels)}: not scored in {where} ({why})"
              for (where, why), labels in grouped.items()]  # fmt: skip
    return notes


def score_baselines(
    results: Results,
    header: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    targets: Any,
) -> BaselineResults:
    """Table 1 and the sweeps of a run, against its headline DISCA method.

    Args:
        results: the run's results (`scoring.score_run`: methods, bootstrap settings).
        header: the run's ``run.json``; its config names the baselines.
        records: its sample records.
        targets: the human targets frame (ISO3 x 6 dimensions).
    """
    config = header["config"]
    labels = [label for label in held_labels(config) if label in specs.BASELINES]
    suite = suite_from_config(config)
    method = suite[results.run.primary]
    info = results.bootstrap or intervals.settings(config.get("data_seed"))
    titles = _titles(results, labels)
    sweeps = [s for s in SWEEPS if s in labels]
    tallies = {name: _Tally({}, {}) for name in titles}
    sweep_tallies = {(s, v): _Tally({}, {}) for s in sweeps for v in SWEEPS[s]}
    by_country = _country_records(header, records)
    for iso, recs in by_country.items():
        country = _country(iso, recs, targets.loc[iso].to_numpy(dtype=float), method)
        every = np.ones(len(recs), dtype=bool)
        rows: dict[str, _Scored] = {}
        for name in titles:
            if name in specs.BASELINES:
                rows[name] = _baseline(country, name) if recs else (None, every, {})
            else:
                rows[name] = (_method_p(country, suite[name], method), every, {})
        _score_country(country, rows, info, tallies)
        for s, v in sweep_tallies:
            p = _sweep_p(country, method, s, v, int(config["is_seed"])) if recs else None
            _score_country(country, {f"{s}={v:.3g}": (p, every, {})},
                           info, {f"{s}={v:.3g}": sweep_tallies[(s, v)]})  # fmt: skip
    return BaselineResults(
        reference=method.name,
        labels=list(labels),
        rows={n: _row(n, titles[n], tallies[n], info.level) for n in titles},
        sweeps={
            s: [
                _row(f"{s}={v:.3g}", (s, "", ""), sweep_tallies[(s, v)], info.level, v)
                for v in SWEEPS[s]
            ]
            for s in sweeps
        },  # fmt: skip
        notes=_notes(
            {**tallies, **{f"{s}={v:.3g}": t for (s, v), t in sweep_tallies.items()}},
            [iso for iso, recs in by_country.items() if not recs],
        ),
    )


def _method_p(country: _Country, method: Method, reference: Method) -> Any:
    """A run method's p_spare (the vanilla read-outs, DISCA) in one country."""
    if method.name == reference.name:
        return country.reference
    recs = country.records
    delta = np.array([r["delta_micro"][method.name] for r in recs], dtype=float)
    return finalize(delta, country.right, method)[1] if recs else None


def with_baselines(
    results: Results, header: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
    targets: Any,
) -> Results:  # fmt: skip
    """``results`` with their ``baselines`` section when the run's config names baselines."""
    if not held_labels(header["config"]):
        return results
    return dataclasses.replace(
        results, baselines=score_baselines(results, header, records, targets)
    )
