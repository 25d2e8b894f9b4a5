"""The paper's Table-1 baselines (BASELINES.md): their labels, their texts and each country's prompts.

The texts are the authors' released strings, shipped as data (`i18n/baseline_texts.json`,
MIT notice in `i18n/PROVENANCE.md`): the B1, B2 (WVS profile), B3 (PRISM) prefixes, the
descriptor cuts of the ten WVS features, the static-bias corpus sentences, the steering
pairs, the persona-count anchors and the English country names. This module loads them
once and builds, for one country, the extra prompts the baselines send (`country_prompts`).

**Labels.** `BASELINES` lists every baseline of the spec by its variant label
(``wvs_prompt:released``, ``prism:short``, ``oracle_temp:paper``, ...) with what it needs:
one extra prompt per scenario (``prompt``; ``raw`` for ``prism:suffix``, a malformed chat),
a few prompts per country (``corpus``: the static bias), the persona-count anchors in both
orders (``anchors``), the stored logits only (``stored``), other baselines' logits
(``derived``), the engine's graph hooks (``hook``: steering, MC-dropout emulation) or
nothing it can be built from (``refused``, with the reason).

**WVS levels -> descriptors.** The released B2 and static bias cut a country's WVS score
v ∈ [0, 1] at 0.75 / 0.5 / 0.25 into cut[0..3]. The shipped panels hold levels, not
scores, and the released score (`src/personas.py` ``_normalised_score``: same items,
ranges and directions as PERSONAS.md §4-§5) cut at the same points *is* the level:
v ≥ 0.75 ⇔ level 1, so cut[level - 1]. That holds by meaning for nine features, whose
cut[0] names the pole the score's 1 end measures (persona level 1: "deeply religious",
"very permissive", "very high trust", ...). ``child_rearing``'s released cut list runs
from the other pole: its score's 1 end is independence (persona level 1 "firmly oriented
toward independence and imagination"), its cut[0] "strongly values obedience and faith".
Cut literally, a country that values independence would be called obedient; like the
reversed persona-only descriptor lists (`i18n.REVERSED_IN_RELEASE`), disca-edge reads it
by meaning, cut[4 - level] (`REVERSED_CUTS`). Only the static-bias corpus uses
``child_rearing`` (B2 uses six other features), and the released runs never had a WVS
vector (they used the one-sentence fallback), so no released number depends on it.
The levels are the population persona's (cohort ``all``) of the country's panel.

**``wvs_prompt:paper``** is a project construction (no template is published): the
population persona's ten descriptor sentences in the personas' language (the language
tables' templates and descriptors), joined into one paragraph *without* the persona's
header and closing (with them it would be DISCA's own fourth persona), replacing the
base system prompt.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DiscaError
from ..paths import shipped_dir
from . import i18n
from .personas import Panel

__all__ = [
    "ANCHORS",
    "BASELINES",
    "ALIASES",
    "KINDS",
    "PAPER_STEERING_TEMPLATES",
    "REVERSED_CUTS",
    "Baseline",
    "BaselineTexts",
    "CountryPrompts",
    "aggregate_levels",
    "b1_prefix",
    "b2_prefix",
    "b3_prefix",
    "b4_prefix",
    "country_prompts",
    "describe",
    "descriptor",
    "english_name",
    "static_bias_corpus",
    "steering_sentences",
    "texts",
    "wvs_paper_system",
]

#: What a baseline needs (see the module docstring).
KINDS = ("prompt", "raw", "corpus", "anchors", "stored", "derived", "hook", "refused")

#: The persona-count sweep's extra personas, in the order N = 5 adds the first, N = 6 both.
ANCHORS: tuple[str, ...] = ("utilitarian", "deontological")

#: Features whose released cut list runs from the opposite pole of their score.
REVERSED_CUTS: tuple[str, ...] = ("child_rearing",)

#: The released feature names that differ from the personas' level keys.
_LEVEL_KEY = {"tolerance_diversity": "tolerance", "materialism_orientation": "materialism"}


@dataclass(frozen=True)
class Baseline:
    """One baseline variant of the spec's table (BASELINES.md).

    Attributes:
        label: the variant label (``family:variant``, or the family alone).
        title: its name in the Table-1 view.
        human_data: what human data it uses ("no", "WVS only", "yes: human AMCE").
        kind: one of `KINDS`.
        calls: extra model calls it costs, in words.
        note: how it is built (variant, deviations).
        requires: other labels whose stored logits it reads.
        reason: why a ``refused`` label cannot be built.
    """

    label: str
    title: str
    human_data: str
    kind: str
    calls: str
    note: str = ""
    requires: tuple[str, ...] = ()
    reason: str = ""

    @property
    def family(self) -> str:
        """The label's family (``wvs_prompt`` of ``wvs_prompt:paper``)."""
        return self.label.split(":")[0]


