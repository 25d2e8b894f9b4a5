"""Merging shard runs: the records of several run folders joined into one, with results.

Shards of one run (``disca eval multitp --shard i/n``) go to separate folders; `merge_runs`
joins their records into a new run folder (configs must be equal apart from the
per-country mappings, which are joined; a record present twice must be identical), and
`merge_shards` does that and writes the merged run's ``results.json``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import runlog
from .records import record_problem
from .results import Results
from .scoring import score_run, write_run_results

__all__ = ["merge_runs", "merge_shards"]

log = logging.getLogger(__name__)


def _check_finished(dirs: Sequence[Path], headers: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a source a process is still writing; warn about one that died unfinished."""
    for d, h in zip(dirs, headers, strict=True):
        if h.get("status") != "started":
            continue
        if runlog.being_written(d):
            raise runlog.RunLogError(
                f"{d}: a disca process is still writing this run (status started); merge "
                "it once that process has finished"
            )
        log.warning(
            "warning: %s ended without recording a status (killed or crashed); merging the "
            "records it has (rerun its command to finish it first)", d,
        )  # fmt: skip


def _check_mergeable(dirs: Sequence[Path], headers: Sequence[Mapping[str, Any]]) -> None:
    """Refuse sources whose configs or scopes (shard aside) differ."""
    first = headers[0]
    for d, h in zip(dirs[1:], headers[1:], strict=True):
        diffs = runlog.config_differences(first["config"], h["config"])
        if diffs:
            raise runlog.RunLogError(
                f"cannot merge {dirs[0]} and {d}: configs differ ({'; '.join(diffs[:4])})"
            )
    scopes = {
        runlog.canonical_json({k: v for k, v in (h.get("scope") or {}).items() if k != "shard"})
        for h in headers
    }
    if len(scopes) > 1:
        raise runlog.RunLogError(
            "cannot merge runs with different scopes (countries or --limit); "
            "shards of one run must use the same countries and limit"
        )


def _merged_records(
    dirs: Sequence[Path], order: Mapping[str, int] | None, check: Callable[[Any], str | None] | None
) -> list[dict[str, Any]]:
    """Every source's records once, sorted by (country rank, pool position, scenario id)."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    canon: dict[tuple[str, str], str] = {}
    countries: dict[str, int] = dict(order or {})
    for d in dirs:
        for record in runlog.read_samples(d, check=check):
            key = runlog.record_key(record)
            text = runlog.canonical_json(record)
            if key in by_key:
                if canon[key] != text:
                    raise runlog.RunLogError(
                        f"{d}: record {key[0]}/{key[1]} differs from another source's copy"
                    )
                continue
            by_key[key] = record
            canon[key] = text
            countries.setdefault(key[0], len(countries))
    return sorted(
        by_key.values(),
        key=lambda r: (countries[r["country"]], r.get("pool_position", 0), r["scenario_id"]),
    )


def _merged_header(dirs: Sequence[Path], headers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The first source's header with the open mappings joined, no shard, the sources listed."""
    first = headers[0]
    config = dict(first["config"])
    for key in runlog.OPEN_MAPPINGS:
        if key in config:
            joined: dict[str, Any] = {}
            for h in headers:
                joined.update(h["config"].get(key, {}))
            config[key] = joined
    header = {k: v for k, v in first.items() if k not in ("invocations", "fingerprint")}
    header["config"] = config
    header["scope"] = {k: v for k, v in (first.get("scope") or {}).items() if k != "shard"}
    header["scope"]["shard"] = None
    for key in runlog.OPEN_MAPPINGS:
        if isinstance(first.get(key), Mapping):
            joined = {}
            for h in headers:
                joined.update(h.get(key) or {})
            header[key] = joined
    header["merged_from"] = [
        {
            "path": str(d.resolve()),
            "fingerprint": h.get("fingerprint"),
            "shard": (h.get("scope") or {}).get("shard"),
            "status": h.get("status"),
            "created": h.get("created"),
            "finished": h.get("finished"),
        }
        for d, h in zip(dirs, headers, strict=True)
    ]
    return header


def merge_runs(
    sources: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    force: bool = False,
    order: Mapping[str, int] | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Join the records of several run directories (shards) into a new one.

    The sources must have equal configs (apart from the per-country panel mappings,
    which are joined). A record present in several sources must be identical apart
    from nothing: differing copies of one key are an error.

    Args:
        sources: run directories.
        out: the new run directory (must not hold a run, unless ``force``).
        force: replace a run already in ``out`` (moved aside).
        order: optional country -> rank for sorting (default: first-seen order); records
            are written sorted by (country rank, pool_position).
        check: says what is wrong with a source record (`runlog.read_samples`).

    Returns:
        (header, records) as written to ``out``. The header's ``scope`` drops the shard;
        ``merged_from`` lists the sources; ``status`` is success.

    Raises:
        RunLogError: fewer than one source, a source still being written (status
            ``started`` and its lock held), differing configs, conflicting records, or
            ``out`` already holds a run.
    """
    dirs = [Path(s) for s in sources]
    if not dirs:
        raise runlog.RunLogError("merge needs at least one run directory")
    out_path = Path(out)
    if any(d.resolve() == out_path.resolve() for d in dirs):
        raise runlog.RunLogError(f"{out_path}: the merged run must go to a new directory")
    headers = [runlog.read_header(d) for d in dirs]
    _check_finished(dirs, headers)
    _check_mergeable(dirs, headers)
    records = _merged_records(dirs, order, check)
    header = _merged_header(dirs, headers)
    if (out_path / runlog.RUN_FILE).exists() or (out_path / runlog.SAMPLES_FILE).exists():
        if not force:
            raise runlog.RunLogError(
                f"{out_path} already holds a run; merge into a new directory, or --force "
                "to replace it (the old files are moved aside)"
            )
        runlog.supersede(out_path)
    with runlog.RunLog.open(out_path, header, invocation={"merge": True}) as run:
        run.append(records)
        run.finish("success")
        return run.header, records


def merge_shards(
    sources: Sequence[str | os.PathLike], out: str | os.PathLike, *, force: bool = False
) -> Results:
    """Merge shard runs into ``out`` and write its ``results.json``.

    Records are ordered by the first source's countries (`merge_runs`) and checked
    (`records.record_problem`) before anything is written.

    Returns:
        The merged run's results.

    Raises:
        RunLogError: see `merge_runs`.
        DiscaError: a country without human targets.
    """
    order = None
    if sources:
        scope = runlog.read_header(sources[0]).get("scope") or {}
        order = {c: i for i, c in enumerate(scope.get("countries") or [])}
    header, records = merge_runs(sources, out, force=force, order=order, check=record_problem)
    results = score_run(header, records)
    write_run_results(out, results)
    return results
