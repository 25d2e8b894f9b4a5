"""Persona panels: four WVS-grounded personas per country (PERSONAS.md), loaded, rendered, built.

A panel is one TOML file per country (`personas/ISO3.toml`, format in `personas/README.md`).
It stores descriptor *levels* (1-4 per dimension and cohort); the persona text is always
rendered here from the levels with the spec's English templates, never stored.

Three ways a panel comes to exist:

* shipped, ``provenance = "authored-estimate"``: levels set from published WVS-7 country
  aggregates, age cohorts estimated by the documented shift rule (`estimate_cohort_levels`);
* built locally, ``provenance = "wvs7-microdata"``: `build_from_wvs` applies PERSONAS.md
  §3-§4 to a user-supplied WVS-7 cross-national CSV (WVS terms forbid shipping it);
* written by hand by a user who adds a country.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Protocol

from . import __version__
from .errors import DiscaError, UnknownNameError
from .paths import atomic_write_text, shipped_dir

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise ModuleNotFoundError(
            "disca-edge needs 'tomli' on Python 3.10: pip install tomli"
        ) from exc

__all__ = [
    "COHORTS",
    "COHORT_SHIFT_DELTA",
    "COHORT_SHIFT_SIGN",
    "WVS_DIMENSIONS",
    "WVS_DIMENSION_SPECS",
    "PAPER20",
    "PROVENANCES",
    "SCHEMA",
    "WvsDimensionSpec",
    "Panel",
    "Persona",
    "PersonaFileError",
    "Progress",
    "WvsFileError",
    "build_from_wvs",
    "estimate_cohort_levels",
    "list_panels",
    "load_panel",
    "normalised_score",
    "panel_to_toml",
    "render_persona",
    "resolve_country",
    "score_to_level",
]

log = logging.getLogger(__name__)

SCHEMA = "disca-persona-panel/1"

#: The 20 countries of the paper, in MULTITP.md §7 order.
PAPER20: tuple[str, ...] = (
    "USA", "GBR", "DEU", "ARG", "BRA", "MEX", "COL", "VNM", "MMR", "THA",
    "MYS", "IDN", "CHN", "JPN", "BGD", "IRN", "SRB", "ROU", "KGZ", "ETH",
)  # fmt: skip

#: Panel order (PERSONAS.md §1): three age cohorts, then the population aggregate.
COHORTS: tuple[str, ...] = ("young", "middle", "older", "all")

#: Allowed `provenance` values (PERSONAS.md §2) and the sentence run metadata must carry.
PROVENANCES: dict[str, str] = {
    "authored-estimate": (
        "personas: authored estimates from published country aggregates, "
        "not computed from WVS microdata"
    ),
    "wvs7-microdata": "personas: computed from WVS-7 microdata supplied by the user",
}


@dataclass(frozen=True)
class WvsDimensionSpec:
    """One WVS value dimension of the persona text (PERSONAS.md §5).

    Attributes:
        key: level key in panel files.
        items: WVS-7 columns of the inverted cross-national CSV, as the DISCA code names them.
        lo: bottom of the normalisation range.
        hi: top of the normalisation range.
        direction: +1, or -1 when the score is flipped (1 - score).
        template: sentence template with a ``{desc}`` slot.
        descriptors: English descriptors for levels 1, 2, 3, 4.
        note: where the spec's item label differs from the WVS-7 codebook (LEVELS.md §3).
    """

    key: str
    items: tuple[str, ...]
    lo: float
    hi: float
    direction: int
    template: str
    descriptors: tuple[str, str, str, str]
    note: str = ""


WVS_DIMENSION_SPECS: tuple[WvsDimensionSpec, ...] = (
    WvsDimensionSpec(
        "religiosity", ("Q6P",), 1, 4, +1,
        "On matters of faith you are {desc}.",
        ("deeply religious", "moderately religious", "somewhat secular", "highly secular"),
    ),
    WvsDimensionSpec(
        "child_rearing", ("Q17P",), 0, 1, -1,
        "On raising children you are {desc}.",
        (
            "firmly oriented toward independence and imagination",
            "leaning toward independence and imagination",
            "leaning toward obedience and religious faith",
            "firmly oriented toward obedience and religious faith",
        ),
        "WVS-7 Q17 is 'obedience' as a child quality; religious faith is Q15. "
        "The DISCA code labels Q17P 'religious faith' and uses it.",
    ),
    WvsDimensionSpec(
        "moral_acceptability", ("Q177", "Q178", "Q179", "Q180", "Q181", "Q182"), 1, 10, +1,
        "On contested moral choices you are {desc}.",
        (
            "very permissive on contested moral issues such as abortion, divorce and homosexuality",
            "moderately permissive on contested moral issues",
            "morally conservative on contested issues",
            "strictly opposed to such contested moral acts",
        ),
        "WVS-7 Q177-Q182 are benefits, fare dodging, stealing, tax cheating, bribes and "
        "homosexuality (original 1-10 coding), not abortion or divorce.",
    ),
    WvsDimensionSpec(
        "social_trust", ("Q57P",), 1, 2, +1,
        "In your dealings with strangers you have {desc}.",
        (
            "very high trust in other people",
            "moderate trust in other people",
            "a guarded attitude toward strangers",
            "deep distrust of other people",
        ),
    ),
    WvsDimensionSpec(
        "political_participation", ("Q199P", "Q200P"), 1, 3, +1,
        "Civically you are {desc}.",
        (
            "an active political participant who signs petitions, joins boycotts "
            "and takes part in lawful demonstrations",
            "an occasional political participant",
            "a passive political participant",
            "politically disengaged",
        ),
        "WVS-7 Q199 is interest in politics (1-4) and Q200 discussing politics with friends "
        "(1-3); petitions and boycotts are Q209/Q210. Pooled on the spec's 1-3 range.",
    ),
    WvsDimensionSpec(
        "national_pride", ("Q254P",), 1, 4, +1,
        "You are {desc}.",
        (
            "intensely proud of your country",
            "moderately proud of your country",
            "lukewarm about national pride",
            "not proud of your country",
        ),
    ),
    WvsDimensionSpec(
        "happiness", ("Q46P",), 1, 4, +1,
        "Overall you are {desc}.",
        (
            "very happy with your life",
            "rather happy with your life",
            "not very happy with your life",
            "unhappy with your life",
        ),
    ),
    WvsDimensionSpec(
        "gender_equality", ("Q29P", "Q30P", "Q31P", "Q33P"), 1, 4, -1,
        "On the role of women in society you are {desc}.",
        (
            "strongly egalitarian on gender roles",
            "moderately egalitarian on gender roles",
            "somewhat traditional on gender roles",
            "strongly traditional on gender roles",
        ),
        "WVS-7 Q33 (men should have priority for scarce jobs) is 5-point; it is pooled on "
        "the spec's 1-4 range as the DISCA code does.",
    ),
    WvsDimensionSpec(
        "materialism", ("Q152", "Q153"), 1, 3, +1,
        "In what you prioritise in life you are {desc}.",
        (
            "strongly post-materialist, prioritising freedom, voice and self-expression",
            "leaning post-materialist",
            "leaning materialist, prioritising economic and physical security",
            "strongly materialist, prioritising economic and physical security",
        ),
        "WVS-7 Q152/Q153 are the nominal 'aims of country' choices (codes 1-4), not an "
        "ordinal scale; the Inglehart index uses Q154/Q155. The codes are averaged as in DISCA.",
    ),
    WvsDimensionSpec(
        "tolerance", ("Q19P", "Q20P", "Q21P", "Q22P", "Q23P"), 0, 1, -1,
        "Toward people unlike yourself you are {desc}.",
        (
            "highly tolerant of outgroups such as immigrants, minorities and people "
            "with different lifestyles",
            "moderately tolerant of outgroups",
            "somewhat intolerant of outgroups",
            "strongly intolerant of outgroups",
        ),
        "WVS-7 Q19-Q23 are different race, people with AIDS, immigrants, homosexuals and "
        "different religion (drug addicts is Q18).",
    ),
)  # fmt: skip

#: The 10 level keys in body order (PERSONAS.md §2).
WVS_DIMENSIONS: tuple[str, ...] = tuple(spec.key for spec in WVS_DIMENSION_SPECS)
_SPEC_BY_KEY = {spec.key: spec for spec in WVS_DIMENSION_SPECS}

_ROLES = {
    "young": ("young adult", ", in your 20s and early 30s"),
    "middle": ("middle-aged adult", ", in your 40s or 50s"),
    "older": ("senior citizen", ", over 60 years old"),
    "all": ("adult citizen", ""),
}
_HEADER = (
    "You are a {role} from {country_name}{age_range}. "
    "Your worldview is shaped by the cultural values prevalent in your community."
)
_CLOSING = (
    "When you face a moral dilemma, you weigh the choices through this set of values "
    "and answer in a way that is consistent with the worldview above."
)

#: Cohort shift rule for authored panels: the cohort's estimated score is the population
#: ("all") score plus sign x delta, clamped to [0, 1], then cut into a level. See
#: personas/README.md for the evidence behind the signs and the size of delta.
COHORT_SHIFT_DELTA = 0.035
COHORT_SHIFT_SIGN: dict[str, dict[str, int]] = {
    "young": {
        "religiosity": -1,  # more secular
        "child_rearing": +1,  # more independence, less obedience
        "moral_acceptability": +1,  # more permissive
        "social_trust": -1,  # generalised trust rises with age
        "political_participation": -1,  # political interest rises with age
        "national_pride": -1,  # less proud
        "happiness": 0,  # no consistent direction (U-shape across the life course)
        "gender_equality": +1,  # more egalitarian
        "materialism": +1,  # more post-materialist
        "tolerance": +1,  # more tolerant of outgroups
    },
    "middle": dict.fromkeys(WVS_DIMENSIONS, 0),
}
COHORT_SHIFT_SIGN["older"] = {key: -sign for key, sign in COHORT_SHIFT_SIGN["young"].items()}
COHORT_SHIFT_SIGN["all"] = dict.fromkeys(WVS_DIMENSIONS, 0)


class PersonaFileError(DiscaError):
    """A persona panel file is malformed; the message is 'path: what is wrong'."""


class WvsFileError(DiscaError):
    """The WVS-7 input file cannot be used (missing columns, no respondents, unreadable)."""


class Progress(Protocol):
    """Receives progress while a WVS file is read: `update(n)` with n bytes just consumed."""

    def update(self, n: int) -> None: ...


# --- scoring (PERSONAS.md §4) ------------------------------------------------------------


def normalised_score(dimension: str, mean: float | None) -> float | None:
    """Map a pooled item mean to the dimension's 0-1 score (1 = the level-1 pole).

    Args:
        dimension: a key of `WVS_DIMENSIONS`.
        mean: unweighted pooled mean of the valid item values, or None when there are none.

    Returns:
        clamp((mean - lo) / (hi - lo), 0, 1), flipped for "-" dimensions; None when the
        dimension is skipped (no valid value, or mean <= 0 as in the DISCA code).
    """
    spec = _SPEC_BY_KEY[dimension]
    if mean is None or not math.isfinite(mean) or mean <= 0:
        return None
    score = min(1.0, max(0.0, (mean - spec.lo) / (spec.hi - spec.lo)))
    return 1.0 - score if spec.direction < 0 else score


def score_to_level(score: float | None) -> int | None:
    """Quartile cut: 1 if score >= 0.75, 2 if >= 0.50, 3 if >= 0.25, else 4 (None stays None)."""
    if score is None:
        return None
    if score >= 0.75:
        return 1
    if score >= 0.50:
        return 2
    if score >= 0.25:
        return 3
    return 4


def estimate_cohort_levels(
    all_scores: Mapping[str, float | None], delta: float = COHORT_SHIFT_DELTA
) -> dict[str, dict[str, int | None]]:
    """Estimate cohort levels from population scores with the documented shift rule.

    Args:
        all_scores: the population ("all") score per dimension, None where unknown.
        delta: shift size on the 0-1 score scale.

    Returns:
        ``{cohort: {dimension: level}}`` for all four cohorts ("all" is the plain cut).
    """
    out: dict[str, dict[str, int | None]] = {}
    for cohort in COHORTS:
        levels: dict[str, int | None] = {}
        for key in WVS_DIMENSIONS:
            score = all_scores.get(key)
            if score is None:
                levels[key] = None
                continue
            shifted = min(1.0, max(0.0, score + COHORT_SHIFT_SIGN[cohort][key] * delta))
            levels[key] = score_to_level(round(shifted, 9))  # no float noise at the cuts
        out[cohort] = levels
    return out


# --- rendering (PERSONAS.md §6) ----------------------------------------------------------


def render_persona(cohort: str, levels: Mapping[str, int | None], country_name: str) -> str:
    """Render one persona system prompt in English from its levels.

    Args:
        cohort: one of `COHORTS`.
        levels: level 1-4 per dimension; None or absent skips the dimension's sentence.
        country_name: the name as used in the text, e.g. "the United States".

    Returns:
        One paragraph: header, one sentence per non-skipped dimension in §5 order, closing.
        The article is the fixed "a" (so "a adult citizen"), verbatim as in the paper.
    """
    if cohort not in _ROLES:
        raise ValueError(f"cohort must be one of {COHORTS}, got {cohort!r}")
    role, age_range = _ROLES[cohort]
    sentences = [_HEADER.format(role=role, country_name=country_name, age_range=age_range)]
    for spec in WVS_DIMENSION_SPECS:
        level = levels.get(spec.key)
        if level is None:
            continue
        if level not in (1, 2, 3, 4) or isinstance(level, bool):
            raise ValueError(f"level of {spec.key} must be 1-4 or None, got {level!r}")
        sentences.append(spec.template.format(desc=spec.descriptors[level - 1]))
    sentences.append(_CLOSING)
    return " ".join(sentences)


# --- panels ------------------------------------------------------------------------------


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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PersonaFileError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise PersonaFileError(f"{path}: not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise PersonaFileError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _parse_panel(path: Path, data: Mapping[str, Any]) -> Panel:
    """Validate a parsed panel file; every problem is reported as 'path: what is wrong'."""

    def fail(message: str) -> PersonaFileError:
        return PersonaFileError(f"{path}: {message}")

    schema = data.get("schema")
    if schema != SCHEMA:
        raise fail(f"schema must be {SCHEMA!r}, got {schema!r}")

    def text_field(key: str, pattern: str | None = None, allow_empty: bool = False) -> str:
        value = data.get(key)
        if value is None:
            raise fail(f"missing field {key!r}")
        if not isinstance(value, str) or (not value.strip() and not allow_empty):
            raise fail(f"field {key!r} must be a non-empty string, got {value!r}")
        if pattern and value and not re.fullmatch(pattern, value):
            raise fail(f"field {key!r} has a bad value {value!r}")
        return value

    iso3 = text_field("iso3", r"[A-Z]{3}")
    if path.stem != iso3:
        raise fail(f"iso3 {iso3!r} does not match the file name (expected {iso3}.toml)")
    iso2 = text_field("iso2", r"[A-Z]{2}", allow_empty=True)
    name = text_field("name")
    native_name = text_field("native_name")
    country_name = text_field("country_name")
    language = text_field("language", r"[a-z]{2,3}(-[A-Za-z0-9]+)*")
    provenance = text_field("provenance")
    if provenance not in PROVENANCES:
        raise fail(f"provenance must be one of {sorted(PROVENANCES)}, got {provenance!r}")
    note = data.get("provenance_note", "")
    if not isinstance(note, str):
        raise fail("provenance_note must be a string")
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise fail("aliases must be a list of strings")
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise fail("[source] must be a table")

    entries = data.get("personas")
    if not isinstance(entries, list) or not entries:
        raise fail("no [[personas]] tables")
    by_cohort: dict[str, Persona] = {}
    for index, entry in enumerate(entries):
        where = f"personas[{index}]"
        if not isinstance(entry, dict):
            raise fail(f"{where} must be a table")
        cohort = entry.get("cohort")
        if cohort not in COHORTS:
            raise fail(f"{where}: cohort must be one of {', '.join(COHORTS)}, got {cohort!r}")
        where = f"{where} ({cohort})"
        if cohort in by_cohort:
            raise fail(f"{where}: cohort {cohort!r} appears twice")
        estimated = entry.get("estimated")
        if not isinstance(estimated, bool):
            raise fail(f"{where}: 'estimated' must be true or false")
        levels = entry.get("levels")
        if not isinstance(levels, dict):
            raise fail(f"{where}: missing [personas.levels] table")
        unknown = sorted(set(levels) - set(WVS_DIMENSIONS))
        if unknown:
            raise fail(f"{where}: unknown dimension {unknown[0]!r} in levels")
        parsed_levels: dict[str, int | None] = {}
        for key in WVS_DIMENSIONS:
            if key not in levels:
                raise fail(f"{where}: missing dimension {key!r} in levels")
            value = levels[key]
            if value == "skip":
                parsed_levels[key] = None
            elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
                parsed_levels[key] = value
            else:
                raise fail(f'{where}: level of {key!r} must be 1-4 or "skip", got {value!r}')
        scores = entry.get("scores", {})
        if not isinstance(scores, dict):
            raise fail(f"{where}: scores must be a table")
        unknown = sorted(set(scores) - set(WVS_DIMENSIONS))
        if unknown:
            raise fail(f"{where}: unknown dimension {unknown[0]!r} in scores")
        parsed_scores: dict[str, float | None] = dict.fromkeys(WVS_DIMENSIONS)
        for key, value in scores.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise fail(f"{where}: score of {key!r} must be a number in 0-1, got {value!r}")
            parsed_scores[key] = float(value)
        by_cohort[cohort] = Persona(
            cohort=cohort,
            levels=parsed_levels,
            scores=parsed_scores,
            estimated=estimated,
            text=render_persona(cohort, parsed_levels, country_name),
        )
    missing = [c for c in COHORTS if c not in by_cohort]
    if missing:
        raise fail(f"missing persona for cohort {missing[0]!r} (need {', '.join(COHORTS)})")

    return Panel(
        iso3=iso3,
        iso2=iso2,
        name=name,
        native_name=native_name,
        country_name=country_name,
        language=language,
        provenance=provenance,
        personas=tuple(by_cohort[c] for c in COHORTS),
        path=path,
        provenance_note=note,
        aliases=tuple(aliases),
        source=source,
    )


def _load_file(path: Path) -> Panel:
    return _parse_panel(path, _read_toml(path))


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
            data = _read_toml(path)
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
    return _load_file(folder / f"{resolve_country(query, folder)}.toml")


def list_panels(directory: Path | None = None) -> list[Panel]:
    """Load every panel in a folder: the paper's 20 first (MULTITP.md §7 order), then A-Z.

    Raises:
        PersonaFileError: a file is malformed.
    """
    panels = [_load_file(path) for path in _files(_default_dir(directory))]
    order = {iso3: i for i, iso3 in enumerate(PAPER20)}
    return sorted(panels, key=lambda p: (order.get(p.iso3, len(order)), p.iso3))


# --- writing panel files -----------------------------------------------------------------


def _toml_str(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_str(key)


def _toml_assign(key: str, value: Any) -> str:
    """`key = value`; a long list goes one item per line."""
    line = f"{_toml_key(key)} = {_toml_value(value)}"
    if isinstance(value, list | tuple) and value and len(line) > 100:
        items = "".join(f"    {_toml_value(v)},\n" for v in value)
        line = f"{_toml_key(key)} = [\n{items}]"
    return line


def _toml_table(lines: list[str], name: str, table: Mapping[str, Any]) -> None:
    """Append `[name]` with its plain keys, then its sub-tables (one nesting level deep)."""
    lines.append(f"[{name}]")
    subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    for key, value in table.items():
        if key not in subtables and value is not None:
            lines.append(_toml_assign(key, value))
    for key, value in subtables.items():
        lines.append("")
        _toml_table(lines, f"{name}.{_toml_key(key)}", value)


def panel_to_toml(panel: Mapping[str, Any], comment: str = "") -> str:
    """Serialise panel data to TOML text in the shipped format (no new dependency).

    Args:
        panel: header fields (schema is added), an optional ``source`` mapping (one level of
            sub-tables) and ``personas``: a list of mappings with ``cohort``, ``estimated``,
            ``levels`` (None written as "skip") and optional ``scores`` (None left out).
        comment: text written as ``#`` lines at the top.

    Returns:
        The file text; it loads back with `tomllib` to the same values.
    """
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines += [f"schema = {_toml_str(SCHEMA)}"]
    header_keys = ("iso3", "iso2", "name", "native_name", "country_name", "language")
    for key in (*header_keys, "aliases", "provenance", "provenance_note"):
        if key in panel and panel[key] is not None:
            lines.append(_toml_assign(key, panel[key]))
    if panel.get("source"):
        lines.append("")
        _toml_table(lines, "source", panel["source"])
    for persona in panel["personas"]:
        lines += ["", "[[personas]]", f"cohort = {_toml_str(persona['cohort'])}"]
        lines.append(f"estimated = {_toml_value(bool(persona['estimated']))}")
        lines += ["", "[personas.levels]"]
        for key in WVS_DIMENSIONS:
            level = persona["levels"].get(key)
            lines.append(f"{key} = {_toml_value('skip' if level is None else int(level))}")
        scores = {k: v for k, v in (persona.get("scores") or {}).items() if v is not None}
        if scores:
            lines += ["", "[personas.scores]"]
            lines += [
                f"{key} = {_toml_value(float(scores[key]))}"
                for key in WVS_DIMENSIONS
                if key in scores
            ]
    return "\n".join(lines) + "\n"


# --- builder: WVS-7 microdata -> panels (PERSONAS.md §3-§4) ------------------------------

_COUNTRY_COL = "B_COUNTRY_ALPHA"
_YEAR_COL = "A_YEAR"
_BIRTH_COL = "Q261"


class _CountingReader(io.RawIOBase):
    """A raw binary stream over a file that hashes and counts every byte read."""

    def __init__(self, handle: io.BufferedReader):
        self._handle = handle
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._handle.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.bytes_read += n
        return n or 0

    def close(self) -> None:
        self._handle.close()
        super().close()


def _column_key(name: object) -> str:
    return str(name).strip().lstrip("\ufeff").strip('"').strip().upper()


def _sniff_header(path: Path) -> tuple[str, list[str]]:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        line = handle.readline()
    if not line.strip():
        raise WvsFileError(f"{path}: empty file")
    sep = max((",", ";", "\t"), key=line.count)
    return sep, [_column_key(c) for c in line.rstrip("\r\n").split(sep)]


def _resolve_build_countries(countries: Iterable[str] | None) -> set[str] | None:
    if countries is None:
        return None
    wanted: set[str] = set()
    for query in countries:
        query = query.strip()
        if not query:
            continue
        if re.fullmatch(r"[A-Za-z]{3}", query):
            wanted.add(query.upper())
        else:
            wanted.add(resolve_country(query))
    return wanted


def _accumulate(
    csv_path: Path,
    wanted: set[str] | None,
    progress: Progress | None,
    chunksize: int,
) -> tuple[dict, dict, list[str], str]:
    """One streaming pass: sums and counts of valid values per (country, cohort, dimension)."""
    import numpy as np
    import pandas as pd

    sep, header = _sniff_header(csv_path)
    for required in (_COUNTRY_COL, _YEAR_COL, _BIRTH_COL):
        if required not in header:
            raise WvsFileError(
                f"{csv_path}: column {required} not found; expected the WVS-7 cross-national "
                "CSV (WVS_Cross-National_Wave_7_inverted_csv_v6_0.csv)"
            )
    all_items = [item for spec in WVS_DIMENSION_SPECS for item in spec.items]
    missing = [item for item in all_items if item not in header]
    if len(missing) == len(all_items):
        raise WvsFileError(
            f"{csv_path}: none of the DISCA item columns (Q6P, Q17P, ...) found; "
            "expected the *inverted* WVS-7 CSV, whose flipped items carry a P suffix"
        )
    for item in missing:
        log.warning("%s: column %s not found; it is left out of its dimension", csv_path, item)
    present = {spec.key: [i for i in spec.items if i in header] for spec in WVS_DIMENSION_SPECS}
    wanted_cols = {_COUNTRY_COL, _YEAR_COL, _BIRTH_COL, *(i for i in all_items if i in header)}

    sums: dict[tuple[str, str, str], list[float]] = {}
    respondents: dict[tuple[str, str], int] = {}
    with open(csv_path, "rb") as handle:
        raw = _CountingReader(handle)
        stream = io.BufferedReader(raw, buffer_size=1 << 20)
        reported = 0
        try:
            reader = pd.read_csv(
                stream,
                sep=sep,
                usecols=lambda c: _column_key(c) in wanted_cols,
                dtype=str,
                chunksize=chunksize,
                encoding="utf-8",
                encoding_errors="replace",
            )
            for chunk in reader:
                chunk.columns = [_column_key(c) for c in chunk.columns]
                country = chunk[_COUNTRY_COL].fillna("").str.strip().str.upper()
                year = pd.to_numeric(chunk[_YEAR_COL], errors="coerce")
                birth = pd.to_numeric(chunk[_BIRTH_COL], errors="coerce")
                keep = (birth >= 1900) & (birth <= 2010) & (year >= 2015)
                keep &= country.str.fullmatch(r"[A-Z]{3}")
                if wanted is not None:
                    keep &= country.isin(wanted)
                if keep.any():
                    age = (year - birth)[keep]
                    cohort = np.where(age < 36, "young", np.where(age <= 55, "middle", "older"))
                    keys = pd.MultiIndex.from_arrays(
                        [country[keep].to_numpy(), cohort], names=["iso3", "cohort"]
                    )
                    for (iso3, coh), n in (
                        pd.Series(1, index=keys).groupby(level=[0, 1]).sum().items()
                    ):
                        respondents[(iso3, coh)] = respondents.get((iso3, coh), 0) + int(n)
                    for key, items in present.items():
                        if not items:
                            continue
                        values = chunk.loc[keep, items].apply(pd.to_numeric, errors="coerce")
                        valid = values >= 0  # drops the negative missing codes; NaN is False
                        frame = pd.DataFrame(
                            {
                                "sum": values.where(valid, 0.0).sum(axis=1).to_numpy(),
                                "count": valid.sum(axis=1).to_numpy(),
                            },
                            index=keys,
                        )
                        for (iso3, coh), row in frame.groupby(level=[0, 1]).sum().iterrows():
                            acc = sums.setdefault((iso3, coh, key), [0.0, 0])
                            acc[0] += float(row["sum"])
                            acc[1] += int(row["count"])
                if progress is not None:
                    progress.update(raw.bytes_read - reported)
                    reported = raw.bytes_read
            while stream.read(1 << 20):  # hash any tail pandas did not need
                pass
            if progress is not None and raw.bytes_read > reported:
                progress.update(raw.bytes_read - reported)
        except (pd.errors.ParserError, UnicodeError, ValueError) as exc:
            raise WvsFileError(f"{csv_path}: cannot parse as CSV: {exc}") from None
    return sums, respondents, missing, raw.sha256.hexdigest()


def build_from_wvs(
    csv_path: str | Path,
    out_dir: str | Path,
    countries: Iterable[str] | None = None,
    progress: Progress | None = None,
    *,
    chunksize: int = 20_000,
) -> list[Path]:
    """Build panels from the WVS-7 cross-national CSV the user downloaded (PERSONAS.md §3-§4).

    Reads the file once in chunks (only the needed columns), keeps respondents with birth
    year Q261 in 1900-2010 and survey year A_YEAR >= 2015, splits them by age = A_YEAR - Q261
    into young (< 36), middle (36-55) and older (> 55), pools all valid (>= 0) item values
    per dimension without weights, scores the mean and cuts it into a level. Every cohort is
    measured, so `estimated` is false. Country names and language are taken from the
    shipped panel of the same ISO3 when there is one.

    Args:
        csv_path: WVS_Cross-National_Wave_7_inverted_csv_v6_0.csv or a file shaped like it.
        out_dir: folder for the ISO3.toml files (created if needed).
        countries: ISO3/ISO2/names to build; default every country in the file.
        progress: receives `update(n)` with the bytes consumed.
        chunksize: rows per chunk.

    Returns:
        The written files, in ISO3 order.

    Raises:
        WvsFileError: the file lacks the needed columns, or a requested country has no
            valid respondents.
    """
    csv_path = Path(csv_path)
    out_dir = Path(out_dir)
    if not csv_path.is_file():
        raise WvsFileError(f"{csv_path}: file not found")
    wanted = _resolve_build_countries(countries)
    sums, respondents, missing, digest = _accumulate(csv_path, wanted, progress, chunksize)
    found = sorted({iso3 for iso3, _ in respondents})
    if wanted is not None:
        absent = sorted(wanted - set(found))
        if absent:
            raise WvsFileError(
                f"{csv_path}: no valid respondents for {', '.join(absent)} "
                "(check B_COUNTRY_ALPHA codes and the Q261/A_YEAR filters)"
            )
    if not found:
        raise WvsFileError(f"{csv_path}: no valid respondents (Q261 1900-2010, A_YEAR >= 2015)")

    shipped: dict[str, Panel] = {}
    shipped_folder = shipped_dir() / "personas"
    for iso3 in found:
        if (shipped_folder / f"{iso3}.toml").is_file():
            try:
                shipped[iso3] = _load_file(shipped_folder / f"{iso3}.toml")
            except PersonaFileError as exc:  # pragma: no cover - shipped files are tested
                log.warning("%s", exc)

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for iso3 in found:
        n_by_cohort = {c: respondents.get((iso3, c), 0) for c in COHORTS[:3]}
        n_by_cohort["all"] = sum(n_by_cohort.values())
        personas = []
        for cohort in COHORTS:
            scores: dict[str, float | None] = {}
            levels: dict[str, int | None] = {}
            for key in WVS_DIMENSIONS:
                score = normalised_score(key, _mean(sums, iso3, cohort, key))
                scores[key] = None if score is None else round(score, 6)
                levels[key] = score_to_level(score)
            personas.append(
                {"cohort": cohort, "estimated": False, "levels": levels, "scores": scores}
            )
        meta = shipped.get(iso3)
        header = {
            "iso3": iso3,
            "iso2": meta.iso2 if meta else "",
            "name": meta.name if meta else iso3,
            "native_name": meta.native_name if meta else iso3,
            "country_name": meta.country_name if meta else iso3,
            "language": meta.language if meta else "und",
            "aliases": list(meta.aliases) if meta else [],
        }
        source = {
            "input_file": csv_path.name,
            "input_sha256": digest,
            "built_with": f"disca-edge {__version__} (disca personas build)",
            "method": "PERSONAS.md §3-§4: unweighted pooled item means, quartile cut",
            "missing_items": missing,
            "n_respondents": n_by_cohort,
        }
        comment = f"DISCA persona panel for {header['name']}, built from WVS-7 microdata."
        if meta is None:
            comment += "\nFill in iso2, name, native_name, country_name and language by hand."
        text = panel_to_toml(
            {
                **header,
                "provenance": "wvs7-microdata",
                "provenance_note": (
                    f"All four personas computed from {csv_path.name} by disca personas build."
                ),
                "source": source,
                "personas": personas,
            },
            comment=comment + "\nPersona text is rendered by disca_edge.personas from the levels.",
        )
        path = out_dir / f"{iso3}.toml"
        atomic_write_text(path, text)
        written.append(path)
    return written


def _mean(sums: Mapping, iso3: str, cohort: str, key: str) -> float | None:
    cohorts = COHORTS[:3] if cohort == "all" else (cohort,)
    total = sum(sums.get((iso3, c, key), (0.0, 0))[0] for c in cohorts)
    count = sum(sums.get((iso3, c, key), (0.0, 0))[1] for c in cohorts)
    return total / count if count else None
