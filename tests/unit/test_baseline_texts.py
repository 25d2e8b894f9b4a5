"""The shipped baseline texts (`i18n/baseline_texts.json`) equal the spec's verbatim strings.

The spec (`../shared/spec/BASELINES.md`) quotes the released code's strings; the file ships
them, with the MIT notice, as data. Where the spec is absent the comparison is skipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from disca_edge.paths import shipped_dir

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "BASELINES.md"


@pytest.fixture(scope="module")
def texts() -> dict:
    return json.loads((shipped_dir() / "i18n" / "baseline_texts.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def spec() -> str:
    if not SPEC.is_file():
        pytest.skip(f"the spec is not available here ({SPEC})")
    return SPEC.read_text("utf-8")


def _quoted_blocks(spec: str) -> set[str]:
    """The indented verbatim lines of the spec (its code blocks inside list items)."""
    return {m.group(1) for m in re.finditer(r"^ {6,7}(\S.*)$", spec, re.M)}


def test_every_prefix_and_anchor_is_quoted_in_the_spec(texts, spec):
    quoted = _quoted_blocks(spec)
    for name, text in {**texts["prompt_prefixes"], **texts["anchor_personas"]}.items():
        assert text in quoted, name


def test_the_b2_header_keeps_its_trailing_space(texts, spec):
    header = texts["prompt_prefixes"]["B2_header"]
    assert header.endswith(": ") and f"      {header}\n" in spec


def test_descriptor_cuts_match_the_spec_table(texts, spec):
    rows = dict(re.findall(r"^  \| ([a-z_]+) \| (.+?) \|$", spec, re.M))
    assert set(rows) == set(texts["b2_features"])  # the spec shows the six B2 uses
    for feature, cells in rows.items():
        assert texts["descriptor_cuts"][feature] == cells.split(" / "), feature
    assert len(texts["descriptor_cuts"]) == 10
    assert all(len(cuts) == 4 for cuts in texts["descriptor_cuts"].values())


def test_corpus_sentences_and_steering_pairs_match_the_spec(texts, spec):
    assert f"`{texts['static_bias']['sentence']}`" in spec
    assert f"`{texts['static_bias']['fallback']}`" in spec
    pairs = {p["feature"]: p for p in texts["steering_pairs"]}
    assert list(pairs) == [
        "religiosity", "gender_equality", "tolerance_diversity", "social_trust", "national_pride"
    ]  # fmt: skip
    for feature, pair in pairs.items():
        assert f"- {feature}: `{pair['high']}` / `{pair['low']}`" in spec, feature
    assert pairs["social_trust"]["template"].endswith("who has {pole}.")
    assert "`I am a person from {country} who is {pole}.`" in spec


def test_country_names_are_the_english_ones_the_baselines_fill_in(texts, spec):
    names = texts["country_full_names"]
    assert len(names) == 20
    for iso, name in (("USA", "the United States"), ("GBR", "Great Britain"), ("VNM", "Vietnam")):
        assert names[iso] == name and f'"{name}"' in spec


def test_the_mit_notice_ships_beside_the_texts(texts):
    folder = shipped_dir() / "i18n"
    notice = (folder / "LICENSE").read_text("utf-8")
    assert "baseline_texts.json" in notice and "MIT License" in notice
    assert "Copyright (c) 2025" in notice and 'THE SOFTWARE IS PROVIDED "AS IS"' in notice
    assert "trungkiet2005/cultural_alignment@36f01cb (MIT)" in texts["source"]
    assert "baseline_texts.json" in (folder / "PROVENANCE.md").read_text("utf-8")
