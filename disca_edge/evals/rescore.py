"""Rescoring: every method recomputed from a run's stored logits, with no model.

``samples.jsonl`` keeps the 10 raw (z_A, z_B) pairs of each scenario, so a new IS seed
or a new hyperparameter point is pure NumPy (`methods.compute_methods`) and takes
seconds. `rescore_run` writes one new run folder (same format as ``disca eval
multitp``); `rescore` does a grid: the Cartesian product of seeds and ``--param``
values, one run folder per point plus ``sweep.json``, which ``disca report`` renders
as a sweep table (mean ± sd over seeds).

A rescored run's ``config`` is what the same model run would have recorded (so
rescoring with the source's own seed and parameters reproduces its records, fingerprint
and results exactly); where it came from is recorded outside the config, in
``rescored_from`` (source path, fingerprint, seed and overrides). The source run is
only read.

Prompt-changing variants (persona panel, pool caps, oversampling, dropped WVS
dimensions) need new logits: they belong to ``disca eval multitp``, not here.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiscaError
from ..maths import core
from ..paths import atomic_write_text, check_writable_dir
from . import runlog

__all__ = [
    "SWEEP_FILE",
    "SWEEP_FORMAT",
    "SweepPoint",
    "parse_seeds",
    "parse_grid",
    "point_name",
    "rescore_run",
    "rescore",
    "read_sweep",
]

SWEEP_FILE = "sweep.json"
SWEEP_FORMAT = "disca-edge-sweep/1"

#: Parameters that change the prompts or the run scope, not the post-processing.
_NOT_RESCORABLE = ("variant",)


@dataclass(frozen=True)
class SweepPoint:
    """One rescoring point: an IS seed and DISCA overrides (on top of the source's)."""

    seed: int
    overrides: dict[str, Any]


# --------------------------------------------------------------------------- parsing


def parse_seeds(text: str | None) -> list[int] | None:
    """``"42,101,2026"`` -> [42, 101, 2026] (None stays None).

    Raises:
        DiscaError: a seed that is not a non-negative integer, or a repeated seed.
    """
    if text is None:
        return None
    seeds = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            seed = int(part)
        except ValueError:
            raise DiscaError(f"--seeds must be comma-separated integers, got {text!r}") from None
        if seed < 0:
            raise DiscaError(f"--seeds must be >= 0, got {seed}")
        if seed in seeds:
            raise DiscaError(f"--seeds repeats {seed}")
        seeds.append(seed)
    if not seeds:
        raise DiscaError("--seeds is empty")
    return seeds


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``NAME=V1,V2,...`` strings -> {name: [values]} (values parsed as JSON, else text).

    Every value is validated against `core.DiscaParams`.

    Raises:
        DiscaError: malformed item, repeated name, unknown parameter or invalid value.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = str(item).partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise DiscaError(f"--param must be NAME=VALUE[,VALUE...], got {item!r}")
        if name in _NOT_RESCORABLE:
            raise DiscaError(f"--param {name} cannot be rescored (it is an option of eval)")
        if name in grid:
            raise DiscaError(f"--param {name} is given twice")
        parsed = [_value(v.strip()) for v in values.split(",")]
        for value in parsed:
            try:
                core.DiscaParams("paper", **{name: value})
            except (ValueError, TypeError) as exc:
                raise DiscaError(f"--param {name}={value}: {exc}") from None
        grid[name] = parsed
    return grid


def _grid_points(seeds: Sequence[int], grid: Mapping[str, Sequence[Any]]) -> list[SweepPoint]:
    names = list(grid)
    combos = itertools.product(*(grid[n] for n in names)) if names else [()]
    return [
        SweepPoint(seed, dict(zip(names, combo, strict=True))) for combo in combos for seed in seeds
    ]


def point_name(point: SweepPoint) -> str:
    """Folder name of a sweep point, e.g. ``sigma_floor=0.2__seed=42``."""
    parts = [
        f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in point.overrides.items()
    ]
    return "__".join([*parts, f"seed={point.seed}"])


# --------------------------------------------------------------------------- one run


def _scenario_batch(
    records: Sequence[Mapping[str, Any]],
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, list[int]]:
    """Stacked inputs of `compute_methods` from stored records (logits as stored)."""
    logits = np.array([r["logits"] for r in records], dtype=np.float64)
    has_swap = np.array([bool(r["has_swap"]) for r in records], dtype=bool)
    categories = [r["category"] for r in records]
    right = np.array([bool(r["preferred_right"]) for r in records], dtype=bool)
    indices = [int(r["vignette_index"]) for r in records]
    return logits, has_swap, categories, right, indices


def rescore_run(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    force: bool = False,
    targets: Any = None,
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Recompute every method of ``source`` into a new run folder ``out``.

    Args:
        source: a run folder (``disca eval multitp``, merged or rescored).
        out: the new run folder (must not be ``source``). A folder holding the same
            rescored config is resumed (nothing to add); a different one is refused
            unless ``force``.
        seed: IS seed (default: the source's).
        overrides: DISCA parameter overrides on top of the source's.
        force: replace a different run in ``out`` (moved aside).
        targets: human targets (default: loaded from the data dir).
        argv: the command line, recorded in the invocation entry.

    Returns:
        The new run's ``results.json`` mapping, plus ``seconds`` (wall time of the
        rescoring, summary included) under ``rescore``.

    Raises:
        DiscaError: ``out`` is ``source``, no records, an invalid override, or a run
            log error.
    """
    from ..maths.methods import compute_methods, method_suite, record_fields, suite_from_config
    from .results import summarize

    started = time.perf_counter()
    src, dst = Path(source), Path(out)
    if src.resolve() == dst.resolve():
        raise DiscaError(f"{dst}: rescoring writes a new run; give another --out")
    header = runlog.read_header(src)
    records = runlog.read_samples(src)
    if not records:
        raise DiscaError(f"{src}: no sample records to rescore")
    config = copy.deepcopy(header["config"])
    extra = dict(overrides or {})
    new_overrides = {**config.get("overrides", {}), **extra}
    try:
        if extra:
            suite = method_suite(config["variant"], new_overrides)
        else:  # exactly the recorded methods (parameters included)
            suite = suite_from_config(config)
    except (ValueError, TypeError) as exc:
        raise DiscaError(f"--param: {exc}") from None
    new_seed = int(config["is_seed"] if seed is None else seed)
    config["is_seed"] = new_seed
    config["overrides"] = new_overrides
    config["methods"] = {name: m.describe() for name, m in suite.items()}
    k_half = {m.params.k_half for m in suite.values()}
    if len(k_half) != 1:
        raise DiscaError("all methods must share k_half")
    k_half_value = k_half.pop()

    by_country: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_country.setdefault(record["country"], []).append(record)
    new_records: list[dict[str, Any]] = []
    for recs in by_country.values():
        logits, has_swap, categories, right, indices = _scenario_batch(recs)
        z = core.draws(new_seed, indices, k_half_value)
        outputs = compute_methods(logits, has_swap, categories, right, z, suite)
        for s, record in enumerate(recs):
            new_records.append({**record, **record_fields(outputs, suite, s)})

    new_header = {
        k: copy.deepcopy(v)
        for k, v in header.items()
        if k not in ("format", "fingerprint", "created", "finished", "status", "invocations")
    }
    new_header["config"] = config
    new_header["seed"] = new_seed
    new_header["rescored_from"] = {
        "path": str(src.resolve()),
        "fingerprint": header.get("fingerprint"),
        "is_seed": header["config"].get("is_seed"),
        "overrides": header["config"].get("overrides", {}),
        "status": header.get("status"),
        "n_records": len(records),
        "seed": new_seed,
        "param_overrides": extra,
    }
    with runlog.RunLog.open(
        dst, new_header, force=force, invocation={"rescore": True, "argv": list(argv or [])}
    ) as run:
        run.append(new_records)
        run.finish("success")
        final_header = run.header
    # the folder now holds exactly these records (a resumed folder: the same ones)
    results = summarize(final_header, new_records, targets=targets)
    runlog.write_results(dst, results)
    seconds = time.perf_counter() - started
    results["rescore"] = {"seconds": round(seconds, 3), "n_records": len(new_records)}
    return results


# --------------------------------------------------------------------------- sweeps


def rescore(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    seeds: Sequence[int] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    force: bool = False,
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Rescore ``source`` once, or over a grid of seeds x parameter values.

    One point (a single seed and single values) writes a run folder at ``out``. More
    points write ``out/<point name>/`` run folders and ``out/sweep.json``.

    Args:
        source: the run folder to rescore (only read).
        out: the new run folder, or the sweep folder.
        seeds: IS seeds (default: the source's).
        grid: {parameter: [values]} (`parse_grid`).
        force: replace different runs already in the output folders.
        argv: the command line, recorded with each run.

    Returns:
        ``{"kind": "run", "results": ...}`` or ``{"kind": "sweep", "sweep": ...}``
        (the `sweep.json` mapping), each with ``seconds``.
    """
    from ..content import human_targets as data

    started = time.perf_counter()
    src, dst = Path(source), Path(out)
    check_writable_dir(dst)  # before anything is read
    header = runlog.read_header(src)
    seeds = list(seeds) if seeds else [int(header["config"]["is_seed"])]
    points = _grid_points(seeds, dict(grid or {}))
    targets = data.load_human_targets()
    if len(points) == 1:
        point = points[0]
        results = rescore_run(src, dst, seed=point.seed, overrides=point.overrides,
                              force=force, targets=targets, argv=argv)  # fmt: skip
        return {"kind": "run", "results": results, "seconds": time.perf_counter() - started}
    if (dst / runlog.RUN_FILE).exists():
        raise DiscaError(f"{dst} holds a run; a sweep needs its own folder")
    entries = []
    for point in points:
        name = point_name(point)
        results = rescore_run(src, dst / name, seed=point.seed, overrides=point.overrides,
                              force=force, targets=targets, argv=argv)  # fmt: skip
        entries.append(
            {
                "dir": name,
                "seed": point.seed,
                "overrides": point.overrides,
                "fingerprint": results["run"]["fingerprint"],
            }
        )
    sweep = {
        "format": SWEEP_FORMAT,
        "created": runlog.now(),
        "source": {"path": str(src.resolve()), "fingerprint": header.get("fingerprint")},
        "seeds": seeds,
        "grid": {k: list(v) for k, v in (grid or {}).items()},
        "points": entries,
    }
    dst.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dst / SWEEP_FILE, json.dumps(sweep, indent=1, ensure_ascii=False))
    seconds = time.perf_counter() - started
    return {"kind": "sweep", "sweep": sweep, "seconds": seconds}


def read_sweep(directory: str | os.PathLike) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A sweep folder's ``sweep.json`` and each point's results (recomputed if stale).

    Raises:
        DiscaError: not a sweep folder, or a point's run folder is missing.
    """
    from .results import load_results

    path = Path(directory) / SWEEP_FILE
    try:
        sweep = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DiscaError(f"{directory}: not a sweep folder (no {SWEEP_FILE})") from None
    except (OSError, ValueError) as exc:
        raise DiscaError(f"{path}: unreadable ({exc})") from None
    if not isinstance(sweep, dict) or sweep.get("format") != SWEEP_FORMAT:
        raise DiscaError(f"{path}: not a {SWEEP_FORMAT} file")
    results = [load_results(Path(directory) / p["dir"]) for p in sweep["points"]]
    return sweep, results
