"""Native-language prompt tables (I18N.md): loaded once, validated, rendered per language.

The authors' tables for the 17 languages of the 20 paper countries ship as data in
``i18n/disca_i18n.json`` (MIT, provenance and licence beside it). Two kinds of language:

* **full** (en, es, pt, de, vi, id, zh, ja, fa): their own prompt frame, base prompt,
  scenario frame, characters, start sentences and persona tables;
* **persona-only** (my, th, ms, bn, sr, ro, ky, am): persona tables only. As in the
  released code, their frame, base prompt, scenario text and characters are English,
  and the persona scaffold is neutral (the header is the country name, no role, age or
  closing), so the four personas differ only in their descriptors.

Deliberate differences from the authors' code (listed in ``i18n/PROVENANCE.md``):

* in the 8 persona-only languages the ``child_rearing`` and ``moral_acceptability``
  descriptor lists run from the opposite pole to every full language (I18N.md §5). They
  are reversed on load so level 1 means what ``en`` level 1 means;
  ``descriptor_order="released"`` keeps the released order;
* the utilitarian anchor (``utilitarian_persona``) gets the country name filled in; the
  released code leaves its ``{country_name}`` placeholder in the prompt, which
  ``anchor_text="released"`` reproduces;
* one of a character type in the English frame of a persona-only language is "a person",
  as in English; the released code writes "1 person" there (its article rule tests the
  language code, not the frame's language).

This module reads and validates the one data file (`tables`) into the types of
`content.language`, which do the rendering.
"""

from __future__ import annotations

import functools
import hashlib
import json
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..paths import shipped_dir
from .language import (
    LANG_MODES,
    REVERSED_IN_RELEASE,
    I18nError,
    Language,
    Rendering,
    Tables,
)
from .personas.render import COHORTS

__all__ = ["data_file", "language", "load_tables", "rendering", "tables"]

#: Table dimension keys -> the project's level keys (personas/README.md).
_DIMENSION_KEYS = {"materialism_orientation": "materialism", "tolerance_diversity": "tolerance"}
_SCENARIO_KEYS = ("left_lane", "right_lane", "group_a", "group_b", "closing")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def data_file() -> Path:
    """The shipped ``disca_i18n.json``."""
    return shipped_dir() / "i18n" / "disca_i18n.json"


def _pool_character_types() -> set[str]:
    # The one lazy import of the content floor: scenarios imports this module to render,
    # and the tables are checked against scenarios' pool only when they are first read.
    from .scenarios import disca_pool

    return {role for v in disca_pool() for role in (v.first_role, v.second_role)}


