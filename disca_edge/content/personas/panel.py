"""Persona panels: the `Panel` and `Persona` model, parsing and validation, country lookup.

A panel is one TOML file per country (`personas/ISO3.toml`, format in `personas/README.md`).
It stores descriptor *levels*; the persona text is always rendered from them
(`render.render_persona`), never stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from ...errors import DiscaError, UnknownNameError
from ...paths import shipped_dir
from ...text import TextError, check_text
from .files import SCHEMA, PersonaFileError, read_toml
from .render import COHORTS, WVS_DIMENSIONS, render_persona

__all__ = [
    "PAPER20",
    "PROVENANCES",
    "Panel",
    "Persona",
    "list_panels",
    "load_file",
    "load_panel",
    "parse_countries",
    "resolve_country",
]

#: The 20 countries of the paper, in MULTITP.md §7 order.
PAPER20: tuple[str, ...] = (
    "USA", "GBR", "DEU", "ARG", "BRA", "MEX", "COL", "VNM", "MMR", "THA",
    "MYS", "IDN", "CHN", "JPN", "BGD", "IRN", "SRB", "ROU", "KGZ", "ETH",
)  # fmt: skip

#: Allowed `provenance` values (PERSONAS.md §2) and the sentence run metadata must carry.
PROVENANCES: dict[str, str] = {
    "authored-estimate": (
        "personas: authored estimates from published country aggregates, "
        "not computed from WVS microdata"
    ),
    "wvs7-microdata": "personas: computed from WVS-7 microdata supplied by the user",
    "paper-printed": (
        "personas: the four personas printed in the DISCA paper (arXiv 2605.10843, appendix)"
    ),
}


@dataclass(frozen=True)
class Persona:
    """One persona of a panel.

    Attributes:
        cohort: "young", "middle", "older" or "all".
        levels: level 1-4 per dimension (all 10 keys); None = dimension skipped.
        scores: normalised 0-1 score per dimension (all 10 keys); None = not known.
        estimated: True when the levels are estimates (the cohort shift rule), not measured.
        text: the rendered system prompt.
    """

    cohort: str
    levels: dict[str, int | None]
    scores: dict[str, float | None]
    estimated: bool
    text: str


@dataclass(frozen=True)
class Panel:
    """A country's persona panel.

    Attributes:
        iso3: ISO 3166-1 alpha-3 code, also the file name.
        iso2: alpha-2 code ("" when unknown).
        name: English short name ("Japan").
        native_name: the country's own name ("日本").
        country_name: the name as used in persona text ("the United States").
        language: the country's language code for MultiTP rendering (persona text is English).
        provenance: "authored-estimate" or "wvs7-microdata" (see `PROVENANCES`).
        personas: young, middle, older, all.
        path: the file it was loaded from.
        provenance_note: a sentence on where the levels come from.
        aliases: other English names accepted by `resolve_country`.
        source: the file's [source] table (citations, basis, borderline cells, counts).
    """

    iso3: str
    iso2: str
    name: str
    native_name: str
    country_name: str
    language: str
    provenance: str
    personas: tuple[Persona, ...]
    path: Path | None = None
    provenance_note: str = ""
    aliases: tuple[str, ...] = ()
    source: dict[str, Any] = field(default_factory=dict)

    def texts(self) -> list[str]:
        """The four persona system prompts in panel order."""
        return [persona.text for persona in self.personas]

    def persona(self, cohort: str) -> Persona:
        """The persona of one cohort."""
        for persona in self.personas:
            if persona.cohort == cohort:
                return persona
        raise KeyError(cohort)

    @property
    def provenance_statement(self) -> str:
        """The sentence run metadata and reports must carry (PERSONAS.md §2)."""
        return PROVENANCES[self.provenance]

    def sha256(self) -> str:
        """Hash of the rendered texts and levels, for run metadata."""
        payload = {
            "iso3": self.iso3,
            "country_name": self.country_name,
            "personas": [
                {"cohort": p.cohort, "levels": p.levels, "text": p.text} for p in self.personas
            ],
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: header fields, personas with texts, and the panel hash."""
        return {
            "iso3": self.iso3,
            "iso2": self.iso2,
            "name": self.name,
            "native_name": self.native_name,
            "country_name": self.country_name,
            "language": self.language,
            "aliases": list(self.aliases),
            "provenance": self.provenance,
            "provenance_note": self.provenance_note,
            "provenance_statement": self.provenance_statement,
            "path": str(self.path) if self.path else None,
            "sha256": self.sha256(),
            "source": self.source,
            "personas": [
                {
                    "cohort": p.cohort,
                    "estimated": p.estimated,
                    "levels": p.levels,
                    "scores": p.scores,
                    "text": p.text,
                }
                for p in self.personas
            ],
        }


def _default_dir(directory: Path | None) -> Path:
    return Path(directory) if directory is not None else shipped_dir() / "personas"


class _Invalid(Exception):
    """A problem in a panel file, without the path (`_parse_panel` adds it)."""


