"""Measuring a run's noise floor: its first scenarios re-evaluated under another kernel setting.

`measure_noise` rebuilds the prompts of the first N scenarios per country exactly as the
run did (the run header's language, prompt variants, panels and seeds, through the
evaluation `worker`), evaluates them under a second valid kernel setting
(`engine.options.alternate_options`: an f16 KV cache, or attention without flash
attention), and appends one record per scenario to the run's ``noise.jsonl`` (`noise`),
one fsync'ed write per chunk. The samples are never touched; a rerun skips what the file
holds, so an interrupted measurement resumes. Finally the run's ``results.json`` is
rescored with its ``noise`` section.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..engine.options import LOGIT_SETTINGS, NOISE_SETTINGS, EngineOptions, alternate_options
from ..errors import DiscaError
from ..models.registry import get_model
from ..progress import NullProgress, Progress
from . import runlog
from .noise import append_jsonl, locked, noise_record, read_noise
from .results import Results
from .scoring import score_run, write_run_results
from .worker import Worker, WorkItem, WorkSpec

__all__ = ["NoiseOutcome", "measure_noise", "run_options"]


@dataclass(frozen=True)
class NoiseOutcome:
    """What a noise-floor measurement did.

    Attributes:
        out: the run folder.
        setting: the second setting.
        n_new: scenarios re-evaluated by this call.
        n_present: noise records in the folder now.
        seconds: wall time.
        results: the run's results with their ``noise`` section (also in ``results.json``).
    """

    out: Path
    setting: str
    n_new: int
    n_present: int
    seconds: float
    results: Results


def run_options(header: Mapping[str, Any], n_threads: int | None = None) -> EngineOptions:
    """The engine options a run was evaluated with, from its header.

    The model is the registry name the run used (the worker checks the file's sha256).

    Args:
        header: the run's ``run.json``.
        n_threads: CPU threads (None: the run's).
    """
    model = header.get("model") or {}
    settings = model.get("settings") or {}
    return EngineOptions(
        model=_model_of(model),
        n_threads=n_threads or settings.get("n_threads"),
        n_ctx=settings.get("n_ctx"),
        n_gpu_layers=settings.get("n_gpu_layers"),
        extra_buffers=settings.get("extra_buffers"),
        kv_type=settings.get("kv_type"),
        n_batch=int(settings.get("n_batch", 512)),
        n_ubatch=settings.get("n_ubatch"),
        prefix_cache=True,
    )


def _model_of(model: Mapping[str, Any]) -> str | None:
    """The run's model as ``--model`` takes it.

    Its registry name (which brings the registry's chat template), else its file's path.
    """
    name, path = model.get("name"), model.get("path")
    if name:
        try:
            get_model(str(name))
            return str(name)
        except DiscaError:  # a .gguf path's file name, or a model no longer listed
            pass
    return path or name


def _work_spec(header: Mapping[str, Any], engine: EngineOptions, limit: int) -> WorkSpec:
    """What the worker needs to rebuild the run's prompts (`loop` builds the same)."""
    config = header["config"]
    personas = config.get("personas") or {}
    return WorkSpec(
        engine=engine,
        model_sha256=(header.get("model") or {}).get("sha256"),
        variant=config["variant"],
        overrides=dict(config.get("overrides") or {}),
        seed=int(config["is_seed"]),
        data_seed=int(config["data_seed"]),
        pool=dict(config.get("pool") or {}),
        panel={
            "fourth": personas.get("fourth", "aggregate"),
            "drop_dims": tuple(personas.get("drop_dims") or ()),
            "personas_dir": header.get("personas_dir"),
        },
        lang=config.get("lang", "en"),
        anchor_text=personas.get("anchor_text", "fixed"),
        countries=tuple((header.get("scope") or {}).get("countries") or ()),
        limit=limit,
    )


def _first_records(
    header: Mapping[str, Any], records: Sequence[Mapping[str, Any]], n: int
) -> dict[str, list[Mapping[str, Any]]]:
    """The first `n` records (by pool position) of each country in the run's scope."""
    countries = (header.get("scope") or {}).get("countries") or []
    return {
        iso: sorted(
            (r for r in records if r["country"] == iso), key=lambda r: int(r["pool_position"])
        )[:n]
        for iso in countries
    }


def _todo(
    header: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
    kept: Sequence[Mapping[str, Any]], n: int,
) -> dict[str, list[Mapping[str, Any]]]:  # fmt: skip
    """Per country, those of its first `n` records that `kept` does not hold yet."""
    done = {runlog.record_key(r) for r in kept}
    todo = {
        iso: [r for r in recs if runlog.record_key(r) not in done]
        for iso, recs in _first_records(header, records, n).items()
    }
    return {iso: recs for iso, recs in todo.items() if recs}


def _check_file(path: Path, noise: Sequence[Mapping[str, Any]], setting: str,
                fingerprint: str | None, force: bool) -> list[Mapping[str, Any]]:  # fmt: skip
    """The noise records to keep; another setting or run's file is moved aside with `force`.

    Raises:
        DiscaError: the file holds another setting or another run, without `force`.
    """
    other = [
        n for n in noise if n.get("setting") != setting or n.get("run_fingerprint") != fingerprint
    ]
    if not other:
        return list(noise)
    found = other[0]
    if not force:
        raise DiscaError(
            f"{path} holds a noise floor measured with --setting {found.get('setting')} "
            f"(or for another run); give --force to measure {setting} instead (the old file "
            "is moved aside)"
        )
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    os.replace(path, path.with_name(f"noise-superseded-{stamp}.jsonl"))
    return []


def _check_settings(setting: str, run_engine: Mapping[str, Any], engine: Mapping[str, Any],
                    recorded: Sequence[Mapping[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """The second setting's logit-relevant settings, checked against the run and the file.

    Raises:
        DiscaError: a second setting that is the run's own (other than ``same``), or
            other settings than those the file's records were measured with.
    """
    mine = {k: engine.get(k) for k in LOGIT_SETTINGS}
    if setting != "same" and mine == {k: run_engine.get(k) for k in LOGIT_SETTINGS}:
        raise DiscaError(
            f"the run was evaluated with the {setting} setting already; choose another "
            f"--setting ({', '.join(s for s in NOISE_SETTINGS if s != setting)})"
        )
    if recorded and any(r.get("engine") != mine for r in recorded):
        raise DiscaError(
            "noise.jsonl was measured with other engine settings "
            f"({recorded[0].get('engine')}); give --force to start it again"
        )
    return mine


def _measure(
    run_dir: Path, header: Mapping[str, Any], todo: Mapping[str, list[Mapping[str, Any]]],
    worker: Worker, setting: str, recorded: Sequence[Mapping[str, Any]], chunk: int,
    progress: Progress,
) -> int:  # fmt: skip
    """Re-evaluate the missing scenarios chunk by chunk, appending; returns the count."""
    engine = _check_settings(
        setting, header["config"].get("engine") or {}, worker.model_info["settings"], recorded
    )
    path, n_new = run_dir / runlog.NOISE_FILE, 0
    for iso, recs in todo.items():
        progress.stage(iso, len(recs), 0)
        for start in range(0, len(recs), chunk):
            part = recs[start : start + chunk]
            others, _ = worker.process(WorkItem(iso, tuple(int(r["pool_position"]) for r in part)))
            append_jsonl(path, [
                noise_record(r, o, setting=setting, engine=engine,
                             fingerprint=header.get("fingerprint"))
                for r, o in zip(part, others, strict=True)
            ])  # fmt: skip
            n_new += len(part)
            progress.update(len(part))
    return n_new


def measure_noise(
    run_dir: str | os.PathLike,
    n: int,
    *,
    setting: str = "f16",
    n_threads: int | None = None,
    force: bool = False,
    chunk: int = 4,
    progress: Progress | None = None,
    engine: Any = None,
    model_info: Mapping[str, Any] | None = None,
) -> NoiseOutcome:
    """Measure (or resume) a run's noise floor and rescore its results with it.

    Args:
        run_dir: a run folder (``disca eval multitp``, merged or rescored).
        n: scenarios per country, the first by pool position among the run's records.
        setting: the second kernel setting (`engine.options.NOISE_SETTINGS`): ``f16``,
            ``no-flash-attn``, or ``same`` (a control: the run's own settings).
        n_threads: CPU threads (None: the run's).
        force: replace a noise file of another setting (moved aside).
        chunk: scenarios per engine call.
        progress: a display (default: none).
        engine: an already loaded engine with the second setting (with ``model_info``,
            its `models.ModelInfo.as_dict()`); default: opened from the run's settings.
        model_info: see ``engine``.

    Returns:
        NoiseOutcome. On Ctrl-C the records so far stay in ``noise.jsonl`` and
        KeyboardInterrupt is raised; rerunning resumes.

    Raises:
        DiscaError: not a run folder, no records, a bad `n` or `setting`, another
            setting's file without `force`, prompts that cannot be rebuilt, a model file
            that is not the run's, or a locked folder.
    """
    if n < 1:
        raise DiscaError(f"the noise floor needs at least 1 scenario per country, got {n}")
    if setting not in NOISE_SETTINGS:
        raise DiscaError(f"--setting must be one of {', '.join(NOISE_SETTINGS)}, got {setting!r}")
    started = time.perf_counter()
    out = Path(run_dir)
    header = runlog.read_header(out)
    records = runlog.read_samples(out)
    if not records:
        raise DiscaError(f"{out}: no sample records to measure a noise floor on")
    progress = progress or NullProgress()
    with locked(out):
        kept = _check_file(out / runlog.NOISE_FILE, read_noise(out), setting,
                           header.get("fingerprint"), force)  # fmt: skip
        todo = _todo(header, records, kept, n)
        n_new = _run_worker(out, header, todo, kept, setting, n_threads, chunk, progress,
                            engine, model_info) if todo else 0  # fmt: skip
        noise = read_noise(out)
        results = score_run(header, records, noise_records=noise)
        write_run_results(out, results)
    return NoiseOutcome(out, setting, n_new, len(noise), time.perf_counter() - started, results)


def _run_worker(
    out: Path, header: Mapping[str, Any], todo: Mapping[str, list[Mapping[str, Any]]],
    kept: Sequence[Mapping[str, Any]], setting: str, n_threads: int | None, chunk: int,
    progress: Progress, engine: Any, model_info: Mapping[str, Any] | None,
) -> int:  # fmt: skip
    """Load the model under the second setting and measure `todo`; returns the count."""
    limit = 1 + max(int(r["pool_position"]) for recs in todo.values() for r in recs)
    options = alternate_options(run_options(header, n_threads), setting)
    spec = _work_spec(header, options, limit)
    spec = dataclasses.replace(spec, countries=tuple(todo))
    total = sum(len(recs) for recs in todo.values())
    worker = Worker(spec, engine=engine, model_info=model_info)
    progress.start(total, 0)
    try:
        return _measure(out, header, todo, worker, setting, kept, chunk, progress)
    finally:
        progress.close()
        worker.close()
