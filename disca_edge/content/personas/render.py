"""Persona text from WVS value levels: the ten dimensions, scoring, cohort estimates, rendering.

PERSONAS.md §4-§6: a WVS item mean becomes a 0-1 score (`normalised_score`), a score a
level 1-4 (`score_to_level`), and the levels of one cohort the English persona system
prompt (`render_persona`). Pure module: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "COHORTS",
    "COHORT_SHIFT_DELTA",
    "COHORT_SHIFT_SIGN",
    "WVS_DIMENSIONS",
    "WVS_DIMENSION_SPECS",
    "WvsDimensionSpec",
    "estimate_cohort_levels",
    "normalised_score",
    "render_persona",
    "score_to_level",
]

#: Panel order (PERSONAS.md §1): three age cohorts, then the population aggregate.
COHORTS: tuple[str, ...] = ("young", "middle", "older", "all")


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
