"""Model integrity: a model file's sha256, checked on every load at a cost fitting its size.

A file can be damaged in place with its size and mtime kept (bit rot, a tool that
restores the mtime), so no verdict is trusted on file metadata alone:

* **Small files** (up to `FULL_HASH_MAX`, 512 MiB) are hashed in full on every load
  (SmolLM2-135M's 98 MB take about 0.08 s, Gemma-3-270M's 253 MB about 0.2 s, from the
  page cache, on the 2-core reference machine).
* **Large files** are hashed in full on first use, whenever their size, mtime or ctime
  changed, and when their last full hash is older than `FULL_EVERY` (7 days). A full
  hash also records a *sample*: the sha256 of `SAMPLE_BLOCKS` blocks of `SAMPLE_BYTES` at
  fixed offsets (the first and last block and evenly between). Every other load re-reads
  the sample (4 MiB, a few milliseconds) and compares it; a mismatch means a full hash.
  Damage in a sampled block is caught at once, damage elsewhere at the next full hash.

Within one process a verdict is kept while the file's (size, mtime, ctime, inode) hold,
so a command that opens a model twice hashes it once. `Verification` says which hash
was checked and how ("full" or "sampled"); `models.open` records both with the model.

The memo (``sha256.json`` in the cache folder) keeps, per resolved path: size, mtime,
ctime, sha256, the sample's digest and when the full hash was made. `disca cache clear`
drops it with the models.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DiscaError
from ..paths import atomic_write_text, cache_dir
from .registry import ModelSpec

__all__ = [
    "FULL_EVERY",
    "FULL_HASH_MAX",
    "SAMPLE_BLOCKS",
    "SAMPLE_BYTES",
    "ModelIntegrityError",
    "ProgressFn",
    "Verification",
    "check_file",
    "forget_digests",
    "hash_file",
    "remember_digest",
    "remembered_digests",
    "sha256_file",
    "verify_model",
    "verify_sha256",
]

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total)
_CHUNK = 1 << 20
_MEMO = "sha256.json"

#: Files up to this size are hashed in full on every load.
FULL_HASH_MAX = 512 << 20
#: A larger file's full hash is redone when it is older than this (seconds).
FULL_EVERY = 7 * 24 * 3600
#: The sample of a large file checked on the other loads: this many blocks ...
SAMPLE_BLOCKS = 64
#: ... of this many bytes.
SAMPLE_BYTES = 64 << 10


class ModelIntegrityError(DiscaError):
    """A pulled registry model whose sha256 is not the registry's."""


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a model file.

    Attributes:
        sha256: the file's digest: just computed ("full"), or the one recorded at its last
            full hash, whose sample the file still matches ("sampled").
        how: "full" or "sampled".
    """

    sha256: str
    how: str


#: Verdicts of this process, by (path, size, mtime, ctime, inode).
_VERIFIED: dict[tuple, Verification] = {}


def _now() -> float:
    return time.time()


def _identity(path: Path) -> tuple:
    stat = path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _read_memo() -> dict:
    try:
        memo = json.loads((cache_dir() / _MEMO).read_text())
    except (OSError, ValueError, DiscaError):
        return {}
    if not isinstance(memo, dict):
        return {}
    return {
        k: v for k, v in memo.items() if isinstance(v, dict) and isinstance(v.get("sha256"), str)
    }


def _write_memo(memo: dict) -> None:
    """Best effort: a read-only or full cache only costs a hash next time."""
    with contextlib.suppress(OSError, DiscaError):
        atomic_write_text(cache_dir() / _MEMO, json.dumps(memo, indent=0))


def remembered_digests() -> list[tuple[Path, str]]:
    """Every remembered (file path, digest)."""
    return [(Path(key), entry["sha256"]) for key, entry in _read_memo().items()]


def forget_digests() -> None:
    """Drop the memo and this process's verdicts; hashes are re-made on use."""
    (cache_dir() / _MEMO).unlink(missing_ok=True)
    _VERIFIED.clear()


