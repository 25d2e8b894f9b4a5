"""What disca-edge keeps in its cache folder, and clearing it.

Two kinds of re-creatable files grow there: pulled models (``models/NAME/``; hub models
are links into huggingface_hub's own cache, which keeps the bytes) and saved prefix KV
states (``kv/SHA/``: one folder per model sha256 prefix, written by ``disca ask`` and
``disca eval`` so later processes skip the persona prefixes). `entries` lists them,
`clear` deletes them. The remembered file hashes (``sha256.json``) go with the models, and
staging folders of killed pulls (``models/NAME/.pull-PID-XXXX``) with any clear.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..paths import cache_dir
from .integrity import forget_digests, remembered_digests
from .pull import clear_stale_staging
from .registry import load_registry

__all__ = ["KINDS", "CacheEntry", "clear", "entries", "select"]

KINDS = ("models", "kv")


@dataclass(frozen=True)
class CacheEntry:
    """One cache folder.

    Attributes:
        kind: ``models`` (a pulled model) or ``kv`` (one model's saved prefix KV states).
        name: the model name (``models``), or the model it belongs to when known, else
            the folder's sha256 prefix (``kv``).
        path: the folder.
        files: regular files in it (links not counted).
        size: their bytes (what deleting the folder frees).
        links: files that are links into another cache (hub models).
    """

    kind: str
    name: str
    path: Path
    files: int
    size: int
    links: int = 0

    def as_dict(self) -> dict:
        """A JSON-ready view."""
        return {
            "kind": self.kind,
            "name": self.name,
            "path": str(self.path),
            "files": self.files,
            "size": self.size,
            "links": self.links,
        }


def _measure(folder: Path) -> tuple[int, int, int]:
    files = size = links = 0
    for path in folder.rglob("*"):
        if path.is_symlink():
            links += 1
        elif path.is_file():
            files += 1
            size += path.stat().st_size
    return files, size, links


def _model_names_by_sha() -> dict[str, str]:
    """sha256[:32] -> model name, from the registry and the remembered hashes."""
    names: dict[str, str] = {}
    for path, digest in remembered_digests():
        names.setdefault(digest[:32], path.name)
    try:
        specs, _ = load_registry()
    except Exception:  # a broken user registry must not hide the cache
        specs = {}
    for spec in specs.values():
        if spec.sha256:
            names[spec.sha256[:32]] = spec.name
    return names


def entries() -> list[CacheEntry]:
    """Every model and KV-state folder in the cache, models first, each kind by name."""
    root = cache_dir()
    out = []
    for folder in sorted(p for p in (root / "models").glob("*") if p.is_dir()):
        out.append(CacheEntry("models", folder.name, folder, *_measure(folder)))
    names = _model_names_by_sha()
    for folder in sorted(p for p in (root / "kv").glob("*") if p.is_dir()):
        name = names.get(folder.name[:32], folder.name)
        out.append(CacheEntry("kv", name, folder, *_measure(folder)))
    return out


def select(kinds: Iterable[str] = KINDS, names: Iterable[str] = ()) -> list[CacheEntry]:
    """The entries of some kinds (``models``, ``kv``), all or only those named.

    A name matches a model name, or a KV folder's model name or sha256 folder name.
    """
    kinds, wanted = set(kinds), {n.lower() for n in names}
    return [
        e for e in entries()
        if e.kind in kinds and (not wanted or {e.name.lower(), e.path.name.lower()} & wanted)
    ]  # fmt: skip


def clear(selected: Iterable[CacheEntry]) -> list[CacheEntry]:
    """Delete the given cache folders (from `select`); returns what was deleted.

    Staging folders that killed pulls left in any model folder go too.
    """
    removed = []
    for entry in selected:
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry)
    if any(e.kind == "models" for e in removed):
        forget_digests()  # the remembered hashes go with the models
    for folder in (cache_dir() / "models").glob("*"):
        if folder.is_dir():
            clear_stale_staging(folder)
    return removed
