"""Where disca-edge keeps things: user cache/data dirs and the shipped resources."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

__all__ = [
    "home",
    "cache_dir",
    "data_dir",
    "shipped_dir",
    "atomic_write_bytes",
    "atomic_write_text",
]

_APP = "disca-edge"


def home() -> Path | None:
    """The `DISCA_HOME` override, if set (tests and portable installs)."""
    value = os.environ.get("DISCA_HOME")
    return Path(value) if value else None


def cache_dir() -> Path:
    """Re-creatable files: pulled models, persona KV states."""
    root = home()
    path = root / "cache" if root else Path(platformdirs.user_cache_dir(_APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Downloaded third-party data (Moral Machine targets)."""
    root = home()
    path = root / "data" if root else Path(platformdirs.user_data_dir(_APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def shipped_dir() -> Path:
    """Folder holding `models.toml` and `personas/`.

    Inside a built wheel they live in `disca_edge/_shipped/`; in a source checkout
    (editable install, `python cli.py`) they sit at the repository root.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "_shipped"
    return packaged if packaged.is_dir() else here.parent


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of `atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))
