"""The run log: a run directory's header, append-only sample records and resume.

A run directory holds

* ``run.json``: the header. ``config`` is everything that decides the content of a
  record (model hash, logit-relevant engine settings, seeds, methods and parameters,
  persona panel hashes); ``fingerprint`` is its hash. Also the scope (countries, limit,
  shard), model/versions/machine metadata, ``status`` (started / success / cancelled /
  error), ``created``/``finished`` times and one entry per invocation. Written atomically.
* ``samples.jsonl``: one JSON record per line, keyed by (``country``, ``scenario_id``).
  Records are appended in chunks; each chunk is one ``write`` followed by ``fsync``,
  with SIGINT/SIGTERM held back meanwhile, so an interrupt never splits a chunk. Only
  ``kill -9`` or a crash can leave a torn last line: `RunLog.open` truncates the file
  back to its last newline before appending again, and readers ignore the torn tail.
* ``results.json``: derived results (`scoring.write_run_results`), written atomically.
* ``noise.jsonl``: optional, the run's scenarios re-evaluated under another kernel
  setting (`evals.noise`); appended like the samples, which it never touches.

Re-opening a directory resumes it: records already present are skipped by the caller
(`RunLog.keys`). A different ``config`` is refused unless ``force`` (the old files are
then moved to ``superseded-<time>/``). A lock file keeps two processes out of one
directory; shards of one run go to separate directories and are joined with
`merge.merge_runs`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import DiscaError
from ..interrupts import signals_held
from ..paths import atomic_write_text, check_writable_dir, write_error

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FORMAT",
    "RUN_FILE",
    "SAMPLES_FILE",
    "RESULTS_FILE",
    "NOISE_FILE",
    "RunLogError",
    "RunLog",
    "being_written",
    "config_differences",
    "fingerprint",
    "now",
    "read_header",
    "read_samples",
    "read_results",
    "repair_samples",
    "write_results",
    "OPEN_MAPPINGS",
    "canonical_json",
    "supersede",
    "record_key",
    "parse_shard",
]

log = logging.getLogger(__name__)

#: Header format tag (bump on incompatible changes).
FORMAT = "disca-edge-run/1"
RUN_FILE = "run.json"
SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"
NOISE_FILE = "noise.jsonl"
_LOCK_FILE = ".lock"
#: Config entries that are mappings keyed by country: runs may add keys, not change them.
OPEN_MAPPINGS = ("panels", "languages")


class RunLogError(DiscaError):
    """A run directory that cannot be used as asked (changed config, locked, corrupt)."""


def now() -> str:
    """Current UTC time, ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal values give equal text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fingerprint(config: Mapping[str, Any]) -> str:
    """SHA-256 of a config, without the open (per-country) mappings."""
    closed = {k: v for k, v in config.items() if k not in OPEN_MAPPINGS}
    return hashlib.sha256(canonical_json(closed).encode("utf-8")).hexdigest()


def record_key(record: Mapping[str, Any]) -> tuple[str, str]:
    """The identity of a sample record: (country, scenario_id)."""
    return str(record["country"]), str(record["scenario_id"])


