"""Panel files on disk: reading TOML with clear errors, writing panel data as TOML.

Reading uses `tomllib` (`tomli` on Python 3.10); writing uses `tomli_w`, so what is
written always loads back to the same values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from ...errors import DiscaError
from .render import WVS_DIMENSIONS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise ModuleNotFoundError(
            "disca-edge needs 'tomli' on Python 3.10: pip install tomli"
        ) from exc

__all__ = ["SCHEMA", "PersonaFileError", "panel_to_toml", "read_toml", "tomllib"]

SCHEMA = "disca-persona-panel/1"


class PersonaFileError(DiscaError):
    """A persona panel file is malformed; the message is 'path: what is wrong'."""


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a panel file; any problem is a `PersonaFileError` "path: what is wrong"."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PersonaFileError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise PersonaFileError(f"{path}: not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise PersonaFileError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _plain(value: Any, where: str) -> Any:
    """`value` as TOML-ready data: tuples as lists, None entries of tables left out."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot write {value!r} to TOML ({where})")
    if value is None or not isinstance(value, str | int | float | bool):
        raise TypeError(f"cannot write {type(value).__name__} to TOML ({where})")
    return value


def panel_to_toml(panel: Mapping[str, Any], comment: str = "") -> str:
    """Serialise panel data to TOML text in the shipped format.

    Args:
        panel: header fields (schema is added), an optional ``source`` mapping and
            ``personas``: a list of mappings with ``cohort``, ``estimated``, ``levels``
            (None written as "skip") and optional ``scores`` (None left out).
        comment: text written as ``#`` lines at the top.

    Returns:
        The file text; it loads back with `tomllib` to the same values.

    Raises:
        ValueError: a float is NaN or infinite.
        TypeError: a value has no TOML form.
    """
    header_keys = ("iso3", "iso2", "name", "native_name", "country_name", "language")
    document: dict[str, Any] = {"schema": SCHEMA}
    for key in (*header_keys, "aliases", "provenance", "provenance_note"):
        if panel.get(key) is not None:
            document[key] = panel[key]
    if panel.get("source"):
        document["source"] = panel["source"]
    personas = []
    for persona in panel["personas"]:
        levels = {k: persona["levels"].get(k) for k in WVS_DIMENSIONS}
        entry: dict[str, Any] = {
            "cohort": persona["cohort"],
            "estimated": bool(persona["estimated"]),
            "levels": {k: "skip" if v is None else int(v) for k, v in levels.items()},
        }
        scores = persona.get("scores") or {}
        known = {k: float(scores[k]) for k in WVS_DIMENSIONS if scores.get(k) is not None}
        if known:
            entry["scores"] = known
        personas.append(entry)
    document["personas"] = personas
    head = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines())
    return head + tomli_w.dumps(_plain(document, "panel"))