def _text_field(
    data: Mapping[str, Any], key: str, pattern: str | None = None, allow_empty: bool = False
) -> str:
    value = data.get(key)
    if value is None:
        raise _Invalid(f"missing field {key!r}")
    if not isinstance(value, str) or (not value.strip() and not allow_empty):
        raise _Invalid(f"field {key!r} must be a non-empty string, got {value!r}")
    if pattern and value and not re.fullmatch(pattern, value):
        raise _Invalid(f"field {key!r} has a bad value {value!r}")
    try:  # the text reaches prompts and terminals: no escape sequences, no surrogates
        check_text(value, f"field {key!r}")
    except TextError as exc:
        raise _Invalid(str(exc)) from None
    return value


def _header(path: Path, data: Mapping[str, Any]) -> dict[str, Any]:
    """The checked header fields of a panel file, as `Panel` keyword arguments."""
    schema = data.get("schema")
    if schema != SCHEMA:
        raise _Invalid(f"schema must be {SCHEMA!r}, got {schema!r}")
    iso3 = _text_field(data, "iso3", r"[A-Z]{3}")
    if path.stem != iso3:
        raise _Invalid(f"iso3 {iso3!r} does not match the file name (expected {iso3}.toml)")
    header = {
        "iso3": iso3,
        "iso2": _text_field(data, "iso2", r"[A-Z]{2}", allow_empty=True),
        "name": _text_field(data, "name"),
        "native_name": _text_field(data, "native_name"),
        "country_name": _text_field(data, "country_name"),
        "language": _text_field(data, "language", r"[a-z]{2,3}(-[A-Za-z0-9]+)*"),
        "provenance": _text_field(data, "provenance"),
    }
    if header["provenance"] not in PROVENANCES:
        raise _Invalid(
            f"provenance must be one of {sorted(PROVENANCES)}, got {header['provenance']!r}"
        )
    note = data.get("provenance_note", "")
    if not isinstance(note, str):
        raise _Invalid("provenance_note must be a string")
    _text_field({"provenance_note": note}, "provenance_note", allow_empty=True)
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise _Invalid("aliases must be a list of strings")
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise _Invalid("[source] must be a table")
    return header | {"provenance_note": note, "aliases": tuple(aliases), "source": source}


def _levels(where: str, levels: Any) -> dict[str, int | None]:
    if not isinstance(levels, dict):
        raise _Invalid(f"{where}: missing [personas.levels] table")
    unknown = sorted(set(levels) - set(WVS_DIMENSIONS))
    if unknown:
        raise _Invalid(f"{where}: unknown dimension {unknown[0]!r} in levels")
    parsed: dict[str, int | None] = {}
    for key in WVS_DIMENSIONS:
        if key not in levels:
            raise _Invalid(f"{where}: missing dimension {key!r} in levels")
        value = levels[key]
        if value == "skip":
            parsed[key] = None
        elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
            parsed[key] = value
        else:
            raise _Invalid(f'{where}: level of {key!r} must be 1-4 or "skip", got {value!r}')
    return parsed


def _scores(where: str, scores: Any) -> dict[str, float | None]:
    if not isinstance(scores, dict):
        raise _Invalid(f"{where}: scores must be a table")
    unknown = sorted(set(scores) - set(WVS_DIMENSIONS))
    if unknown:
        raise _Invalid(f"{where}: unknown dimension {unknown[0]!r} in scores")
    parsed: dict[str, float | None] = dict.fromkeys(WVS_DIMENSIONS)
    for key, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise _Invalid(f"{where}: score of {key!r} must be a number in 0-1, got {value!r}")
        parsed[key] = float(value)
    return parsed


def _personas(entries: Any, country_name: str) -> tuple[Persona, ...]:
    """The four checked personas, in `COHORTS` order."""
    if not isinstance(entries, list) or not entries:
        raise _Invalid("no [[personas]] tables")
    by_cohort: dict[str, Persona] = {}
    for index, entry in enumerate(entries):
        where = f"personas[{index}]"
        if not isinstance(entry, dict):
            raise _Invalid(f"{where} must be a table")
        cohort = entry.get("cohort")
        if cohort not in COHORTS:
            raise _Invalid(f"{where}: cohort must be one of {', '.join(COHORTS)}, got {cohort!r}")
        where = f"{where} ({cohort})"
        if cohort in by_cohort:
            raise _Invalid(f"{where}: cohort {cohort!r} appears twice")
        estimated = entry.get("estimated")
        if not isinstance(estimated, bool):
            raise _Invalid(f"{where}: 'estimated' must be true or false")
        levels = _levels(where, entry.get("levels"))
        by_cohort[cohort] = Persona(
            cohort=cohort,
            levels=levels,
            scores=_scores(where, entry.get("scores", {})),
            estimated=estimated,
            text=render_persona(cohort, levels, country_name),
        )
    missing = [c for c in COHORTS if c not in by_cohort]
    if missing:
        raise _Invalid(f"missing persona for cohort {missing[0]!r} (need {', '.join(COHORTS)})")
    return tuple(by_cohort[c] for c in COHORTS)


