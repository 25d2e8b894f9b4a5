"""Model integrity: a file's sha256, remembered per (path, size, mtime) in the cache.

The memo (``sha256.json`` in the cache folder) makes every use after the first cost a
`stat`; `disca cache clear` drops it with the models.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from ..errors import DiscaError
from ..paths import atomic_write_text, cache_dir
from .registry import ModelSpec

__all__ = [
    "ModelIntegrityError",
    "ProgressFn",
    "forget_digests",
    "hash_file",
    "remember_digest",
    "remembered_digests",
    "sha256_file",
    "verify_sha256",
]

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total)
_CHUNK = 1 << 20
_MEMO = "sha256.json"


class ModelIntegrityError(DiscaError):
    """A pulled registry model whose sha256 is not the registry's."""


def _memo_key(path: Path) -> str:
    stat = path.stat()
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


def _read_memo() -> dict:
    try:
        memo = json.loads((cache_dir() / _MEMO).read_text())
    except (OSError, ValueError, DiscaError):
        return {}
    return memo if isinstance(memo, dict) else {}


def remembered_digests() -> list[tuple[Path, str]]:
    """Every remembered (file path, digest), whatever size or mtime it was hashed at."""
    return [(Path(str(key).split("|")[0]), str(digest)) for key, digest in _read_memo().items()]


def forget_digests() -> None:
    """Drop the memo (the models it described were deleted); hashes are re-made on use."""
    (cache_dir() / _MEMO).unlink(missing_ok=True)


def remember_digest(path: Path, digest: str) -> None:
    """Record a file's digest under (path, size, mtime); best effort (read-only cache: skip)."""
    try:
        memo = _read_memo()
        memo[_memo_key(path)] = digest
        atomic_write_text(cache_dir() / _MEMO, json.dumps(memo, indent=0))
    except (OSError, DiscaError):
        pass


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


def sha256_file(path: str | os.PathLike, progress: ProgressFn | None = None) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) in the cache."""
    path = Path(path).resolve()
    cached = _read_memo().get(_memo_key(path))
    if isinstance(cached, str):
        return cached
    digest = hash_file(path, progress)
    remember_digest(path, digest)
    return digest


def verify_sha256(
    spec: ModelSpec, path: str | os.PathLike, progress: ProgressFn | None = None
) -> str:
    """Check a registry model's file against the registry's sha256; returns the digest.

    The first use of a file hashes it (about 0.3 s per 100 MB); the verdict is then
    remembered by path, size and mtime, so later uses cost a `stat`.

    Raises:
        ModelIntegrityError: the file's sha256 differs from the registry's (damaged or
            replaced file); the message names the file and the command that repairs it.
    """
    digest = sha256_file(path, progress)
    if spec.sha256 and digest != spec.sha256.lower():
        raise ModelIntegrityError(
            f"{path}: sha256 {digest[:16]}… does not match the registry's {spec.sha256[:16]}… "
            f"for {spec.name} (the file is damaged or was replaced); "
            f"run `disca models pull {spec.name} --force`"
        )
    return digest