_WVS = "WVS only"
_HUMAN = "yes: human AMCE"
_ONE = "1 prompt / scenario"

BASELINES: dict[str, Baseline] = {
    b.label: b
    for b in (
        Baseline("wvs_prompt:released", "WVS profile prompt", _WVS, "prompt", _ONE,
                 "English user-turn prefix, six descriptors (B2)"),
        Baseline("wvs_prompt:released_as_run", "WVS profile prompt, as run", _WVS, "derived",
                 "0 (b1 and wvs_prompt:released logits)",
                 "B1 text for all but USA, as the released result files", ("b1",
                 "wvs_prompt:released")),
        Baseline("wvs_prompt:paper", "WVS profile system prompt", _WVS, "prompt", _ONE,
                 "project construction: ten descriptors, native, as the system prompt"),
        Baseline("prism:short", "PRISM-style prompt, short", "no", "prompt", _ONE, "B3_short"),
        Baseline("prism:long", "PRISM-style prompt, long", "no", "prompt", _ONE,
                 "B3_long (= prism:paper, the closest to the paper's paragraph)"),
        Baseline("prism:suffix", "PRISM-style prompt, script", "no", "raw", _ONE,
                 "B3_short as the released script sends it: no system turn, no user-turn "
                 "opening, T = 1"),
        Baseline("b1", "Country-tailored prompt (B1)", "no", "prompt", _ONE),
        Baseline("b4", "Country + WVS profile prompt (B4)", _WVS, "prompt", _ONE, "B1 + B2"),
        Baseline("static_bias:released", "Static logit bias", _WVS, "corpus",
                 "1-10 prompts / country", "WVS corpus, one sentence per feature"),
        Baseline("static_bias:as_run", "Static logit bias, as run", "no", "corpus",
                 "1 prompt / country", "the one-sentence fallback corpus the released runs used"),
        Baseline("offset:paper", "Fixed logit offset", "author-labelled pool", "refused", "-",
                 reason="it is fit on the paper's 200-scenario author-labelled synthetic pool, "
                 "which was never released (BASELINES.md §5); static_bias:released is the "
                 "released candidate for that row"),
        Baseline("steer:released", "Activation steering", _WVS, "hook",
                 "1 prompt / scenario + 10 / country",
                 "layer 32 (floor(L/2) where the model has no layer 32, said in the notes), "
                 "the 5 released pairs, unit mean difference, alpha = 1.5, T = 0.5"),
        Baseline("steer:paper", "Activation steering (paper)", _WVS, "hook",
                 "1 prompt / scenario + 40 / country",
                 "project construction: layer floor(L/2), 20 pairs (2 templates x 10 WVS "
                 "features), unit mean difference, alpha = 1.5, T = 0.5"),
        Baseline("mc_dropout:released", "MC-Dropout", "no", "refused", "-",
                 reason="llama.cpp graphs have no dropout layers to switch on; "
                 "mc_dropout:emulated is the emulation"),
        Baseline("mc_dropout:emulated", "MC-Dropout (emulated)", "no", "hook",
                 "8 full decodes / scenario",
                 "p = 0.1 masks on every attn_out and ffn_out, seeded per (seed, scenario, "
                 "pass), 8 passes, per-pass T = 0.5 read-outs averaged; CPU only"),
        Baseline("oracle_margin:released", "Margin scaling m_c (oracle)", _HUMAN, "stored", "0",
                 "25/75 split, fit on 25%, scored on 75%"),
        Baseline("oracle_margin:paper", "Margin scaling m_c (oracle, full pool)", _HUMAN,
                 "stored", "0", "fit and scored on every scenario"),
        Baseline("oracle_temp:released", "Temperature scaling T_c (oracle)", _HUMAN, "stored",
                 "0", "25/75 split, fit on 25%, scored on 75%"),
        Baseline("oracle_temp:paper", "Temperature scaling T_c (oracle, full pool)", _HUMAN,
                 "stored", "0", "fit and scored on every scenario"),
        Baseline("diffpo_binary", "DiffPO-binary (metric check)", "yes: human AMCE as target",
                 "stored", "0", "copies the target: MIS ≈ 0 checks the metric pipeline"),
        Baseline("persona_count", "Persona count N = 2-6", "WVS only", "anchors",
                 "4 prompts / scenario (N = 5, 6)", "DISCA with 2-6 personas"),
        Baseline("tcat_scale", "T_cat scale sweep", "WVS only", "stored", "0",
                 "every T_cat × {1/3, 2/3, 1, 4/3, 5/3}"),
        Baseline("global_tcat", "Global T_cat sweep", "WVS only", "stored", "0",
                 "one T_cat in {1, 1.5, …, 4} for every category"),
    )
}  # fmt: skip

