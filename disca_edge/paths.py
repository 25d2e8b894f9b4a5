"""Where disca-edge keeps things: user cache/data dirs and the shipped resources."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import platformdirs

from .errors import DiscaError

__all__ = [
    "home",
    "cache_dir",
    "config_dir",
    "data_dir",
    "shipped_dir",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable_dir",
    "write_error",
    "PlaceError",
    "MIN_FREE_BYTES",
]

#: Below this much free space a folder counts as full (a results.json, a KV state fit).
MIN_FREE_BYTES = 16 << 20

_APP = "disca-edge"


def home() -> Path | None:
    """The `DISCA_HOME` override, if set (tests and portable installs)."""
    value = os.environ.get("DISCA_HOME")
    return Path(value) if value else None


class PlaceError(DiscaError):
    """A place the tool has to write to is unusable: read-only, not a folder, or full."""


def cache_dir(*, ignore_home: bool = False) -> Path:
    """Re-creatable files: pulled models, persona KV states (created when first written).

    Not created here, so a broken `DISCA_HOME` fails only the commands that write.
    With `ignore_home`, the platform's cache folder, as if `DISCA_HOME` were not set.
    """
    root = None if ignore_home else home()
    return root / "cache" if root else Path(platformdirs.user_cache_dir(_APP))


def config_dir() -> Path:
    """The user's settings: their own `models.toml`, layered over the shipped one."""
    root = home()
    return root / "config" if root else Path(platformdirs.user_config_dir(_APP))


def data_dir() -> Path:
    """Downloaded third-party data (Moral Machine targets); created when first written."""
    root = home()
    return root / "data" if root else Path(platformdirs.user_data_dir(_APP))


_REASONS = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "read-only (permission denied)",
    errno.EPERM: "read-only (operation not permitted)",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is full",
    errno.ENOTDIR: "not a directory",
    errno.ENOENT: "no files can be created there",
}


def check_writable_dir(path: str | os.PathLike, *, min_free: int = MIN_FREE_BYTES) -> Path:
    """Check, without creating anything, that `path` is or can become a writable folder.

    Walks up to the nearest existing folder, writes and removes an empty probe file in
    it, and checks its free space. Call it before a model loads or a file is read, so
    a bad ``--out`` costs nothing.

    Raises:
        PlaceError: one line naming `path` and why: a file is in the way (not a
            directory), read-only, or full (less than `min_free` bytes free).
    """
    path = Path(path)
    probe = path
    while not probe.exists() and not probe.is_symlink():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "it is a file" if probe == path else f"{probe} is a file"
        raise PlaceError(f"{path}: cannot write there: not a directory ({where})")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".disca-probe-")
        os.close(fd)
        os.unlink(tmp)
        free = shutil.disk_usage(probe).free
    except OSError as exc:
        reason = _REASONS.get(exc.errno or 0, exc.strerror or str(exc))
        where = "" if probe == path else f" ({probe})"
        raise PlaceError(f"{path}: cannot write there: {reason}{where}") from None
    if free < min_free:
        raise PlaceError(
            f"{path}: cannot write there: the disk is full ({free / 2**20:.1f} MiB free)"
        )
    return path


def shipped_dir() -> Path:
    """Folder holding `models.toml` and `personas/`.

    Inside a built wheel they live in `disca_edge/_shipped/`; in a source checkout
    (editable install, `python cli.py`) they sit at the repository root.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "_shipped"
    return packaged if packaged.is_dir() else here.parent


def write_error(path: str | os.PathLike, exc: OSError) -> PlaceError:
    """A failed write as one line naming `path` and why (the disk is full, read-only, ...)."""
    reason = _REASONS.get(exc.errno or 0, exc.strerror or str(exc))
    return PlaceError(f"{path}: cannot write there: {reason}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync, then rename.

    Raises:
        PlaceError: the write failed (the disk or quota is full, the folder is read-only
            or not a folder); the temp file is removed and `path` is as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of `atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))
