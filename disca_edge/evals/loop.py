"""MultiTP evaluation runs: countries × DISCA pool through the engine, into a resumable run log.

`run_eval` is the run loop behind ``disca eval multitp``. It plans the work (countries ×
pool positions of this shard, less what is on disk) as work items, (country, chunk of a
few scenarios), and hands them to an `executor` (this process, ``--jobs`` worker
processes or Ray actors). A worker evaluates a chunk's scenarios (10 prompts each, sharing
KV prefixes) and derives every method from the logits (`record_chunk`). This process is the single
writer: each finished chunk becomes one block of `runlog` records (appended, fsync'ed).
A rerun skips what is on disk, with any executor; `scoring.score_run` makes ``results.json``.

The `reference` variant's country prior is sequential in pool order, so records store
only the order-independent δ_micro; the prior is applied when results are built.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, paths, pipeline
from ..content import baselines as baseline_texts
from ..content import human_targets, i18n, scenarios, variants
from ..engine.options import LOGIT_SETTINGS, EngineOptions
from ..errors import DiscaError
from ..machine import available_memory, machine_info
from ..maths import core
from ..maths.methods import Method, method_suite
from ..models.open import model_file_size
from ..progress import NullProgress, Progress
from . import runlog
from .baselines import check_baselines
from .executor import check_workers_agree, default_threads, make_executor, plan_jobs
from .noise import read_noise
from .records import read_records
from .results import Results
from .scoring import score_run, write_run_results
from .worker import WorkItem, WorkSpec

__all__ = [
    "EvalConfig",
    "EvalOutcome",
    "LOGIT_SETTINGS",
    "parse_params",
    "build_header",
    "run_eval",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """Options of one ``disca eval multitp`` invocation.

    Attributes:
        out: the run directory.
        countries: ISO3 codes, in run order.
        engine: the model and engine options of every worker (`EngineOptions`; with
            several jobs and no thread count, the CPUs are shared out).
        limit: only the first ``limit`` scenarios of the pool (processing order).
        variant: ablation base and headline DISCA variant (``paper`` / ``reference``).
        seed: IS seed of the noise draws (spec §4; 42 is the paper's main seed).
        data_seed: pool selection, shuffle and opener seed (42).
        shard: (i, n): this process does the pool positions p with p % n == i.
        chunk: scenarios per work item (each scenario one engine call of 10 prompts; a
            chunk's records are written together).
        overrides: DISCA parameter overrides for every method.
        force: replace a run with a different config in ``out``.
        personas_dir: the persona folder (None: the shipped panels); recorded in run.json.
        jobs: workers, each with its own model (`executor`).
        executor: ``local`` (processes) or ``ray``; address: the Ray cluster.
        cap, min_per_category, fourth, drop_dims: prompt variants (`variants`).
        anchor_text: wording of the ``fourth="utilitarian"`` anchor, "fixed" (the country
            named) or "released" (its placeholder left, as in the authors' code).
        lang: "native" (each country in its own language, the paper's protocol) or "en".
        baselines: labels (`baselines.select`) whose extra prompts each scenario also gets.
    """

    out: Path
    countries: tuple[str, ...]
    engine: EngineOptions = EngineOptions(prefix_cache=True)
    limit: int | None = None
    variant: str = "paper"
    seed: int = 42
    data_seed: int = 42
    shard: tuple[int, int] | None = None
    chunk: int = 4
    overrides: Mapping[str, Any] = field(default_factory=dict)
    force: bool = False
    personas_dir: Path | None = None
    jobs: int = 1
    executor: str = "local"
    address: str | None = None
    cap: int | None = 80
    min_per_category: int = 0
    fourth: str = "aggregate"
    drop_dims: tuple[str, ...] = ()
    lang: str = "native"
    anchor_text: str = "fixed"
    baselines: tuple[str, ...] = ()


@dataclass
class EvalOutcome:
    """What a finished (or interrupted) invocation did.

    Attributes:
        out: the run folder.
        status: ``success``, ``cancelled`` or ``error``.
        n_new: records added by this invocation.
        n_present: records in the folder now.
        n_todo: records this invocation set out to add.
        seconds: wall time of the loop.
        results: the run's results as written to ``results.json`` (None after an error).
    """

    out: Path
    status: str
    n_new: int
    n_present: int
    n_todo: int
    seconds: float
    results: Results | None


# --------------------------------------------------------------------------- option parsing


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings -> DISCA overrides (values parsed as JSON, else text).

    Raises:
        DiscaError: malformed item or invalid parameter.
    """
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise DiscaError(f"--param must be NAME=VALUE, got {item!r}")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        out[name.strip()] = parsed
    try:
        core.DiscaParams("paper", **out)
    except ValueError as exc:
        raise DiscaError(f"--param: {exc}") from None
    return out


# --------------------------------------------------------------------------- header


def _prompts_sha256() -> str:
    """Hash of the fixed prompt texts (frame, scenario layout, openers, base prompt)."""
    blob = "\x00".join(
        [
            scenarios.DISCA_FRAME,
            scenarios.render_disca_scenario("{context}", "{left}", "{right}"),
            scenarios.BASE_SYSTEM_PROMPT,
            *i18n.language("en").scenario_starts,
        ]
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _versions(model_info: Mapping[str, Any]) -> dict[str, str]:
    return {
        "disca_edge": __version__,
        "llama_cpp_python": str(model_info.get("llama_cpp_python", "")),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _run_config(
    cfg: EvalConfig,
    model_info: Mapping[str, Any],
    suite: Mapping[str, Method],
    panels: Mapping[str, Any],
    pool_size: int,
    languages: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The fingerprinted config: everything that decides the content of a record."""
    settings = model_info.get("settings", {})
    return {
        "kind": "multitp",
        "protocol": "disca-pool",
        "prompt_protocol": scenarios.PROMPT_PROTOCOL,
        "pool_size": pool_size,
        "pool": {"cap": cfg.cap, "min_per_category": cfg.min_per_category},
        "personas": {
            "fourth": cfg.fourth,
            "drop_dims": list(cfg.drop_dims),
            **({"anchor_text": cfg.anchor_text} if cfg.fourth == "utilitarian" else {}),
        },
        "data_seed": cfg.data_seed,
        "is_seed": cfg.seed,
        "prompts_sha256": _prompts_sha256(),
        "model": {"name": model_info.get("name"), "sha256": model_info.get("sha256")},
        "engine": {k: settings.get(k) for k in LOGIT_SETTINGS},
        "variant": cfg.variant,
        "overrides": dict(cfg.overrides),
        "methods": {name: m.describe() for name, m in suite.items()},
        "panels": {iso: p.sha256() for iso, p in panels.items()},
        "lang": cfg.lang,
        "i18n_sha256": i18n.tables().sha256,
        "languages": {
            iso: {k: v for k, v in entry.items() if k != "note"} for iso, entry in languages.items()
        },
        **({"baselines": baseline_texts.describe(cfg.baselines)} if cfg.baselines else {}),
    }


def _panel_metadata(panel: Any) -> dict[str, Any]:
    return {
        "sha256": panel.sha256(),
        "name": panel.name,
        "provenance": panel.provenance,
        "provenance_statement": panel.provenance_statement,
        "path": str(panel.path) if panel.path else None,
    }


def build_header(
    cfg: EvalConfig,
    model_info: Mapping[str, Any],
    suite: Mapping[str, Method],
    panels: Mapping[str, Any],
    pool_size: int,
    prompts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The run header: the fingerprinted ``config``, the ``scope`` and the metadata.

    The config holds ``lang`` and, per country, the languages used and the hash of its
    five system prompts, so a run in another language is never resumed into this one.
    """
    languages = {
        iso: {**p.rendering.to_dict(), "systems_sha256": p.systems_sha256()}
        for iso, p in (prompts or {}).items()
    }
    return {
        "config": _run_config(cfg, model_info, suite, panels, pool_size, languages),
        "scope": {
            "countries": list(cfg.countries),
            "limit": cfg.limit,
            "shard": None if cfg.shard is None else f"{cfg.shard[0]}/{cfg.shard[1]}",
        },
        "model": dict(model_info),
        "versions": _versions(model_info),
        "machine": machine_info(),
        "seed": cfg.seed,
        "data_seed": cfg.data_seed,
        "variant": cfg.variant,
        "lang": cfg.lang,
        "languages": languages,
        "panels": {iso: _panel_metadata(p) for iso, p in panels.items()},
        "run_settings": {
            "chunk": cfg.chunk,
            "n_threads": model_info.get("settings", {}).get("n_threads"),
            "jobs": cfg.jobs,
            "executor": cfg.executor,
        },
        "personas_dir": None if cfg.personas_dir is None else str(cfg.personas_dir),
    }


# --------------------------------------------------------------------------- records


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sigterm_as_interrupt() -> Any:
    """Make SIGTERM raise KeyboardInterrupt (main thread only); returns the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


# --------------------------------------------------------------------------- run


@dataclass
class _Plan:
    """The validated work of one invocation (before the engine is loaded)."""

    suite: dict[str, Method]
    targets: Any
    panels: dict[str, Any]
    pool: list[Any]
    ids: list[str]
    positions: list[int]
    k_half: int
    prompts: dict[str, Any]


def _plan(cfg: EvalConfig) -> _Plan:
    """Check the options and plan the work: methods, targets, panels, pool positions.

    Raises:
        DiscaError: bad options, no human targets.
    """
    if cfg.chunk < 1:
        raise DiscaError(f"--chunk must be >= 1, got {cfg.chunk}")
    if cfg.limit is not None and cfg.limit < 1:
        raise DiscaError(f"--limit must be >= 1, got {cfg.limit}")
    if cfg.anchor_text not in ("fixed", "released"):
        raise DiscaError(f"--anchor-text must be fixed or released, got {cfg.anchor_text!r}")
    if cfg.anchor_text != "fixed" and cfg.fourth != "utilitarian":
        raise DiscaError(f"--anchor-text {cfg.anchor_text} words the --fourth utilitarian "
                         "anchor; add --fourth utilitarian")  # fmt: skip
    check_baselines(cfg.baselines, cfg.fourth)
    try:
        suite = method_suite(cfg.variant, cfg.overrides)
    except ValueError as exc:
        raise DiscaError(str(exc)) from None
    k_half = {m.params.k_half for m in suite.values()}
    if len(k_half) != 1:
        raise DiscaError("all methods must share k_half")
    paths.check_writable_dir(cfg.out)  # fail before loading the model
    targets = human_targets.load_human_targets()
    missing = [c for c in cfg.countries if c not in targets.index]
    if missing:
        raise DiscaError(f"no Moral Machine targets for {', '.join(missing)}")
    pool = variants.pool(cfg.data_seed, cfg.cap, cfg.min_per_category)
    n_positions = len(pool) if cfg.limit is None else min(cfg.limit, len(pool))
    shard_i, shard_n = cfg.shard or (0, 1)
    if cfg.lang not in ("native", "en"):
        raise DiscaError(f"--lang must be native or en, got {cfg.lang!r}")
    panels = {
        iso: variants.panel_for(iso, cfg.fourth, cfg.drop_dims, cfg.personas_dir)
        for iso in cfg.countries
    }
    return _Plan(
        suite=suite,
        targets=targets,
        panels=panels,
        prompts={
            iso: pipeline.panel_prompts(p, cfg.lang, anchor_text=cfg.anchor_text)
            for iso, p in panels.items()
        },
        pool=pool,
        ids=variants.record_ids(pool),
        positions=list(range(shard_i, n_positions, shard_n)),
        k_half=k_half.pop(),
    )


def _jobs(cfg: EvalConfig, plan: _Plan) -> int:
    """The workers to start: ``--jobs`` capped at the work items left (`plan_jobs`).

    Warns (once, before any model loads) when the workers' threads exceed the CPUs or
    their copies of the model the memory available.
    """
    n_items = cfg.jobs
    if cfg.jobs > 1:  # the chunks of what the folder lacks (all of it with --force)
        done = set() if cfg.force else {runlog.record_key(r) for r in runlog.read_samples(cfg.out)}
        n_items = sum(
            -(-sum((iso, plan.ids[p]) not in done for p in plan.positions) // cfg.chunk)
            for iso in cfg.countries
        )
    jobs, warnings = plan_jobs(
        cfg.jobs, n_items, threads=cfg.engine.n_threads, cpus=os.cpu_count() or 1,
        model_bytes=model_file_size(cfg.engine.model) if cfg.jobs > 1 else None,
        memory_bytes=available_memory(), here=cfg.executor == "local" or cfg.address is None,
    )  # fmt: skip
    for warning in warnings:
        log.warning(warning)
    return jobs


def _work_spec(cfg: EvalConfig) -> WorkSpec:
    """What every worker needs to evaluate this run's work items."""
    engine = cfg.engine
    if engine.n_threads is None:
        engine = dataclasses.replace(engine, n_threads=default_threads(cfg.jobs))
    return WorkSpec(
        engine=engine,
        variant=cfg.variant,
        overrides=dict(cfg.overrides),
        seed=cfg.seed,
        data_seed=cfg.data_seed,
        pool={"cap": cfg.cap, "min_per_category": cfg.min_per_category},
        lang=cfg.lang,
        anchor_text=cfg.anchor_text,
        countries=tuple(cfg.countries),
        limit=cfg.limit,
        baselines=tuple(cfg.baselines),
        panel={
            "fourth": cfg.fourth,
            "drop_dims": tuple(cfg.drop_dims),
            "personas_dir": None if cfg.personas_dir is None else str(cfg.personas_dir),
        },
    )


def _run_items(
    run: runlog.RunLog,
    executor: Any,
    todo: Mapping[str, list[int]],
    cfg: EvalConfig,
    plan: _Plan,
    progress: Progress,
) -> dict[str, int]:
    """Hand every missing chunk to the executor and append its records; engine counters."""
    items = [
        WorkItem(iso, tuple(chunk))
        for iso in cfg.countries
        for chunk in _chunks(todo[iso], cfg.chunk)
    ]
    n = len(plan.positions)
    for iso in cfg.countries:  # countries with nothing left are shown as done up front
        if not todo[iso]:
            progress.stage(iso, n, n)
    shown: set[str] = set()

    def on_submit(item: WorkItem) -> None:
        if item.country not in shown:  # a country's first chunk goes out
            shown.add(item.country)
            progress.stage(item.country, n, n - len(todo[item.country]))

    shown_of: dict[WorkItem, int] = {}  # scenarios of an item already on the display

    def on_scenario(item: WorkItem, k: int) -> None:  # a requeued item counts from 1 again
        if k > shown_of.get(item, 0):
            progress.update(k - shown_of.get(item, 0))
            shown_of[item] = k

    stats: dict[str, int] = {}
    for item, records, spent in executor.run(items, on_submit, on_scenario):
        run.append(records)
        for key, value in spent.items():
            stats[key] = stats.get(key, 0) + value
        progress.update(len(records) - shown_of.pop(item, 0))
    return stats


def run_eval(
    cfg: EvalConfig,
    *,
    progress: Progress | None = None,
    engine: Any = None,
    model_info: Mapping[str, Any] | None = None,
    argv: Sequence[str] | None = None,
) -> EvalOutcome:
    """Run (or resume) a MultiTP evaluation into ``cfg.out``.

    Args:
        cfg: the options.
        progress: a display (default: none).
        engine: an already loaded `engine.Engine` (with ``model_info``, its
            `models.ModelInfo.as_dict()`); default: each worker's `models.open_engine(cfg.engine)`.
        model_info: see ``engine``.
        argv: the command line, recorded in the invocation entry.

    Returns:
        EvalOutcome. On Ctrl-C (or SIGTERM) the records so far are on disk, the status is
        ``cancelled``, partial ``results.json`` is written, and KeyboardInterrupt is
        re-raised.

    Raises:
        DiscaError: bad options, no human targets, a config clash with ``cfg.out``.
        KeyboardInterrupt: after recording the cancellation.
        ValueError: ``engine`` without ``model_info``.
    """
    progress = progress or NullProgress()
    plan = _plan(cfg)
    cfg = dataclasses.replace(cfg, jobs=_jobs(cfg, plan))
    if engine is not None and model_info is None:
        raise ValueError("model_info is required with an engine")
    executor = make_executor(
        _work_spec(cfg),
        jobs=cfg.jobs,
        executor=cfg.executor,
        address=cfg.address,
        engine=engine,
        model_info=model_info,
    )
    old_handler = None
    try:
        infos = executor.start()  # every worker loads the model
        check_workers_agree(infos, LOGIT_SETTINGS)
        header = build_header(cfg, infos[0], plan.suite, plan.panels, len(plan.pool), plan.prompts)
        with runlog.RunLog.open(
            cfg.out, header, force=cfg.force, invocation={"argv": list(argv or [])}
        ) as run:
            todo = {
                iso: [p for p in plan.positions if (iso, plan.ids[p]) not in run.keys]
                for iso in cfg.countries
            }
            old_handler = _sigterm_as_interrupt()
            return _run_and_record(run, executor, todo, cfg, plan, progress)
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
        executor.close()


def _run_and_record(
    run: runlog.RunLog,
    executor: Any,
    todo: Mapping[str, list[int]],
    cfg: EvalConfig,
    plan: _Plan,
    progress: Progress,
) -> EvalOutcome:
    """Run the loop; whatever happens, record the invocation and (unless an error) results.

    Raises:
        PlaceError: the disk filled up; the records before it are kept (the message says
            how to resume).
    """
    total = len(plan.positions) * len(cfg.countries)
    n_todo = sum(len(v) for v in todo.values())
    stats: dict[str, int] = {}
    started = time.perf_counter()
    status, error = "error", None
    progress.start(total, total - n_todo)
    try:
        stats = _run_items(run, executor, todo, cfg, plan, progress)
        status = "success"
    except KeyboardInterrupt:
        status = "cancelled"
        raise
    except paths.PlaceError as exc:  # a full disk: what was written before it stays
        error = str(exc)
        raise paths.PlaceError(
            f"{exc}; the {len(run.keys)} records written before it are kept: free space "
            "and run the same command again to resume"
        ) from None
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        executor.close()  # stop the workers first (Ctrl-C: in-flight chunks are redone later)
        progress.close()
        seconds = time.perf_counter() - started
        n_new = len(run.keys) - run.n_at_open
        _finish(run, executor, status, error, seconds, stats)
        results = None
        if status in ("success", "cancelled"):
            results = score_run(run.header, read_records(cfg.out), targets=plan.targets,
                                noise_records=read_noise(cfg.out))  # fmt: skip
            write_run_results(cfg.out, results)
    return EvalOutcome(
        out=Path(cfg.out),
        status=status,
        n_new=n_new,
        n_present=len(run.keys),
        n_todo=n_todo,
        seconds=seconds,
        results=results,
    )


def _finish(run: runlog.RunLog, executor: Any, status: str, error: str | None, seconds: float,
            stats: Mapping[str, int]) -> None:  # fmt: skip
    """Record how the invocation ended; after an error, a full disk may refuse that too.

    Then run.json keeps status ``started``, and the next invocation records this one as
    ended without a status.
    """
    n_new = len(run.keys) - run.n_at_open
    try:
        run.finish(
            status,
            error=error,
            seconds=round(seconds, 3),
            scenarios_per_s=round(n_new / seconds, 4) if seconds > 0 else None,
            engine_stats=stats,
            jobs=executor.jobs,
            executor=executor.kind,
            **({"worker_deaths": executor.deaths} if executor.deaths else {}),
        )
    except paths.PlaceError:
        if status != "error":
            raise
        log.debug("%s: could not record the error status (the disk is full)", run.directory)