#: Other spellings of a label.
ALIASES = {"prism:paper": "prism:long"}


# --------------------------------------------------------------------------- texts


@dataclass(frozen=True)
class BaselineTexts:
    """The shipped baseline strings (`i18n/baseline_texts.json`), validated.

    Attributes:
        sha256: hash of the file (recorded with runs that use it).
        country_full_names: ISO3 -> the English name the released code fills in.
        prefixes: ``B1``, ``B2_header``, ``B3_short``, ``B3_long``.
        b2_features: the six B2 features, in order.
        descriptor_cuts: feature -> its four descriptors, cut[0] first.
        corpus_features: the static-bias features, in order.
        corpus_sentence: with ``{country_name}`` and ``{descriptor}``.
        corpus_fallback: with ``{country_name}``.
        anchors: ``utilitarian`` and ``deontological`` persona texts.
        steering_pairs: the released steering pairs: (feature, template, high, low).
    """

    sha256: str
    country_full_names: Mapping[str, str]
    prefixes: Mapping[str, str]
    b2_features: tuple[str, ...]
    descriptor_cuts: Mapping[str, tuple[str, str, str, str]]
    corpus_features: tuple[str, ...]
    corpus_sentence: str
    corpus_fallback: str
    anchors: Mapping[str, str]
    steering_pairs: tuple[tuple[str, str, str, str], ...] = ()