def _parse_panel(path: Path, data: Mapping[str, Any]) -> Panel:
    """Validate a parsed panel file; every problem is reported as 'path: what is wrong'."""
    try:
        header = _header(path, data)
        personas = _personas(data.get("personas"), header["country_name"])
    except _Invalid as exc:
        raise PersonaFileError(f"{path}: {exc}") from None
    return Panel(personas=personas, path=path, **header)


def load_file(path: Path) -> Panel:
    """Load and validate one panel file."""
    return _parse_panel(path, read_toml(path))


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise DiscaError(f"persona folder not found: {directory}")
    return sorted(directory.glob("*.toml"))


def _norm(text: str) -> str:
    """Matching key: case-, accent-, dot- and 'the '-insensitive."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = " ".join(text.replace(".", "").split())
    return text[4:] if text.startswith("the ") else text


def _name_index(directory: Path) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Map every accepted spelling to ISO3, leniently (a broken file is indexed by stem).

    Returns:
        (spelling -> ISO3, ISO3 -> English name, problems with unreadable files).
    """
    index: dict[str, str] = {}
    names: dict[str, str] = {}
    problems: list[str] = []
    for path in _files(directory):
        iso3 = path.stem.upper()
        names[iso3] = iso3
        index.setdefault(_norm(iso3), iso3)
        try:
            data = read_toml(path)
        except PersonaFileError as exc:
            problems.append(str(exc))
            continue
        spellings = [data.get("iso2"), data.get("name"), data.get("native_name")]
        aliases = data.get("aliases")
        spellings += [data.get("country_name"), *(aliases if isinstance(aliases, list) else [])]
        if isinstance(data.get("name"), str):
            names[iso3] = data["name"]
        for spelling in spellings:
            if isinstance(spelling, str) and spelling.strip():
                index.setdefault(_norm(spelling), iso3)
    return index, names, problems


def resolve_country(query: str, directory: Path | None = None) -> str:
    """Resolve a country given as ISO3, ISO2 or English (or native) name to its ISO3 code.

    Args:
        query: e.g. "JPN", "jp", "Japan", "the United States", "UK"; case-insensitive.
        directory: the persona folder (default: the shipped panels).

    Returns:
        The ISO3 code of a panel file in `directory`.

    Raises:
        UnknownNameError: no panel matches; the message lists close matches.
    """
    folder = _default_dir(directory)
    wanted = query.strip()
    if re.fullmatch(r"[A-Za-z]{3}", wanted) and (folder / f"{wanted.upper()}.toml").is_file():
        return wanted.upper()
    index, names, problems = _name_index(folder)
    key = _norm(wanted)
    if key in index:
        return index[key]
    close: list[str] = []
    for match in get_close_matches(key, list(index), n=6, cutoff=0.6):
        if index[match] not in close:
            close.append(index[match])
    if close:
        hint = "did you mean " + ", ".join(f"{c} ({names[c]})" for c in close[:3]) + "?"
    else:
        hint = f"known: {', '.join(sorted(names)) or 'none'} (in {folder})"
    message = f"unknown country {query!r}; {hint}"
    if problems:
        message += f" Note: {len(problems)} file(s) could not be read, e.g. {problems[0]}"
    raise UnknownNameError(message)


def parse_countries(text: str, directory: str | os.PathLike | None = None) -> tuple[str, ...]:
    """``paper20`` or a comma-separated list of ISO3/ISO2/names -> ISO3 codes (deduplicated).

    Names resolve against the persona folder `directory` (default: the shipped panels).

    Raises:
        UnknownNameError: a country without a persona panel.
        DiscaError: no country given.
    """
    out: list[str] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if part.lower() == "paper20":
            codes = PAPER20
        else:
            codes = (resolve_country(part, None if directory is None else Path(directory)),)
        out.extend(c for c in codes if c not in out)
    if not out:
        raise DiscaError("no countries given (use e.g. --countries USA,JPN or paper20)")
    return tuple(out)


def load_panel(query: str, directory: Path | None = None) -> Panel:
    """Load and validate one country's panel.

    Args:
        query: ISO3, ISO2 or name, as accepted by `resolve_country`.
        directory: the persona folder (default: ``shipped_dir() / "personas"``).

    Raises:
        UnknownNameError: no such country.
        PersonaFileError: the file is malformed ("path: what is wrong").
    """
    folder = _default_dir(directory)
    return load_file(folder / f"{resolve_country(query, folder)}.toml")


def list_panels(directory: Path | None = None) -> list[Panel]:
    """Load every panel in a folder: the paper's 20 first (MULTITP.md §7 order), then A-Z.

    Raises:
        PersonaFileError: a file is malformed.
    """
    panels = [load_file(path) for path in _files(_default_dir(directory))]
    order = {iso3: i for i, iso3 in enumerate(PAPER20)}
    return sorted(panels, key=lambda p: (order.get(p.iso3, len(order)), p.iso3))
