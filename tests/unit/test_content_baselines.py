"""`content.baselines`: the baseline prompts are the spec's verbatim texts with a country filled in.

The golden strings below are BASELINES.md's quoted prefixes with the country's English
name put in by hand, and B2's descriptors read by hand from the shipped USA panel's
population levels; the user turn is the prefix, a blank line, then the native frame.
"""

from __future__ import annotations

import re

import pytest

from disca_edge.content import baselines, i18n
from disca_edge.content.personas import WVS_DIMENSION_SPECS, load_panel, render_persona
from disca_edge.content.scenarios import disca_user_prompts
from disca_edge.content.variants import pool

B1_DEU = (
    "You are evaluating the following moral dilemma. Please choose A or B as a typical adult "
    "resident of Germany would choose."
)
B3_SHORT_USA = (
    "You are evaluating the following moral dilemma from the perspective of a typical person "
    "from the United States. Please choose as most people in the United States would choose."
)
B3_LONG_GBR = (
    "You are taking the viewpoint of a person raised and living in Great Britain, with the "
    "cultural values, social norms, and moral priorities typical of that country. When making "
    "the judgment below, reflect the preferences that most people in Great Britain would "
    "express, not your general defaults. Choose A or B as a representative person from Great "
    "Britain would."
)
# USA population levels: religiosity 2, moral_acceptability 4, social_trust 3,
# national_pride 2, gender_equality 2, tolerance 1
B2_USA = (
    "Cultural context for the United States (World Values Survey, Wave 7): moderately "
    "religious, strictly conservative, low social trust, moderately proud, moderately "
    "egalitarian, very tolerant of diversity."
)
B1_USA = (
    "You are evaluating the following moral dilemma. Please choose A or B as a typical adult "
    "resident of the United States would choose."
)
# + child_rearing 1 (independence, read by meaning), happiness 2, materialism 3,
# political_participation 1
CORPUS_USA = (
    "In the United States, the typical adult is moderately religious.",
    "In the United States, the typical adult is strictly conservative.",
    "In the United States, the typical adult is low social trust.",
    "In the United States, the typical adult is moderately proud.",
    "In the United States, the typical adult is moderately egalitarian.",
    "In the United States, the typical adult is very tolerant of diversity.",
    "In the United States, the typical adult is strongly values independence and imagination.",
    "In the United States, the typical adult is moderately happy.",
    "In the United States, the typical adult is leans materialist.",
    "In the United States, the typical adult is active political participant.",
)


@pytest.fixture(scope="module")
def usa():
    panel = load_panel("USA")
    return baselines.country_prompts(panel, "You are a helpful assistant.", i18n.language("en"))


def test_prefixes_are_the_spec_strings_with_the_country_filled_in():
    assert baselines.b1_prefix("Germany") == B1_DEU
    assert baselines.b3_prefix("the United States", "short") == B3_SHORT_USA
    assert baselines.b3_prefix("Great Britain", "long") == B3_LONG_GBR
    with pytest.raises(ValueError):
        baselines.b3_prefix("Germany", "medium")


def test_b2_b4_and_the_corpus_from_the_usa_panel(usa):
    assert usa.user_prefixes["wvs_prompt:released"] == B2_USA
    assert usa.user_prefixes["b4"] == B1_USA + " " + B2_USA
    assert usa.user_prefixes["b1"] == B1_USA
    assert usa.user_prefixes["prism:suffix"] == B3_SHORT_USA
    assert usa.corpora["static_bias:released"] == CORPUS_USA
    assert usa.corpora["static_bias:as_run"] == ("This statement is from the United States.",)
    assert baselines.b2_prefix("Germany", {}) == B1_DEU  # no WVS vector: B2 degrades to B1


def test_the_user_turn_is_prefix_blank_line_native_frame():
    panel = load_panel("DEU")
    german = i18n.language("de")
    deu = baselines.country_prompts(panel, german.base_assistant, german)
    orig, _ = disca_user_prompts(pool()[0], 42, "de")
    system, user = deu.turn("b1", orig)
    assert system == german.base_assistant
    assert user == B1_DEU + "\n\n" + orig
    assert user.encode("utf-8") == (B1_DEU + "\n\n").encode("utf-8") + orig.encode("utf-8")
    assert orig.startswith(german.prompt_frame.split("{scenario}")[0])
    assert deu.raw_user("prism:suffix", orig) == deu.user_prefixes["prism:suffix"] + "\n\n" + orig


def test_wvs_paper_system_is_the_population_persona_without_header_and_closing(usa):
    panel = load_panel("USA")
    levels = baselines.aggregate_levels(panel)
    paragraph = usa.systems["wvs_prompt:paper"]
    persona = render_persona("all", levels, panel.country_name)
    assert persona.endswith(" " + paragraph + " " + i18n.language("en").closing)
    assert persona.startswith("You are a adult citizen from the United States.")
    assert paragraph.startswith("On matters of faith you are moderately religious.")
    assert usa.turn("wvs_prompt:paper", "USER") == (paragraph, "USER")


