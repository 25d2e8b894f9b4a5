"""One language's prompt tables (I18N.md), as validated data: personas, frame, scenario text.

`Language` renders persona texts, groups of characters, scenarios and the user turn (with
the label swap) from one language's tables; `Rendering` records which language each part
of a country's prompts is in; `Tables` holds them all. `content.i18n` reads and validates
the shipped file into these types. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiscaError
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
    "parse_group",
]

#: ``--lang`` values: the country's own language (the paper's protocol) or English.
LANG_MODES: tuple[str, ...] = ("native", "en")

#: Wordings of the utilitarian anchor: the country named, or the placeholder left as released.
ANCHOR_TEXTS: tuple[str, ...] = ("fixed", "released")


#: Descriptor lists whose released order runs from the opposite pole (I18N.md §5).
REVERSED_IN_RELEASE: tuple[str, ...] = ("child_rearing", "moral_acceptability")

PERSONA_ONLY_NOTE = (
    "persona-only language: native-language personas with the neutral scaffold; the "
    "frame, base prompt and scenario text are English, as in the authors' released code"
)

_ARTICLE_ONE = {"zh": "1名", "ja": "1名"}  # one of a type (I18N.md §4); others: "1 "


class I18nError(DiscaError):
    """The language tables are malformed; the message is 'path: where: what is wrong'."""


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10}  # fmt: skip


def parse_group(text: str, english: Mapping[str, Sequence[str]]) -> list[tuple[str, int]] | None:
    """Read an English group description as MultiTP characters, or None if it is free text.

    Accepts "a boy", "an elderly woman", "two elderly women", "3 dogs" and mixed groups
    joined by "and" or commas ("a boy and two girls"), case-insensitive, using the en
    table's singular and plural forms.

    Args:
        text: the group as written.
        english: the ``en`` table's characters (type -> (singular, plural)).

    Returns:
        [(character type, count), ...] in the order written, or None when any part does not
        parse (the text is then kept as written).
    """
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

    def translate_group(self, text: str, english: Mapping[str, Sequence[str]]) -> str:
        """An English group description in this language, when it parses as characters.

        "two elderly women" -> "2 ältere Frauen"; free text is kept as written. `english`
        is the ``en`` table's characters, which the text is read with.
        """
        parts = parse_group(text, english)
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
