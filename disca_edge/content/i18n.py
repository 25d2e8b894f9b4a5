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

Pure rendering apart from reading the one data file (`tables`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiscaError
from ..paths import shipped_dir
from .personas.render import COHORTS

__all__ = [
    "ANCHOR_TEXTS",
    "LANG_MODES",
    "PERSONA_ONLY_NOTE",
    "REVERSED_IN_RELEASE",
    "I18nError",
    "Language",
    "Rendering",
    "Tables",
    "data_file",
    "language",
    "load_tables",
    "parse_group",
    "rendering",
    "tables",
]

#: ``--lang`` values: the country's own language (the paper's protocol) or English.
LANG_MODES: tuple[str, ...] = ("native", "en")

#: Wordings of the utilitarian anchor: the country named, or the placeholder left as released.
ANCHOR_TEXTS: tuple[str, ...] = ("fixed", "released")

#: Table dimension keys -> the project's level keys (personas/README.md).
_DIMENSION_KEYS = {"materialism_orientation": "materialism", "tolerance_diversity": "tolerance"}

#: Descriptor lists whose released order runs from the opposite pole (I18N.md §5).
REVERSED_IN_RELEASE: tuple[str, ...] = ("child_rearing", "moral_acceptability")

PERSONA_ONLY_NOTE = (
    "persona-only language: native-language personas with the neutral scaffold; the "
    "frame, base prompt and scenario text are English, as in the authors' released code"
)

_SCENARIO_KEYS = ("left_lane", "right_lane", "group_a", "group_b", "closing")
_ARTICLE_ONE = {"zh": "1名", "ja": "1名"}  # one of a type (I18N.md §4); others: "1 "


class I18nError(DiscaError):
    """The language tables are malformed; the message is 'path: where: what is wrong'."""


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@dataclass(frozen=True)
class Language:
    """One language's tables, validated (persona-only languages get English frame tables).

    Attributes:
        code: language code ("de").
        full: True when the language has its own frame, base prompt and scenario text.
        prompt_frame: user-turn frame with a ``{scenario}`` slot.
        base_assistant: the neutral base system prompt.
        scenario_frame: lane labels, group labels and closing sentence.
        characters: MultiTP character type -> (singular, plural).
        scenario_starts: the start sentences (6 in en and fa, 4 elsewhere); the first is
            the `trolley_opener`.
        conjunctions: (separator, final) for joining group parts.
        header: persona header with ``{role}``, ``{country_name}``, ``{age_range}``.
        closing: persona closing sentence ("" for the neutral scaffold).
        ages: cohort -> (role, age range).
        templates: level key -> sentence template with ``{desc}``, in the en table's order.
        descriptors: level key -> 4 descriptors, level 1 first, ordered by meaning.
        released_descriptors: the same lists in the released order.
        utilitarian_persona: the utilitarian anchor persona, with ``{country_name}`` (the
            fourth persona of ``--fourth utilitarian``; short in persona-only languages).
    """

    code: str
    full: bool
    prompt_frame: str
    base_assistant: str
    scenario_frame: Mapping[str, str]
    characters: Mapping[str, tuple[str, str]]
    scenario_starts: tuple[str, ...]
    conjunctions: tuple[str, str]
    header: str
    closing: str
    ages: Mapping[str, tuple[str, str]]
    templates: Mapping[str, str]
    descriptors: Mapping[str, tuple[str, str, str, str]]
    released_descriptors: Mapping[str, tuple[str, str, str, str]]
    utilitarian_persona: str

    # --- personas (I18N.md §5) ---------------------------------------------------------

    def persona_text(
        self,
        cohort: str,
        levels: Mapping[str, int | None],
        country_name: str,
        *,
        descriptor_order: str = "fixed",
    ) -> str:
        """Render one persona: header, one sentence per dimension with a level, closing.

        Args:
            cohort: one of `COHORTS`.
            levels: level 1-4 per level key; None or absent skips the sentence.
            country_name: the name put in the header.
            descriptor_order: "fixed" (default, ordered by meaning) or "released" (the
                authors' tables as published; differs only for persona-only languages).

        Returns:
            The text, trailing whitespace stripped.
        """
        if cohort not in self.ages:
            raise ValueError(f"cohort must be one of {COHORTS}, got {cohort!r}")
        if descriptor_order not in ("fixed", "released"):
            raise ValueError(
                f"descriptor_order must be fixed or released, got {descriptor_order!r}"
            )
        table = self.descriptors if descriptor_order == "fixed" else self.released_descriptors
        role, age_range = self.ages[cohort]
        sentences = []
        for key, template in self.templates.items():
            level = levels.get(key)
            if level is None:
                continue
            if isinstance(level, bool) or level not in (1, 2, 3, 4):
                raise ValueError(f"level of {key} must be 1-4 or None, got {level!r}")
            sentences.append(template.format(desc=table[key][level - 1]))
        header = self.header.format(role=role, country_name=country_name, age_range=age_range)
        # Parts joined by single spaces: a persona with no levelled dimension (a cohort with
        # no respondents in a WVS build) must not get a double space, so `en` equals Panel.texts.
        return " ".join(part for part in (header, *sentences, self.closing) if part).rstrip()

    def utilitarian_text(self, country_name: str, *, anchor_text: str = "fixed") -> str:
        """The utilitarian anchor persona in this language.

        Args:
            country_name: the name put in the text.
            anchor_text: "fixed" (default, the country named) or "released" (the
                ``{country_name}`` placeholder left in the text, as the released code
                sends it to the model).
        """
        if anchor_text not in ANCHOR_TEXTS:
            raise ValueError(f"anchor_text must be fixed or released, got {anchor_text!r}")
        if anchor_text == "released":
            return self.utilitarian_persona
        return self.utilitarian_persona.format(country_name=country_name)

    # --- groups (I18N.md §4) -----------------------------------------------------------

    def group_part(self, role: str, count: int) -> str:
        """One character type with its count: "a boy", "2 boys", "1 Junge", "1名男孩".

        Raises:
            I18nError: the type has no entry in this language (never a silent English word).
            ValueError: count < 1.
        """
        if count < 1:
            raise ValueError(f"count: expected >= 1, got {count}")
        if role not in self.characters:
            raise I18nError(f"language {self.code}: no entry for character type {role!r}")
        singular, plural = self.characters[role]
        if count > 1:
            return f"{count} {plural}"
        if self.code == "en":
            return ("an " if singular[:1].lower() in "aeiou" else "a ") + singular
        return _ARTICLE_ONE.get(self.code, "1 ") + singular

    def join(self, parts: Sequence[str]) -> str:
        """Join the parts of a mixed group with this language's conjunctions."""
        parts = list(parts)
        if not parts:
            raise ValueError("parts: expected at least one")
        if len(parts) == 1:
            return parts[0]
        sep, final = self.conjunctions
        if len(parts) == 2:
            return parts[0] + (" and " if self.code == "en" else final) + parts[1]
        return sep.join(parts[:-1]) + final + parts[-1]

    def group_text(self, parts: Sequence[tuple[str, int]]) -> str:
        """A group of (character type, count) parts, rendered and joined."""
        return self.join([self.group_part(role, count) for role, count in parts])

    def translate_group(self, text: str) -> str:
        """An English group description in this language, when it parses as characters.

        "two elderly women" -> "2 ältere Frauen"; free text is kept as written.
        """
        parts = parse_group(text)
        if parts is None or any(role not in self.characters for role, _ in parts):
            return text.strip()
        return self.group_text(parts)

    # --- the user turn (I18N.md §3) ------------------------------------------------------

    @property
    def trolley_opener(self) -> str:
        """The start sentence of a trolley dilemma given as two groups: the first one.

        ``ask``'s shorthand always uses it, so a question gets the same prompt wherever
        it appears; in English it is the start of the paper's prompts (I18N.md §3).
        """
        return self.scenario_starts[0]

    def start_for(self, vignette_index: int, data_seed: int = 42) -> str:
        """The start sentence of a vignette: ``default_rng([seed, index])`` over this list."""
        rng = np.random.default_rng([data_seed, vignette_index])
        return self.scenario_starts[int(rng.integers(len(self.scenario_starts)))]

    def scenario(self, start: str, left: str, right: str) -> str:
        """Scenario text: start, the two lanes with their groups, the closing question."""
        f = self.scenario_frame
        return (
            f"{start}\n\n{f['left_lane']} \u2014 {f['group_a']}: {left}\n"
            f"{f['right_lane']} \u2014 {f['group_b']}: {right}\n\n{f['closing']}"
        )

    def custom_scenario(self, dilemma: str, option_a: str, option_b: str) -> str:
        """A free-text two-option question in this language's lane layout (text as written)."""
        f = self.scenario_frame
        return (
            f"{dilemma.strip()}\n\n{f['left_lane']} \u2014 {option_a.strip()}\n"
            f"{f['right_lane']} \u2014 {option_b.strip()}"
        )

    def user_turn(self, scenario: str) -> str:
        """The prompt frame around a scenario."""
        return self.prompt_frame.replace("{scenario}", scenario)

    def swap_labels(self, text: str) -> str:
        """Exchange the two lane labels and the two group labels, case-sensitive, everywhere.

        Apply it to the scenario text only (`user_turns`), as the released code does.
        """
        f = self.scenario_frame
        pairs = {
            f["left_lane"]: f["right_lane"],
            f["right_lane"]: f["left_lane"],
            f["group_a"]: f["group_b"],
            f["group_b"]: f["group_a"],
        }
        pattern = "|".join(re.escape(k) for k in sorted(pairs, key=len, reverse=True))
        return re.sub(pattern, lambda m: pairs[m.group(0)], text)

    def user_turns(self, scenario: str) -> tuple[str, str | None]:
        """(orig, swap) user turns; swap is None when swapping changes nothing.

        The labels are swapped in the scenario, which is then put in the frame (I18N.md
        §3): in zh, ja and fa the frame's question names the lane labels, and it still
        asks "A or B" in the swapped turn, so a bias toward the first-named letter stays
        on token A in both orders and cancels in δ = (δ^orig − δ^swap)/2.
        """
        swapped = self.swap_labels(scenario)
        return self.user_turn(scenario), (None if swapped == scenario else self.user_turn(swapped))


@dataclass(frozen=True)
class Rendering:
    """Which language each part of one country's prompts is in (recorded with results).

    Attributes:
        mode: "native" or "en" (the ``--lang`` value).
        persona_language: language of the persona texts.
        frame_language: language of the base prompt, frame and scenario text.
        country_name: the country name put in the persona header.
    """

    mode: str
    persona_language: str
    frame_language: str
    country_name: str

    @property
    def persona_only(self) -> bool:
        """True for a persona-only language: native personas, English frame."""
        return self.persona_language != self.frame_language

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: mode, both languages, the persona-only flag and its note."""
        return {
            "mode": self.mode,
            "persona_language": self.persona_language,
            "frame_language": self.frame_language,
            "persona_only": self.persona_only,
            "note": PERSONA_ONLY_NOTE if self.persona_only else None,
        }

    @property
    def label(self) -> str:
        """Short text for tables: "de", "th (personas; English frame)", "en"."""
        if self.persona_only:
            return f"{self.persona_language} (personas; {self.frame_language} frame)"
        return self.frame_language


@dataclass(frozen=True)
class Tables:
    """All languages and the country maps of the shipped file.

    Attributes:
        path: the file read.
        sha256: its hash (recorded with results).
        languages: code -> Language.
        country_lang: ISO3 -> language code.
        country_native_name: ISO3 -> the country name used in native personas.
    """

    path: Path
    sha256: str
    languages: Mapping[str, Language]
    country_lang: Mapping[str, str]
    country_native_name: Mapping[str, str]


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


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10}  # fmt: skip


def parse_group(text: str) -> list[tuple[str, int]] | None:
    """Read an English group description as MultiTP characters, or None if it is free text.

    Accepts "a boy", "an elderly woman", "two elderly women", "3 dogs" and mixed groups
    joined by "and" or commas ("a boy and two girls"), case-insensitive, using the en
    table's singular and plural forms.

    Returns:
        [(character type, count), ...] in the order written, or None when any part does not
        parse (the text is then kept as written).
    """
    english = tables().languages["en"].characters
    singular = {forms[0]: role for role, forms in english.items()}
    plural = {forms[1]: role for role, forms in english.items()}
    words = re.sub(r"\s+", " ", text.strip().rstrip(".").casefold())
    parts = [p for p in re.split(r",\s*and\s+|,\s*|\s+and\s+", words) if p]
    if not parts:
        return None
    out = []
    for part in parts:
        count_word, _, rest = part.partition(" ")
        if count_word in ("a", "an", "one", "1") and rest in singular:
            out.append((singular[rest], 1))
            continue
        count = _NUMBER_WORDS.get(count_word) or (int(count_word) if count_word.isdigit() else 0)
        if count >= 2 and rest in plural:
            out.append((plural[rest], count))
        elif count == 1 and rest in singular:
            out.append((singular[rest], 1))
        else:
            return None
    return out


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
