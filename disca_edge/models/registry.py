"""The model registry: `models.toml` entries, shipped and the user's own, and where they live.

An entry names a GGUF and where it comes from: a PyPI wheel that carries it (downloaded,
never installed), a Hugging Face repo + file (pulled with ``huggingface_hub``), or a local
path. The user's `models.toml` (``disca models add`` / ``rm``) is layered over the shipped
one. Anything that takes ``--model`` also accepts a path to a ``.gguf`` file (`models.open`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from ..errors import DiscaError, UnknownNameError
from ..paths import atomic_write_text, cache_dir, config_dir, shipped_dir

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "MIN_N_CTX",
    "SOURCES",
    "ModelSpec",
    "RegistryError",
    "UnknownModelError",
    "default_model_name",
    "get_model",
    "is_pulled",
    "load_registry",
    "local_path",
    "remove_user_model",
    "save_user_model",
    "user_registry_file",
]

SOURCES = ("pypi", "hf", "path")


class UnknownModelError(UnknownNameError):
    """A model name that is neither in the registry nor a path to a .gguf file."""


class RegistryError(DiscaError):
    """`models.toml` is malformed."""


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


#: Smallest context a registry entry may ask for (as ``--n-ctx``): a DISCA panel prompt
#: is several hundred tokens, and llama.cpp aborts below its sequence count.
MIN_N_CTX = 512
_TEXT_FIELDS = {"description", "source", "filename", "repo", "file", "path", "revision",
                "chat_template"}  # fmt: skip
_LIST_FIELDS = ("packages", "members", "languages")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def _is_file_name(text: str) -> bool:
    return text not in ("", ".", "..") and "/" not in text and "\\" not in text


def _field_problem(key: str, value: Any) -> str | None:
    """What a registry field's value must be, when it is not (None: it is fine)."""
    if key in _LIST_FIELDS:
        strings = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        return None if strings else "a list of strings"
    if key == "filename" and not (isinstance(value, str) and _is_file_name(value)):
        return "a file name (no folder)"
    if key in _TEXT_FIELDS:
        return None if isinstance(value, str) else "text"
    whole = isinstance(value, int) and not isinstance(value, bool)
    if key == "n_ctx" and not (whole and value >= MIN_N_CTX):
        return f"an integer of at least {MIN_N_CTX} (tokens)"
    if key == "n_gpu_layers" and not (whole and value >= -1):
        return "an integer of at least -1 (-1 = all layers)"
    if key == "size" and not (whole and value > 0):
        return "a positive integer (bytes)"
    if key == "sha256" and not (isinstance(value, str) and _SHA256.fullmatch(value)):
        return "64 hexadecimal digits"
    return None


def _parse_entry(file: Path, name: str, entry: Any, origin: str) -> ModelSpec:
    """One ``[models.NAME]`` table as a spec; `origin` is "shipped" or "user"."""
    if not isinstance(entry, dict):
        raise RegistryError(f"{file}: [models.{name}] must be a table")
    if not _NAME.fullmatch(name):
        raise RegistryError(
            f"{file}: [models.{name}]: a model name is letters, digits and . _ + - "
            "(it names a cache folder)"
        )
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
    fields = {"description": "", **entry}
    for key, value in fields.items():
        problem = _field_problem(key, value)
        if problem:
            raise RegistryError(f"{file}: [models.{name}] {key} must be {problem}, got {value!r}")
    for key in _LIST_FIELDS:
        fields[key] = tuple(fields.get(key, ()))
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