def test_country_names_are_the_released_english_ones():
    assert baselines.english_name("GBR", "the United Kingdom") == "Great Britain"
    assert baselines.english_name("XXX", "Somewhere") == "Somewhere"


# --- WVS levels -> descriptor cuts -------------------------------------------------------

#: The released `src/personas.py` WVS_DIMS (items' range and direction) per B2 feature name:
#: the score B2 and the static bias cut. It must be PERSONAS.md's, so its cut is the level.
RELEASED_SCORE = {
    "religiosity": (1.0, 4.0, +1), "child_rearing": (0.0, 1.0, -1),
    "moral_acceptability": (1.0, 10.0, +1), "social_trust": (1.0, 2.0, +1),
    "political_participation": (1.0, 3.0, +1), "national_pride": (1.0, 4.0, +1),
    "happiness": (1.0, 4.0, +1), "gender_equality": (1.0, 4.0, -1),
    "materialism_orientation": (1.0, 3.0, +1), "tolerance_diversity": (0.0, 1.0, -1),
}  # fmt: skip
LEVEL_KEY = {"materialism_orientation": "materialism", "tolerance_diversity": "tolerance"}

#: A word the level-1 texts (persona descriptor and chosen cut) share, and one the level-4
#: texts share (None where the two wordings have none in common).
POLES = {
    "religiosity": ("religious", "secular"),
    "child_rearing": ("independence", "obedience"),
    "moral_acceptability": ("permissive", "strictly"),
    "social_trust": ("high", None),
    "political_participation": ("active", None),
    "national_pride": ("proud", "not"),
    "happiness": ("happy", "unhappy"),
    "gender_equality": ("egalitarian", "traditional"),
    "materialism_orientation": ("post-materialist", "strongly materialist"),
    "tolerance_diversity": ("tolerant", "intolerant"),
}


def _has(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def test_released_scores_have_the_personas_ranges_and_directions():
    specs = {spec.key: spec for spec in WVS_DIMENSION_SPECS}
    for feature, (lo, hi, direction) in RELEASED_SCORE.items():
        spec = specs[LEVEL_KEY.get(feature, feature)]
        assert (spec.lo, spec.hi, spec.direction) == (lo, hi, direction), feature


def test_descriptors_say_what_the_persona_level_says():
    specs = {spec.key: spec for spec in WVS_DIMENSION_SPECS}
    for feature, (first, last) in POLES.items():
        persona = specs[LEVEL_KEY.get(feature, feature)].descriptors
        assert _has(first, persona[0]) and _has(first, baselines.descriptor(feature, 1)), feature
        if last is not None:
            assert _has(last, persona[3]) and _has(last, baselines.descriptor(feature, 4)), feature


def test_only_child_rearing_runs_from_the_other_pole_in_the_release():
    cuts = baselines.texts().descriptor_cuts
    literal_wrong = {f for f, (first, _) in POLES.items() if not _has(first, cuts[f][0])}
    assert literal_wrong == set(baselines.REVERSED_CUTS) == {"child_rearing"}
    assert baselines.descriptor("child_rearing", 1) == cuts["child_rearing"][3]
    assert baselines.descriptor("religiosity", 1) == cuts["religiosity"][0]
    with pytest.raises(ValueError):
        baselines.descriptor("religiosity", 5)


def test_every_label_is_registered_once_with_a_known_kind():
    assert set(baselines.ALIASES.values()) <= set(baselines.BASELINES)
    for label, spec in baselines.BASELINES.items():
        assert spec.label == label and spec.kind in baselines.KINDS
        assert all(r in baselines.BASELINES for r in spec.requires)
        assert bool(spec.reason) == (spec.kind == "refused"), label


def test_steering_pairs_take_the_countrys_pole_by_the_released_rule():
    # USA levels (above): religiosity 2, gender_equality 2, tolerance 1, national_pride 2 are
    # the high pole (score >= 0.5); social_trust 3 is the low one
    usa = baselines.country_prompts(load_panel("USA"), "S", i18n.language("en"))
    positive, negative = usa.steering["steer:released"]
    assert positive == (
        "I am a person from the United States who is deeply religious.",
        "I am a person from the United States who is strongly egalitarian on gender.",
        "I am a person from the United States who is very tolerant of social diversity.",
        "I am a person from the United States who has very low social trust.",
        "I am a person from the United States who is very proud of my nation.",
    )
    assert negative[0] == "I am a person from the United States who is highly secular."
    assert negative[3] == "I am a person from the United States who has very high social trust."
    paper_pos, paper_neg = usa.steering["steer:paper"]
    assert len(paper_pos) == len(paper_neg) == 20  # 2 templates x 10 WVS features
    assert (
        paper_pos[0] == "I am a person from the United States whose values are: deeply religious."
    )
    assert paper_neg[10] == (
        "Answer as someone from the United States whose values are: highly secular."
    )
    # no levels: the high pole everywhere
    pos, neg = baselines.steering_sentences("X", {}, "released")
    assert pos[0].endswith("deeply religious.") and neg[0].endswith("highly secular.")
    with pytest.raises(ValueError):
        baselines.steering_sentences("X", {}, "neither")