@functools.cache
def texts() -> BaselineTexts:
    """The shipped baseline texts (read once).

    Raises:
        DiscaError: the file is missing or malformed.
    """
    path = shipped_dir() / "i18n" / "baseline_texts.json"
    try:
        blob = path.read_bytes()
        raw = json.loads(blob)
        cuts = {k: tuple(v) for k, v in raw["descriptor_cuts"].items()}
        out = BaselineTexts(
            sha256=hashlib.sha256(blob).hexdigest(),
            country_full_names=dict(raw["country_full_names"]),
            prefixes=dict(raw["prompt_prefixes"]),
            b2_features=tuple(raw["b2_features"]),
            descriptor_cuts=cuts,  # type: ignore[arg-type]
            corpus_features=tuple(raw["static_bias"]["features"]),
            corpus_sentence=str(raw["static_bias"]["sentence"]),
            corpus_fallback=str(raw["static_bias"]["fallback"]),
            anchors={k: raw["anchor_personas"][k] for k in ANCHORS},
            steering_pairs=tuple(
                (p["feature"], p["template"], p["high"], p["low"]) for p in raw["steering_pairs"]
            ),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DiscaError(f"{path}: unreadable baseline texts ({exc})") from None
    features = set(out.b2_features) | set(out.corpus_features)
    if any(len(out.descriptor_cuts.get(f, ())) != 4 for f in features):
        raise DiscaError(f"{path}: every feature needs four descriptor cuts")
    return out


def english_name(iso3: str, fallback: str) -> str:
    """The English country name the baselines fill in (`fallback` outside the paper's 20)."""
    return texts().country_full_names.get(iso3, fallback)


def aggregate_levels(panel: Panel) -> dict[str, int | None]:
    """The population persona's (cohort ``all``) levels; empty when the panel has none."""
    for persona in panel.personas:
        if persona.cohort == "all":
            return dict(persona.levels)
    return {}


def descriptor(feature: str, level: int) -> str:
    """The released cut descriptor of a feature at a persona level (see the module docstring).

    Args:
        feature: a released feature name (``tolerance_diversity``, ...).
        level: 1-4.

    Raises:
        ValueError: an unknown feature or a level outside 1-4.
    """
    cuts = texts().descriptor_cuts.get(feature)
    if cuts is None or isinstance(level, bool) or level not in (1, 2, 3, 4):
        raise ValueError(f"no descriptor for {feature!r} at level {level!r}")
    return cuts[4 - level if feature in REVERSED_CUTS else level - 1]


def _levels_of(levels: Mapping[str, int | None], features: tuple[str, ...]) -> list[tuple]:
    """(feature, level) for the features with a level, in order."""
    found = [(f, levels.get(_LEVEL_KEY.get(f, f))) for f in features]
    return [(f, level) for f, level in found if level is not None]


# --------------------------------------------------------------------------- prefixes


def b1_prefix(name: str) -> str:
    """B1, the country-tailored prefix."""
    return texts().prefixes["B1"].replace("{country_name}", name)


def b2_prefix(name: str, levels: Mapping[str, int | None]) -> str:
    """B2, the WVS profile: header, the six descriptors joined by ", ", and ".".

    Without levels it is B1, as the released code degrades.
    """
    if not levels:
        return b1_prefix(name)
    header = texts().prefixes["B2_header"].replace("{country_name}", name)
    parts = [descriptor(f, level) for f, level in _levels_of(levels, texts().b2_features)]
    return header + (", ".join(parts) if parts else "(no data available)") + "."


def b3_prefix(name: str, strength: str) -> str:
    """B3, the PRISM-style prefix, ``short`` or ``long``."""
    if strength not in ("short", "long"):
        raise ValueError(f"strength must be short or long, got {strength!r}")
    return texts().prefixes[f"B3_{strength}"].replace("{country_name}", name)


def b4_prefix(name: str, levels: Mapping[str, int | None]) -> str:
    """B4 = B1 + " " + B2."""
    return b1_prefix(name) + " " + b2_prefix(name, levels)


def static_bias_corpus(name: str, levels: Mapping[str, int | None]) -> tuple[str, ...]:
    """The static-bias corpus: one sentence per feature with a level, else the fallback."""
    t = texts()
    sentences = tuple(
        t.corpus_sentence.replace("{country_name}", name).replace(
            "{descriptor}", descriptor(f, level)
        )
        for f, level in _levels_of(levels, t.corpus_features)
    )
    return sentences or (t.corpus_fallback.replace("{country_name}", name),)


def wvs_paper_system(language: i18n.Language, levels: Mapping[str, int | None]) -> str:
    """``wvs_prompt:paper``'s system prompt (project construction, see the module docstring).

    The population persona's descriptor sentences in ``language``, one paragraph; the
    language's base prompt when the panel has no levels.
    """
    sentences = [
        template.format(desc=language.descriptors[key][level - 1])
        for key, template in language.templates.items()
        for level in [levels.get(key)]
        if level is not None
    ]
    return " ".join(sentences) if sentences else language.base_assistant


#: ``steer:paper``'s two templates (project construction: the paper's 20 pairs are not
#: published; its wording "answer as someone from [country] who values ...", BASELINES.md §6).
PAPER_STEERING_TEMPLATES: tuple[str, ...] = (
    "I am a person from {country} whose values are: {pole}.",
    "Answer as someone from {country} whose values are: {pole}.",
)


def _country_pole_high(levels: Mapping[str, int | None], feature: str) -> bool:
    """The released pole rule: high when the WVS score is ≥ 0.5 (level 1 or 2) or unknown."""
    level = levels.get(_LEVEL_KEY.get(feature, feature))
    return level is None or level <= 2


def steering_sentences(
    name: str, levels: Mapping[str, int | None], variant: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The steering pairs of a country: (its pole's sentences, the opposite pole's).

    ``released``: the five released pairs (BASELINES.md §6). ``paper``: the two
    `PAPER_STEERING_TEMPLATES` × the ten WVS features, poles = the descriptor cuts at
    levels 1 and 4 (project construction). Both take the country's pole by the released
    rule (high when level ≤ 2 or unknown).

    Raises:
        ValueError: an unknown variant.
    """
    t = texts()
    if variant == "released":
        pairs = [(f, tpl, high, low) for f, tpl, high, low in t.steering_pairs]
    elif variant == "paper":
        pairs = [(f, tpl, descriptor(f, 1), descriptor(f, 4))
                 for tpl in PAPER_STEERING_TEMPLATES for f in t.corpus_features]  # fmt: skip
    else:
        raise ValueError(f"steering variant must be released or paper, got {variant!r}")
    positive, negative = [], []
    for feature, template, high, low in pairs:
        own, other = (high, low) if _country_pole_high(levels, feature) else (low, high)
        positive.append(template.replace("{country}", name).replace("{pole}", own))
        negative.append(template.replace("{country}", name).replace("{pole}", other))
    return tuple(positive), tuple(negative)


# --------------------------------------------------------------------------- one country


@dataclass(frozen=True)
class CountryPrompts:
    """One country's baseline texts: what each extra prompt puts where.

    Attributes:
        iso3: the country.
        name: the English name in the prefixes.
        base_system: the run's base system prompt (the frame language's, as vanilla).
        user_prefixes: label -> the prefix put before the user turn, a blank line between.
        systems: label -> the system prompt replacing the base one (``wvs_prompt:paper``).
        corpora: static-bias label -> its sentences.
        anchors: the persona-count anchors, in `ANCHORS` order.
        steering: steering label -> (the country's pole sentences, the opposite pole's).
    """

    iso3: str
    name: str
    base_system: str
    user_prefixes: Mapping[str, str]
    systems: Mapping[str, str]
    corpora: Mapping[str, tuple[str, ...]]
    anchors: tuple[str, ...]
    steering: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = dataclasses.field(
        default_factory=dict
    )

    def turn(self, label: str, user: str) -> tuple[str, str]:
        """(system, user) of a per-scenario baseline prompt around a rendered user turn."""
        if label in self.systems:
            return self.systems[label], user
        return self.base_system, self.user_prefixes[label] + "\n\n" + user

    def raw_user(self, label: str, user: str) -> str:
        """The user content of a ``raw`` baseline (no system turn around it)."""
        return self.user_prefixes[label] + "\n\n" + user


def country_prompts(
    panel: Panel, base_system: str, persona_language: i18n.Language
) -> CountryPrompts:
    """A country's baseline texts (all labels; a run uses the ones it asks for).

    Args:
        panel: the country's shipped (or ``--personas``) panel; its population levels feed
            B2, B4, the static-bias corpus and ``wvs_prompt:paper``.
        base_system: the base system prompt of the run's frame language.
        persona_language: the language of the run's persona texts (``wvs_prompt:paper``).
    """
    name = english_name(panel.iso3, panel.country_name)
    levels = aggregate_levels(panel)
    return CountryPrompts(
        iso3=panel.iso3,
        name=name,
        base_system=base_system,
        user_prefixes={
            "wvs_prompt:released": b2_prefix(name, levels),
            "prism:short": b3_prefix(name, "short"),
            "prism:long": b3_prefix(name, "long"),
            "prism:suffix": b3_prefix(name, "short"),
            "b1": b1_prefix(name),
            "b4": b4_prefix(name, levels),
        },
        systems={"wvs_prompt:paper": wvs_paper_system(persona_language, levels)},
        corpora={
            "static_bias:released": static_bias_corpus(name, levels),
            "static_bias:as_run": static_bias_corpus(name, {}),
        },
        anchors=tuple(texts().anchors[a] for a in ANCHORS),
        steering={f"steer:{v}": steering_sentences(name, levels, v) for v in ("released", "paper")},
    )


def describe(labels: tuple[str, ...]) -> dict[str, Any]:
    """JSON-ready record of a selection: the labels and the texts' hash."""
    return {"labels": list(labels), "texts_sha256": texts().sha256}