def load_tables(path: str | Path | None = None) -> Tables:
    """Read and validate a tables file (`tables` caches the shipped one).

    Raises:
        I18nError: unreadable, not JSON, or a table is missing or malformed (one line).
    """
    path = Path(path) if path is not None else data_file()
    try:
        blob = path.read_bytes()
        raw = json.loads(blob.decode("utf-8"))
    except OSError as exc:
        raise I18nError(f"{path}: cannot read the language tables: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise I18nError(f"{path}: not valid JSON: {exc}") from None
    return _validate(path, raw, hashlib.sha256(blob).hexdigest())


class _Checker:
    """Shape checks that fail with 'path: where: what is wrong'."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, what: str) -> I18nError:
        return I18nError(f"{self.path}: {where}: {what}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict) or not value:
            raise self.fail(where, "must be a non-empty object")
        return value

    def text(
        self, value: Any, where: str, fields: set[str] | None = None, empty: bool = False
    ) -> str:
        if not isinstance(value, str) or (not value.strip() and not empty):
            raise self.fail(where, f"must be a non-empty string, got {value!r}")
        if fields is not None and _fields(value) != fields:
            want = ", ".join("{" + f + "}" for f in sorted(fields)) or "no placeholder"
            raise self.fail(where, f"needs exactly {want}, has {sorted(_fields(value))}")
        return value

    def strings(self, value: Any, where: str, n: int | None = None, empty: bool = False) -> tuple:
        if not isinstance(value, list) or (n is not None and len(value) != n) or not value:
            count = len(value) if isinstance(value, list) else type(value).__name__
            raise self.fail(where, f"expected {n or 'a non-empty list of'} strings, got {count}")
        return tuple(self.text(v, f"{where}[{i}]", empty=empty) for i, v in enumerate(value))


def _persona_tables(
    check: _Checker, at: str, entry: Mapping[str, Any], full: bool, dim_order: list[str]
) -> dict[str, Any]:
    """The persona scaffold, templates and descriptors of one language (I18N.md §5)."""
    scaffold = check.mapping(entry.get("persona_scaffold"), f"{at}.persona_scaffold")
    ages_raw = check.mapping(scaffold.get("ages"), f"{at}.persona_scaffold.ages")
    if sorted(ages_raw) != sorted(COHORTS):
        raise check.fail(f"{at}.persona_scaffold.ages", f"needs {', '.join(COHORTS)}")
    header_fields = {"role", "country_name", "age_range"} if full else {"country_name"}
    out: dict[str, Any] = {
        "ages": {
            c: check.strings(ages_raw[c], f"{at}.persona_scaffold.ages.{c}", 2, True)
            for c in COHORTS
        },
        "header": check.text(
            scaffold.get("header"), f"{at}.persona_scaffold.header", header_fields
        ),
        "closing": check.text(
            scaffold.get("closing"), f"{at}.persona_scaffold.closing", set(), not full
        ),
    }
    tables = {
        name: check.mapping(entry.get(name), f"{at}.{name}")
        for name in ("persona_templates", "persona_descriptors")
    }
    for name, table in tables.items():
        if sorted(table) != sorted(dim_order):
            odd = sorted(set(dim_order) ^ set(table))
            raise check.fail(f"{at}.{name}", f"dimensions differ from en: {odd}")
    templates, descriptors, released = {}, {}, {}
    for dim in dim_order:
        key = _DIMENSION_KEYS.get(dim, dim)
        where = f"{at}.persona_templates.{dim}"
        templates[key] = check.text(tables["persona_templates"][dim], where, {"desc"})
        where = f"{at}.persona_descriptors.{dim}"
        released[key] = check.strings(tables["persona_descriptors"][dim], where, 4)
        fix = not full and key in REVERSED_IN_RELEASE
        descriptors[key] = released[key][::-1] if fix else released[key]
    out.update(templates=templates, descriptors=descriptors, released_descriptors=released)
    out["utilitarian_persona"] = check.text(
        entry.get("utilitarian_persona"), f"{at}.utilitarian_persona", {"country_name"}
    )
    return out


def _frame_tables(
    check: _Checker, at: str, code: str, entry: Mapping[str, Any], pool_types: set[str]
) -> dict[str, Any]:
    """The frame, base prompt, scenario frame, characters and starts of a full language."""
    scen = check.mapping(entry.get("scenario_frame"), f"{at}.scenario_frame")
    scenario_frame = {
        k: check.text(scen.get(k), f"{at}.scenario_frame.{k}", set()) for k in _SCENARIO_KEYS
    }
    if len({scenario_frame[k] for k in _SCENARIO_KEYS[:4]}) != 4:
        raise check.fail(f"{at}.scenario_frame", "the four lane and group labels must differ")
    chars_raw = check.mapping(entry.get("characters"), f"{at}.characters")
    characters = {t: check.strings(v, f"{at}.characters.{t}", 2) for t, v in chars_raw.items()}
    missing = sorted(pool_types - set(characters))
    if missing:
        raise check.fail(f"{at}.characters", f"no entry for DISCA-pool type(s) {missing}")
    if code == "en":
        conjunctions = (", ", ", and ")
    else:
        conjunctions = check.strings(entry.get("conjunctions"), f"{at}.conjunctions", 2)
    return {
        "prompt_frame": check.text(entry.get("prompt_frame"), f"{at}.prompt_frame", {"scenario"}),
        "base_assistant": check.text(entry.get("base_assistant"), f"{at}.base_assistant"),
        "scenario_frame": scenario_frame,
        "characters": characters,
        "scenario_starts": check.strings(entry.get("scenario_starts"), f"{at}.scenario_starts"),
        "conjunctions": conjunctions,
    }


def _validate(path: Path, raw: Any, sha256: str) -> Tables:
    check = _Checker(path)
    top = check.mapping(raw, "top level")
    langs = check.mapping(top.get("languages"), "languages")
    if "en" not in langs:
        raise check.fail("languages", "the en table is missing")
    en_raw = check.mapping(langs["en"], "languages.en")
    dim_order = list(
        check.mapping(en_raw.get("persona_templates"), "languages.en.persona_templates")
    )
    pool_types = _pool_character_types()
    languages: dict[str, Language] = {}
    for code in ["en", *(c for c in langs if c != "en")]:
        at = f"languages.{code}"
        entry = check.mapping(langs[code], at)
        full = entry.get("prompt_frame_native")
        if not isinstance(full, bool):
            raise check.fail(f"{at}.prompt_frame_native", "must be true or false")
        if code == "en" and not full:
            raise check.fail(at, "en must be a full language")
        if full:
            frame = _frame_tables(check, at, code, entry, pool_types)
        else:  # the released code falls back to the English frame tables
            en = languages["en"]
            frame = {
                "prompt_frame": en.prompt_frame, "base_assistant": en.base_assistant,
                "scenario_frame": en.scenario_frame, "characters": en.characters,
                "scenario_starts": en.scenario_starts, "conjunctions": en.conjunctions,
            }  # fmt: skip
        persona = _persona_tables(check, at, entry, full, dim_order)
        languages[code] = Language(code=code, full=full, **frame, **persona)
    country_lang = check.mapping(top.get("country_lang"), "country_lang")
    for iso3, code in country_lang.items():
        if code not in languages:
            raise check.fail(f"country_lang.{iso3}", f"language {code!r} has no table")
    names = check.mapping(top.get("country_native_name"), "country_native_name")
    for iso3 in country_lang:
        check.text(names.get(iso3), f"country_native_name.{iso3}")
    return Tables(path, sha256, languages, dict(country_lang), dict(names))


@functools.lru_cache(maxsize=1)
def tables() -> Tables:
    """The shipped tables, read and validated once per process."""
    return load_tables()


def language(code: str) -> Language:
    """One language of the shipped tables.

    Raises:
        I18nError: no table for `code`.
    """
    langs = tables().languages
    if code not in langs:
        raise I18nError(f"no language table for {code!r} (known: {', '.join(sorted(langs))})")
    return langs[code]


def rendering(iso3: str, mode: str, *, language_code: str, english_name: str) -> Rendering:
    """Which languages one country's prompts use under ``--lang mode``.

    Args:
        iso3: the country.
        mode: "native" or "en".
        language_code: the panel's language (used when the tables do not map `iso3`).
        english_name: the panel's English country name (used in English personas).

    Returns:
        The Rendering. A native language without a table falls back to English (and says
        so through ``persona_language``).
    """
    if mode not in LANG_MODES:
        raise I18nError(f"--lang must be one of {', '.join(LANG_MODES)}, got {mode!r}")
    t = tables()
    if mode == "en":
        return Rendering("en", "en", "en", english_name)
    code = t.country_lang.get(iso3, language_code)
    if code not in t.languages:
        return Rendering("native", "en", "en", english_name)
    name = t.country_native_name.get(iso3, english_name)
    frame = code if t.languages[code].full else "en"
    return Rendering("native", code, frame, name)
