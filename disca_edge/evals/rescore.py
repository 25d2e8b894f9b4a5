"""Rescoring: every method recomputed from a run's stored logits, with no model.

``samples.jsonl`` keeps the 10 raw (z_A, z_B) pairs of each scenario, so a new IS seed
or a new hyperparameter point is pure NumPy (`methods.compute_methods`) and takes
seconds. `rescore_run` writes one new run folder (same format as ``disca eval
multitp``); `rescore` does a grid: the Cartesian product of seeds and ``--param``
values, one run folder per point plus ``sweep.json`` (`Sweep`), which ``disca report``
renders as a sweep table (mean ± sd over seeds).

A run's noise floor (``noise.jsonl``, `noise`) comes along: the prompts and logits are
the same, so the new run's floor is its records rescored with the new parameters.

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

from ..content import human_targets
from ..errors import DiscaError
from ..maths import core
from ..maths.methods import compute_methods, method_suite, record_fields, suite_from_config
from ..paths import atomic_write_text, check_writable_dir
from . import runlog
from .baselines import select_into
from .noise import append_jsonl, read_noise
from .records import read_records
from .results import Results
from .scoring import read_run_results, score_run, write_run_results

__all__ = [
    "SWEEP_FILE",
    "SWEEP_FORMAT",
    "SweepPoint",
    "SweepEntry",
    "Sweep",
    "RescoreOutcome",
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


@dataclass(frozen=True)
class SweepEntry:
    """A point of a written sweep: its run folder (relative to the sweep's) and fingerprint."""

    dir: str
    point: SweepPoint
    fingerprint: str | None

    def to_dict(self) -> dict[str, Any]:
        """The entry's ``sweep.json`` mapping."""
        return {
            "dir": self.dir,
            "seed": self.point.seed,
            "overrides": dict(self.point.overrides),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepEntry:
        """Read an entry of ``sweep.json`` (KeyError, TypeError or ValueError if malformed)."""
        point = SweepPoint(int(data["seed"]), dict(data.get("overrides") or {}))
        return cls(str(data["dir"]), point, data.get("fingerprint"))


@dataclass(frozen=True)
class Sweep:
    """A rescoring sweep (``sweep.json``, `SWEEP_FORMAT`): the source and every point.

    Attributes:
        created: when it was written (UTC, ISO 8601).
        source_path: the rescored run folder.
        source_fingerprint: that run's fingerprint.
        seeds: the IS seeds, in order.
        grid: parameter -> values (`parse_grid`).
        points: one entry per (grid point, seed), grid-major.
        format: the format tag.
    """

    created: str
    source_path: str
    source_fingerprint: str | None
    seeds: list[int]
    grid: dict[str, list[Any]]
    points: list[SweepEntry]
    format: str = SWEEP_FORMAT

    def to_dict(self) -> dict[str, Any]:
        """The ``sweep.json`` mapping, JSON-ready."""
        return {
            "format": self.format,
            "created": self.created,
            "source": {"path": self.source_path, "fingerprint": self.source_fingerprint},
            "seeds": list(self.seeds),
            "grid": {k: list(v) for k, v in self.grid.items()},
            "points": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sweep:
        """Read a ``sweep.json`` mapping.

        Raises:
            DiscaError: another format, or a missing or malformed entry.
        """
        if data.get("format") != SWEEP_FORMAT:
            raise DiscaError(f"not a {SWEEP_FORMAT} file")
        try:
            source = data.get("source") or {}
            return cls(
                created=str(data.get("created", "")),
                source_path=str(source.get("path")),
                source_fingerprint=source.get("fingerprint"),
                seeds=[int(s) for s in data["seeds"]],
                grid={k: list(v) for k, v in (data.get("grid") or {}).items()},
                points=[SweepEntry.from_dict(p) for p in data["points"]],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DiscaError(
                f"malformed {SWEEP_FORMAT} file ({type(exc).__name__}: {exc})"
            ) from None

    @property
    def seeds_only(self) -> bool:
        """Several seeds at one parameter point: the runs differ only in their seed."""
        return len(self.points) == len(self.seeds) > 1


@dataclass(frozen=True)
class RescoreOutcome:
    """What `rescore` did: one run (``results``) or a sweep (``sweep``), and its wall time.

    Attributes:
        seconds: wall time of the whole rescoring, results included.
        results: the new run's results (one point); None for a sweep.
        sweep: the sweep written (several points); None for one run.
    """

    seconds: float
    results: Results | None = None
    sweep: Sweep | None = None


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


def _rescored_suite(
    config: Mapping[str, Any], extra: Mapping[str, Any]
) -> tuple[dict[str, Any], int]:
    """The methods of a rescoring with overrides ``extra`` on the source config's, and k_half.

    Raises:
        DiscaError: an invalid override, or methods with different k_half.
    """
    try:
        if extra:
            suite = method_suite(config["variant"], {**config.get("overrides", {}), **extra})
        else:  # exactly the recorded methods (parameters included)
            suite = suite_from_config(config)
    except (ValueError, TypeError) as exc:
        raise DiscaError(f"--param: {exc}") from None
    k_half = {m.params.k_half for m in suite.values()}
    if len(k_half) != 1:
        raise DiscaError("all methods must share k_half")
    return suite, k_half.pop()


def _scenario_batch(
    records: Sequence[Mapping[str, Any]],
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, list[int]]:
    """Stacked inputs of `compute_methods` from stored records (logits as stored).

    Returns:
        logits (ndarray[S, 2, 5, 2]), has_swap (ndarray[S]), categories, preferred_right
        (ndarray[S]) and vignette indices.
    """
    logits = np.array([r["logits"] for r in records], dtype=np.float64)
    has_swap = np.array([bool(r["has_swap"]) for r in records], dtype=bool)
    categories = [r["category"] for r in records]
    right = np.array([bool(r["preferred_right"]) for r in records], dtype=bool)
    indices = [int(r["vignette_index"]) for r in records]
    return logits, has_swap, categories, right, indices


def _rescored_records(
    records: Sequence[Mapping[str, Any]], suite: Mapping[str, Any], seed: int, k_half: int
) -> list[dict[str, Any]]:
    """Every record with its method fields recomputed (per country, in file order)."""
    by_country: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_country.setdefault(record["country"], []).append(record)
    new_records: list[dict[str, Any]] = []
    for recs in by_country.values():
        logits, has_swap, categories, right, indices = _scenario_batch(recs)
        z = core.draws(seed, indices, k_half)
        outputs = compute_methods(logits, has_swap, categories, right, z, suite)
        for s, record in enumerate(recs):
            new_records.append({**record, **record_fields(outputs, suite, s)})
    return new_records


def _rescored_header(
    header: Mapping[str, Any], src: Path, config: dict[str, Any], n_records: int,
    extra: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The new run's header: the source's metadata, the new config, where it came from."""
    new_header = {
        k: copy.deepcopy(v)
        for k, v in header.items()
        if k not in ("format", "fingerprint", "created", "finished", "status", "invocations")
    }
    new_header["config"] = config
    new_header["seed"] = config["is_seed"]
    new_header["rescored_from"] = {
        "path": str(src.resolve()),
        "fingerprint": header.get("fingerprint"),
        "is_seed": header["config"].get("is_seed"),
        "overrides": header["config"].get("overrides", {}),
        "status": header.get("status"),
        "n_records": n_records,
        "seed": config["is_seed"],
        "param_overrides": dict(extra),
    }
    return new_header


def rescore_run(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    force: bool = False,
    targets: Any = None,
    argv: Sequence[str] | None = None,
    baselines: str | None = None,
) -> Results:
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
        baselines: ``--baselines all|LIST`` to score from the stored logits
            (`baselines.select`), on top of those the source names.

    Returns:
        The new run's results (also written to its ``results.json``).

    Raises:
        DiscaError: ``out`` is ``source``, no records, an invalid override, or a run
            log error.
    """
    src, dst = Path(source), Path(out)
    if src.resolve() == dst.resolve():
        raise DiscaError(f"{dst}: rescoring writes a new run; give another --out")
    header = runlog.read_header(src)
    records = read_records(src)
    if not records:
        raise DiscaError(f"{src}: no sample records to rescore")
    extra = dict(overrides or {})
    suite, k_half = _rescored_suite(header["config"], extra)
    config = copy.deepcopy(header["config"])
    config["is_seed"] = int(config["is_seed"] if seed is None else seed)
    config["overrides"] = {**config.get("overrides", {}), **extra}
    config["methods"] = {name: m.describe() for name, m in suite.items()}
    select_into(config, baselines)
    new_records = _rescored_records(records, suite, config["is_seed"], k_half)
    new_header = _rescored_header(header, src, config, len(records), extra)
    with runlog.RunLog.open(
        dst, new_header, force=force, invocation={"rescore": True, "argv": list(argv or [])}
    ) as run:
        run.append(new_records)
        run.finish("success")
        final_header = run.header
        noise = _carried_noise(src, dst, header, final_header)
    # the folder now holds exactly these records (a resumed folder: the same ones)
    results = score_run(final_header, new_records, targets=targets, noise_records=noise)
    write_run_results(dst, results)
    return results


def _carried_noise(
    src: Path, dst: Path, header: Mapping[str, Any], new_header: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The source's noise records, carried into the new run (same prompts, same logits).

    Records the new folder lacks are appended to its ``noise.jsonl``; returns all of its
    noise records.
    """
    carried = [
        {**n, "run_fingerprint": new_header.get("fingerprint")}
        for n in read_noise(src)
        if n.get("run_fingerprint") == header.get("fingerprint")
    ]
    present = {runlog.record_key(n) for n in read_noise(dst)}
    append_jsonl(
        dst / runlog.NOISE_FILE, [n for n in carried if runlog.record_key(n) not in present]
    )
    return read_noise(dst)


# --------------------------------------------------------------------------- sweeps


def _write_sweep(
    src: Path, dst: Path, header: Mapping[str, Any], seeds: Sequence[int],
    grid: Mapping[str, Sequence[Any]], entries: Sequence[SweepEntry],
) -> Sweep:  # fmt: skip
    sweep = Sweep(
        created=runlog.now(),
        source_path=str(src.resolve()),
        source_fingerprint=header.get("fingerprint"),
        seeds=list(seeds),
        grid={k: list(v) for k, v in grid.items()},
        points=list(entries),
    )
    dst.mkdir(parents=True, exist_ok=True)
    text = json.dumps(sweep.to_dict(), indent=1, ensure_ascii=False)
    atomic_write_text(dst / SWEEP_FILE, text)
    return sweep


def rescore(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    seeds: Sequence[int] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    force: bool = False,
    argv: Sequence[str] | None = None,
    baselines: str | None = None,
) -> RescoreOutcome:
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
        baselines: ``--baselines`` to score in every new run (`rescore_run`).

    Returns:
        The new run's results, or the sweep written, with the wall time.

    Raises:
        DiscaError: an unwritable ``out``, a sweep into a run folder, or see `rescore_run`.
    """
    started = time.perf_counter()
    src, dst = Path(source), Path(out)
    check_writable_dir(dst)  # before anything is read
    header = runlog.read_header(src)
    seeds = list(seeds) if seeds else [int(header["config"]["is_seed"])]
    grid = dict(grid or {})
    points = _grid_points(seeds, grid)
    targets = human_targets.load_human_targets()
    if len(points) == 1:
        point = points[0]
        results = rescore_run(src, dst, seed=point.seed, overrides=point.overrides,
                              force=force, targets=targets, argv=argv,
                              baselines=baselines)  # fmt: skip
        return RescoreOutcome(seconds=time.perf_counter() - started, results=results)
    if (dst / runlog.RUN_FILE).exists():
        raise DiscaError(f"{dst} holds a run; a sweep needs its own folder")
    entries = []
    for point in points:
        name = point_name(point)
        results = rescore_run(src, dst / name, seed=point.seed, overrides=point.overrides,
                              force=force, targets=targets, argv=argv,
                              baselines=baselines)  # fmt: skip
        entries.append(SweepEntry(name, point, results.run.fingerprint))
    sweep = _write_sweep(src, dst, header, seeds, grid, entries)
    return RescoreOutcome(seconds=time.perf_counter() - started, sweep=sweep)


def read_sweep(directory: str | os.PathLike) -> tuple[Sweep, list[Results]]:
    """A sweep folder's ``sweep.json`` and each point's results (recomputed if stale).

    Returns:
        The sweep and its points' results, in ``sweep.points`` order.

    Raises:
        DiscaError: not a sweep folder, or a point's run folder is missing.
    """
    path = Path(directory) / SWEEP_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DiscaError(f"{directory}: not a sweep folder (no {SWEEP_FILE})") from None
    except (OSError, ValueError) as exc:
        raise DiscaError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise DiscaError(f"{path}: not a {SWEEP_FORMAT} file")
    try:
        sweep = Sweep.from_dict(data)
    except DiscaError as exc:
        raise DiscaError(f"{path}: {exc}") from None
    results = [read_run_results(Path(directory) / p.dir) for p in sweep.points]
    return sweep, results