def hash_file(path: Path, progress: ProgressFn | None = None) -> str:
    """SHA-256 hex digest of a file, read in chunks, reporting (bytes done, total); no memo."""
    total, done = path.stat().st_size, 0
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def _sample(path: Path) -> str:
    """SHA-256 of `SAMPLE_BLOCKS` blocks at fixed offsets (first, last, evenly between)."""
    size = path.stat().st_size
    block = min(SAMPLE_BYTES, size)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for i in range(SAMPLE_BLOCKS):
            handle.seek((size - block) * i // (SAMPLE_BLOCKS - 1))
            digest.update(handle.read(block))
    return digest.hexdigest()


#: The memo fields that, when unchanged, need not be written again.
_KEPT = ("size", "mtime_ns", "ctime_ns", "sha256", "sample")


def _entry(path: Path, digest: str) -> dict:
    """A memo entry for a file whose full digest was just made or verified."""
    _, size, mtime, ctime, _ = _identity(path)
    return {"size": size, "mtime_ns": mtime, "ctime_ns": ctime, "sha256": digest,
            "sample": _sample(path), "full_at": _now()}  # fmt: skip


def remember_digest(path: Path, digest: str) -> None:
    """Record a file's digest, just verified another way (a pull checks its staged copy)."""
    path = Path(path).resolve()
    memo = _read_memo()
    memo[str(path)] = _entry(path, digest)
    _write_memo(memo)
    _VERIFIED[_identity(path)] = Verification(digest, "full")


def _sampled(path: Path, entry: dict | None) -> Verification | None:
    """The remembered digest, when a large file's sample still matches it and it is fresh."""
    if entry is None or path.stat().st_size <= FULL_HASH_MAX:
        return None
    _, size, mtime, ctime, _ = _identity(path)
    fresh = _now() - float(entry.get("full_at", 0)) < FULL_EVERY
    same = (entry.get("size"), entry.get("mtime_ns"), entry.get("ctime_ns")) == (size, mtime, ctime)
    if fresh and same and entry.get("sample") == _sample(path):
        return Verification(entry["sha256"], "sampled")
    return None


def check_file(path: str | os.PathLike, progress: ProgressFn | None = None) -> Verification:
    """The file's sha256 under the policy above (full hash, or sample of a large file)."""
    path = Path(path).resolve()
    key = _identity(path)
    known = _VERIFIED.get(key)
    if known is not None:
        return known
    memo = _read_memo()
    entry = memo.get(str(path))
    verdict = _sampled(path, entry)
    if verdict is None:
        verdict = Verification(hash_file(path, progress), "full")
        fresh = _entry(path, verdict.sha256)
        changed = entry is None or any(entry.get(k) != fresh[k] for k in _KEPT)
        if changed or fresh["size"] > FULL_HASH_MAX:  # a large file's full_at moves on
            memo[str(path)] = fresh
            _write_memo(memo)
    _VERIFIED[key] = verdict
    return verdict


def sha256_file(path: str | os.PathLike, progress: ProgressFn | None = None) -> str:
    """SHA-256 of a file (`check_file`'s digest)."""
    return check_file(path, progress).sha256


def verify_model(
    spec: ModelSpec | None, path: str | os.PathLike, progress: ProgressFn | None = None
) -> Verification:
    """Check a model file; a registry model's digest must be the registry's sha256.

    Args:
        spec: the registry entry, or None for a ``.gguf`` path (nothing to compare).
        path: the file.
        progress: called with (bytes done, bytes total) while hashing in full.

    Returns:
        The digest checked and how (`Verification`).

    Raises:
        ModelIntegrityError: the file's sha256 differs from the registry's (damaged or
            replaced file); the message names the file and the command that repairs it.
    """
    verdict = check_file(path, progress)
    if spec is not None and spec.sha256 and verdict.sha256 != spec.sha256.lower():
        raise ModelIntegrityError(
            f"{path}: sha256 {verdict.sha256[:16]}… does not match the registry's "
            f"{spec.sha256[:16]}… for {spec.name} (the file is damaged or was replaced); "
            f"run `disca models pull {spec.name} --force`"
        )
    return verdict


def verify_sha256(
    spec: ModelSpec, path: str | os.PathLike, progress: ProgressFn | None = None
) -> str:
    """`verify_model`'s digest (see there)."""
    return verify_model(spec, path, progress).sha256
