"""A run's noise file (``noise.jsonl``) and the noise floor it gives, per country.

``noise.jsonl`` holds, for the first scenarios of each country, the logits of the same
prompts evaluated under a second valid kernel setting (`noise_run.measure_noise`), one
record per (country, scenario):

* ``country``, ``scenario_id``, ``pool_position``: the run record it re-evaluates;
* ``setting`` (``f16``, ``no-flash-attn`` or ``same``) and ``engine``: the second
  setting's logit-relevant engine settings; ``run_fingerprint``: the run's;
* ``logits`` [order][agent][token]: the second evaluation's raw logits, in the run
  record's layout; ``diff``: those minus the run's, per prompt; ``max_abs_diff``.

`noise_floor` turns it into `results.NoiseFloor` (``results.json``'s ``noise``), for
`scoring.score_run`: per country the median and 95th percentile of |Δ(δ_i − δ_base)|
over the re-evaluated scenarios and personas, beside the median persona effect
|δ_i − δ_base| and the median shift |δ_out − δ_base| of the primary DISCA method over
all the country's scenarios, with every gap debiased and T_cat-scaled as the core does.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiscaError
from ..interrupts import signals_held
from ..maths import methods
from ..maths.noise import abs_median_p95, effect_differences, persona_effects
from . import runlog
from .results import CountryNoise, NoiseFloor
from .runlog import _encode, _Lock, repair_samples

log = logging.getLogger(__name__)

__all__ = ["append_jsonl", "locked", "noise_floor", "noise_record", "read_noise"]


def noise_record(
    run_record: Mapping[str, Any],
    other: Mapping[str, Any],
    *,
    setting: str,
    engine: Mapping[str, Any],
    fingerprint: str | None,
) -> dict[str, Any]:
    """The noise record of one scenario: another evaluation of a run record's prompts.

    Args:
        run_record: the run's sample record.
        other: the record the same prompts gave under the second setting
            (`worker.Worker.process`).
        setting: the second setting's name.
        engine: its logit-relevant engine settings.
        fingerprint: the run's fingerprint.

    Raises:
        DiscaError: the two records are not of the same prompts (another scenario, or
            prompt texts that changed since the run).
    """
    key = runlog.record_key(run_record)
    if runlog.record_key(other) != key or other["prompt_sha256"] != run_record["prompt_sha256"]:
        raise DiscaError(
            f"{key[0]}/{key[1]}: the prompts rebuilt for the noise floor are not the run's "
            "(the persona panel or the prompt texts changed since the run)"
        )
    logits = np.asarray(other["logits"], dtype=np.float64)
    diff = logits - np.asarray(run_record["logits"], dtype=np.float64)
    return {
        "country": key[0],
        "scenario_id": key[1],
        "pool_position": int(run_record["pool_position"]),
        "setting": setting,
        "engine": dict(engine),
        "run_fingerprint": fingerprint,
        "logits": logits.tolist(),
        "diff": diff.tolist(),
        "max_abs_diff": float(np.abs(diff).max()),
    }


def read_noise(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The noise records of a run folder, first copy of each (country, scenario) kept.

    Raises:
        RunLogError: a corrupt line.
    """
    return runlog.read_samples(run_dir, name=runlog.NOISE_FILE)


def _arrays(recs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Logits [S, 2, J, 2], has_swap [S] and categories of run records."""
    logits = np.array([r["logits"] for r in recs], dtype=np.float64)
    has_swap = np.array([bool(r["has_swap"]) for r in recs], dtype=bool)
    return logits, has_swap, [r["category"] for r in recs]


def _country_noise(
    recs: Sequence[Mapping[str, Any]],
    noise: Mapping[str, Mapping[str, Any]],
    method: methods.Method,
) -> CountryNoise | None:
    """One country's floor; `recs` in pool order, `noise` by scenario id (None: none)."""
    pairs = [(r, noise[r["scenario_id"]]) for r in recs if r["scenario_id"] in noise]
    if not pairs:
        return None
    params = method.params
    logits, has_swap, cats = _arrays([r for r, _ in pairs])
    other = np.array([n["logits"] for _, n in pairs], dtype=np.float64)
    floor_median, floor_p95 = abs_median_p95(
        effect_differences(logits, other, has_swap, cats, params)
    )
    all_logits, all_swap, all_cats = _arrays(recs)
    persona_effect, _ = abs_median_p95(persona_effects(all_logits, all_swap, all_cats, params))
    delta_base = methods.panel_gaps(all_logits, all_swap, all_cats, params)[0]
    right = np.array([bool(r["preferred_right"]) for r in recs], dtype=bool)
    micro = np.array([r["delta_micro"][method.name] for r in recs], dtype=np.float64)
    delta_out, _ = methods.finalize(micro, right, method)
    shift, _ = abs_median_p95(delta_out - delta_base)
    return CountryNoise(
        n=len(pairs),
        floor_median=floor_median,
        floor_p95=floor_p95,
        max_logit_diff=float(np.abs(other - logits).max()),
        persona_effect=persona_effect,
        shift=shift,
        shift_below_floor=shift < floor_p95,
        effects_below_floor=persona_effect < floor_p95,
    )


def noise_floor(
    header: Mapping[str, Any],
    by_country: Mapping[str, Sequence[Mapping[str, Any]]],
    noise_records: Sequence[Mapping[str, Any]],
    method: methods.Method,
) -> NoiseFloor | None:
    """The noise floor of a run per country, from its records and its noise records.

    Only noise records of this run (its fingerprint) and of the file's first setting
    count, each against the run record of its scenario.

    Args:
        header: the run's ``run.json``.
        by_country: ISO3 -> the country's run records in scope, in pool order.
        noise_records: `read_noise` of the run folder.
        method: the DISCA method whose shift is shown (the run's primary).

    Returns:
        The floor, or None when no noise record matches a run record.
    """
    fingerprint = header.get("fingerprint")
    mine = [n for n in noise_records if n.get("run_fingerprint") == fingerprint]
    if not mine:
        return None
    setting, engine = mine[0]["setting"], mine[0]["engine"]
    countries = {}
    for iso, recs in by_country.items():
        noise = {
            n["scenario_id"]: n
            for n in mine
            if n["country"] == iso and n["setting"] == setting and n["engine"] == engine
        }
        found = _country_noise(recs, noise, method)
        if found is not None:
            countries[iso] = found
    if not countries:
        return None
    return NoiseFloor(
        setting=setting,
        engine=dict(engine),
        run_engine=dict((header.get("config") or {}).get("engine") or {}),
        method=method.name,
        n_records=len(noise_records),
        countries=countries,
    )


def append_jsonl(path: str | os.PathLike, records: Sequence[Mapping[str, Any]]) -> None:
    """Append records to a JSONL file as one write + fsync, never split by SIGINT/SIGTERM.

    A torn last line left by a killed writer is cut off first (`runlog.repair_samples`).
    """
    if not records:
        return
    dropped = repair_samples(path)
    if dropped:
        log.warning("%s: dropped a torn last record (%d bytes)", path, dropped)
    data = b"".join(_encode(record) for record in records)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        with signals_held():
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(directory: str | os.PathLike) -> Iterator[None]:
    """Hold a run directory's lock (the one `RunLog.open` takes) for the block.

    Raises:
        RunLogError: another process holds it.
    """
    lock = _Lock(Path(directory))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()