def config_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two configs ("path: old -> new").

    Open mappings (``panels``) only compare the keys both configs have.
    """
    diffs: list[str] = []

    def short(value: Any) -> str:
        text = canonical_json(value)
        return text if len(text) <= 60 else text[:57] + "..."

    def walk(a: Any, b: Any, path: str, open_keys: bool) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            keys = (set(a) & set(b)) if open_keys else (set(a) | set(b))
            for key in sorted(keys, key=str):
                sub = f"{path}.{key}" if path else str(key)
                if key not in a or key not in b:
                    diffs.append(f"{sub}: {short(a.get(key))} -> {short(b.get(key))}")
                else:
                    walk(a[key], b[key], sub, open_keys=False)
            return
        if a != b:
            diffs.append(f"{path}: {short(a)} -> {short(b)}")

    for key in sorted(set(old) | set(new)):
        if key not in old or key not in new:
            diffs.append(f"{key}: {short(old.get(key))} -> {short(new.get(key))}")
        else:
            walk(old[key], new[key], key, open_keys=key in OPEN_MAPPINGS)
    return diffs


# --------------------------------------------------------------------------- reading


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """A run scope's shard ``"i/n"`` (0 <= i < n) -> (i, n); None or ``"0/1"`` -> None.

    Raises:
        DiscaError: not of the form i/n with 0 <= i < n.
    """
    if text is None:
        return None
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise DiscaError(f"--shard must look like i/n (e.g. 0/2), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise DiscaError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return None if n == 1 else (i, n)


def read_header(directory: str | os.PathLike) -> dict[str, Any]:
    """The ``run.json`` of a run directory.

    Raises:
        RunLogError: missing or unreadable.
    """
    path = Path(directory) / RUN_FILE
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunLogError(f"{directory}: not a run directory (no {RUN_FILE})") from None
    except (OSError, ValueError) as exc:
        raise RunLogError(f"{path}: unreadable ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RunLogError(f"{path}: not a {FORMAT} header")
    return header


def _iter_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, raw line, terminated) for each line of a file."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            yield number, raw, raw.endswith(b"\n")


def read_samples(
    directory: str | os.PathLike,
    *,
    check: Callable[[Any], str | None] | None = None,
    name: str = SAMPLES_FILE,
) -> list[dict[str, Any]]:
    """All complete records of a run, in file order, first copy of each key kept.

    A torn last line (no newline: the writer was killed mid-write) is ignored; the file
    is not modified.

    Args:
        directory: the run folder.
        check: says what is wrong with a record (None: nothing), e.g.
            `records.record_problem`; default: records are only parsed.
        name: the file (`NOISE_FILE`: the noise records, `evals.noise`).

    Raises:
        RunLogError: a complete line that is not a JSON record (corruption), or a record
            `check` finds wrong, named by its line number and key.
    """
    path = Path(directory) / name
    if not path.is_file():
        return []
    records: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for number, raw, terminated in _iter_lines(path):
        if not terminated:
            log.warning("%s: ignoring a torn last line (%d bytes)", path, len(raw))
            break
        try:
            record = json.loads(raw)
            key = record_key(record)
        except (ValueError, KeyError, TypeError):
            raise RunLogError(f"{path}:{number}: not a sample record (corrupt file)") from None
        problem = check(record) if check is not None else None
        if problem:
            raise RunLogError(f"{path}:{number} ({key[0]}/{key[1]}): {problem}")
        if key not in seen:
            seen.add(key)
            records.append(record)
    return records


def repair_samples(path: str | os.PathLike) -> int:
    """Truncate a torn last line (bytes after the last newline); returns bytes dropped."""
    path = Path(path)
    if not path.is_file():
        return 0
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        end = size
        block = 1 << 16
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(end - start)
            at = chunk.rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            end = start
        else:
            keep = 0
        if keep < size:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
    return size - keep


def read_results(directory: str | os.PathLike) -> dict[str, Any] | None:
    """``results.json`` of a run, or None when it was not written yet."""
    path = Path(directory) / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunLogError(
            f"{path}: unreadable ({exc}); rebuild it from samples.jsonl with "
            f"`disca report {Path(directory)} --recompute`"
        ) from None


def write_results(directory: str | os.PathLike, results: Mapping[str, Any]) -> Path:
    """Write ``results.json`` atomically (temp file, fsync, rename)."""
    path = Path(directory) / RESULTS_FILE
    atomic_write_text(path, json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False))
    return path


# --------------------------------------------------------------------------- writing


def _encode(record: Mapping[str, Any]) -> bytes:
    text = json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


class _Lock:
    """An exclusive advisory lock on ``DIR/.lock`` (released by the OS if the process dies)."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / _LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:  # pragma: no cover - Windows: no lock
            return
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunLogError(
                f"{self._path.parent}: another disca process is writing to this run "
                "(use a separate --out per shard and `disca eval merge`)"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def being_written(directory: str | os.PathLike) -> bool:
    """Whether a process holds the run directory's lock now (it is appending records).

    Only tests the lock (a shared lock, released at once); creates nothing.
    """
    if fcntl is None:  # pragma: no cover - Windows: no lock
        return False
    try:
        fd = os.open(Path(directory) / _LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases the lock if we got it
    return False


class RunLog:
    """An open run directory: header, resumable append-only records, final status.

    Use `RunLog.open`; then `append` chunks of records, and `finish` with a status.
    """

    def __init__(self, directory: Path, header: dict[str, Any], keys: set, lock: _Lock) -> None:
        self.directory = directory
        self.header = header
        self.keys: set[tuple[str, str]] = keys
        self.n_at_open = len(keys)
        self._lock = lock
        self._fd: int | None = os.open(
            directory / SAMPLES_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
        )

    # ---------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        directory: str | os.PathLike,
        header: Mapping[str, Any],
        *,
        force: bool = False,
        invocation: Mapping[str, Any] | None = None,
    ) -> RunLog:
        """Create or resume a run directory.

        Args:
            directory: the run folder (created if needed).
            header: the new header: ``config`` (decides record content), ``scope`` and
                any metadata; ``format``, ``fingerprint``, ``status``, ``created`` and
                ``invocations`` are filled in here.
            force: with a different config, move the old files to
                ``superseded-<time>/`` and start afresh instead of refusing.
            invocation: extra fields for this invocation's entry (e.g. argv).

        Returns:
            RunLog, holding the directory's lock, with `keys` of the records present.

        Raises:
            RunLogError: the directory holds a run with a different config (the message
                lists the differences), is locked by another process, or is corrupt.
        """
        path = Path(directory)
        check_writable_dir(path)
        path.mkdir(parents=True, exist_ok=True)
        lock = _Lock(path)
        lock.acquire()
        try:
            merged = cls._prepare(path, dict(header), force)
            dropped = repair_samples(path / SAMPLES_FILE)
            if dropped:
                log.warning("%s: dropped a torn last record (%d bytes)", path, dropped)
            keys = {record_key(r) for r in read_samples(path)}
            merged["status"] = "started"
            merged.pop("finished", None)
            merged.setdefault("invocations", []).append(
                {
                    "started": now(),
                    "status": "started",
                    "records_before": len(keys),
                    "torn_bytes_dropped": dropped,
                    "scope": merged.get("scope"),
                    **dict(invocation or {}),
                }
            )
            atomic_write_text(path / RUN_FILE, json.dumps(merged, indent=1, ensure_ascii=False))
            return cls(path, merged, keys, lock)
        except BaseException:
            lock.release()
            raise

    @staticmethod
    def _prepare(path: Path, header: dict[str, Any], force: bool) -> dict[str, Any]:
        """Check the new header against the directory and return the header to write."""
        config = header.get("config")
        if not isinstance(config, Mapping):
            raise ValueError("header must have a 'config' mapping")
        header["format"] = FORMAT
        header["fingerprint"] = fingerprint(config)
        old, problem = _existing_run(path, config)
        if problem:
            if not force:
                raise RunLogError(
                    f"{problem}; refusing to mix results. Use another --out, or --force "
                    "to start over (the old files are moved aside)"
                )
            supersede(path)
            old = None
        if old is None:
            header["created"] = now()
            header["invocations"] = []
            return header
        return _resumed_header(old, header, config)

    # ---------------------------------------------------------------- writing
    def append(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Append records as one write + fsync; records already present are skipped.

        Returns:
            The number of records written.

        Raises:
            PlaceError: the write failed (the disk is full); no record of this call is
                left in the file.
        """
        if self._fd is None:
            raise RunLogError(f"{self.directory}: run log is closed")
        fresh = []
        for record in records:
            key = record_key(record)
            if key not in self.keys:
                fresh.append((key, _encode(record)))
        if not fresh:
            return 0
        data = b"".join(blob for _, blob in fresh)
        with signals_held():
            self._write_all(data)
            self.keys.update(key for key, _ in fresh)
        return len(fresh)

    def _write_all(self, data: bytes) -> None:
        """Append `data` and fsync; a failed write (a full disk) is cut back off the file.

        Raises:
            PlaceError: the write failed; the file holds exactly what it held before.
        """
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError as exc:
            with contextlib.suppress(OSError):  # truncating frees space: it works on a full disk
                os.ftruncate(self._fd, size)
            raise write_error(self.directory / SAMPLES_FILE, exc) from None

    def update_header(self, **fields: Any) -> None:
        """Set top-level header fields and rewrite ``run.json`` atomically."""
        self.header.update(fields)
        atomic_write_text(
            self.directory / RUN_FILE, json.dumps(self.header, indent=1, ensure_ascii=False)
        )

    def finish(self, status: str, *, error: str | None = None, **invocation: Any) -> None:
        """Record the final status, the end time and this invocation's figures.

        Args:
            status: ``success``, ``cancelled`` or ``error``.
            error: what went wrong (with ``error``).
            **invocation: JSON-ready figures for this invocation's entry (seconds,
                throughput, engine statistics).

        Raises:
            ValueError: an unknown status.
        """
        if status not in ("success", "cancelled", "error"):
            raise ValueError(f"status must be success, cancelled or error, got {status!r}")
        finished = now()
        entry = self.header["invocations"][-1]
        entry.update(invocation)
        entry.update(
            finished=finished,
            status=status,
            records_added=len(self.keys) - self.n_at_open,
        )
        if error:
            entry["error"] = error
        self.update_header(status=status, finished=finished)

    def close(self) -> None:
        """Close the samples file and release the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._lock.release()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def supersede(path: Path) -> Path:
    """Move a run's files into ``superseded-<time>/`` inside the directory."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = path / f"superseded-{stamp}"
    target.mkdir()
    for name in (RUN_FILE, SAMPLES_FILE, RESULTS_FILE, NOISE_FILE):
        if (path / name).exists():
            os.replace(path / name, target / name)
    log.warning("moved the previous run in %s to %s", path, target)
    return target


# --------------------------------------------------------------------------- resuming


def _existing_run(
    path: Path, config: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """(the header already in ``path``, or None; why the new run cannot join it, or None)."""
    run_file, samples = path / RUN_FILE, path / SAMPLES_FILE
    if run_file.exists():
        try:
            old = read_header(path)
        except RunLogError as exc:
            return None, str(exc)
        diffs = config_differences(old.get("config", {}), config)
        if diffs:
            shown = "; ".join(diffs[:4]) + ("; ..." if len(diffs) > 4 else "")
            return old, f"{path} holds a run with a different config ({shown})"
        return old, None
    if samples.exists() and samples.stat().st_size > 0:
        return None, f"{path} has {SAMPLES_FILE} but no {RUN_FILE}"
    return None, None


def _resumed_header(
    old: Mapping[str, Any], header: Mapping[str, Any], config: Mapping[str, Any]
) -> dict[str, Any]:
    """Resume: keep history, take the new metadata and scope, union the open mappings."""
    merged = dict(old)
    merged.update({k: v for k, v in header.items() if k not in ("created", "invocations")})
    merged["config"] = dict(config)
    for key in OPEN_MAPPINGS:
        if key in old["config"] or key in config:
            merged["config"][key] = {**old["config"].get(key, {}), **config.get(key, {})}
    for key, value in header.items():  # metadata mappings keyed by country: union too
        if isinstance(value, Mapping) and key in OPEN_MAPPINGS:
            merged[key] = {**old.get(key, {}), **value}
    merged["created"] = old.get("created", now())
    merged["invocations"] = [dict(e) for e in old.get("invocations", [])]
    for entry in merged["invocations"]:  # we hold the lock: a "started" one is dead
        if entry.get("status") == "started":
            entry["status"] = "error"
            entry["error"] = "ended without recording a status (killed or crashed)"
    return merged
