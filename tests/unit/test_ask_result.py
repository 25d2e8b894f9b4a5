"""`ask.result`: `AskResult` from injected logits, its wire object, reading it back, the prior.

Results here are built from the spec §8.1 test vector (no model calls). The bytes of the
wire object are pinned by `test_wire_format.py`; here its shape is compared with the
goldens the pre-refactor code wrote, and every golden line is read back and rewritten.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from disca_edge import pipeline
from disca_edge.ask.inputs import make_input
from disca_edge.ask.result import SCHEMA, AskResult, answers_from_logits, apply_prior
from disca_edge.content.personas import load_panel
from disca_edge.errors import DiscaError
from disca_edge.maths import core
from disca_edge.models.open import ModelInfo

GOLDEN_LINES = (Path(__file__).parents[1] / "golden" / "ask-results.jsonl").read_text(
    encoding="utf-8"
)
# the settings the goldens were written with (tests/unit/test_wire_format.py)
FAKE_MODEL = ModelInfo(
    name="fake", path="/models/fake.gguf", sha256="0" * 64, settings={"n_ctx": 4096}
)

# spec §8.1: raw gaps z_B - z_A for j = 0..4, Age (T_cat 1.5)
ORIG = [0.60, 1.65, 1.35, -0.30, 0.90]
SWAP = [0.30, -1.05, -0.75, 0.60, -0.30]


def panel_logits(orig, swap, texts=None) -> pipeline.PanelLogits:
    """PanelLogits of one dilemma whose A logits are 0 and B logits are the given gaps."""
    logits = np.zeros((1, 2, 5, 2))
    logits[0, 0, :, 1] = orig
    logits[0, 1, :, 1] = swap
    ids = np.broadcast_to(np.array([49, 50]), (1, 2, 5, 2)).copy()
    texts = texts or [[f"prompt {o} {a}" for o in pipeline.ORDERS for a in pipeline.AGENTS]]
    return pipeline.PanelLogits(logits, np.array([True]), ids, texts)


def build(
    orig=ORIG, swap=SWAP, *, category="Age", index=0, variant="paper", seed=42, n_tokens=None
):
    """The `AskResult` of the §8.1 vector (a trolley question for Japan)."""
    item = make_input("a boy", "two elderly women", category=category, index=index)
    (result,) = answers_from_logits(
        [item],
        panel_logits(orig, swap),
        model_info=FAKE_MODEL,
        panel=load_panel("JPN"),
        params=core.DiscaParams(variant),
        seed=seed,
        n_tokens=n_tokens,
    )
    return result


def test_result_follows_the_spec_test_vector():
    r = build()
    assert r.schema == "ask-result/1" and r.country == "JPN" and r.t_cat == 1.5
    assert r.base_gap == pytest.approx(0.1)
    assert list(r.persona_gaps.values()) == pytest.approx([0.9, 0.7, -0.3, 0.4])
    assert r.correction.delta_bar == pytest.approx(0.425)
    assert r.correction.disagreement == pytest.approx(0.275833, abs=1e-6)
    assert r.correction.sigma == pytest.approx(0.525198, abs=1e-6)
    assert r.vanilla.p_b == pytest.approx(0.768525, abs=1e-6)
    assert r.vanilla_matched.p_b == pytest.approx(0.549834, abs=1e-6)
    assert r.position_bias["base"] == pytest.approx(0.3)
    # the correction is core.correct with draws(seed, index)
    corr = core.correct(
        0.1, [0.9, 0.7, -0.3, 0.4], core.draws(42, [0], 64)[0], core.DiscaParams("paper")
    )
    assert r.correction.delta_final == pytest.approx(corr.delta_final[0], abs=1e-12)
    assert r.disca.p_b == pytest.approx(corr.p_b[0], abs=1e-12)
    assert r.disca.choice == "B" and r.disca.option == "two elderly women"
    assert [(e.agent, e.order) for e in r.evaluations][:6] == [
        ("base", "orig"), ("young", "orig"), ("middle", "orig"), ("older", "orig"),
        ("all", "orig"), ("base", "swap"),
    ]  # fmt: skip
    assert r.evaluations[7].logit_b == SWAP[2] and r.evaluations[7].prompt.endswith("swap middle")
    assert "Country prior OFF" in r.variant_notes
    json.dumps(r.to_dict(), allow_nan=False)  # plain JSON: no NaN, no NumPy types


def _shape(value):
    """Keys in order and value types, all the way down (a list by its elements' shapes)."""
    if isinstance(value, dict):
        return [(key, _shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return ["list", [_shape(item) for item in value]]
    return type(value).__name__


def test_to_dict_has_the_shape_the_pre_refactor_code_wrote():
    old = json.loads(GOLDEN_LINES.splitlines()[0])  # JPN, paper, trolley, line null, id null
    new = build(n_tokens=[range(100, 110)]).to_dict()
    assert _shape(new) == _shape(old)
    assert list(new) == list(old) and new["schema"] == SCHEMA
    assert new["country"] == new["panel"]["iso3"] == "JPN" and new["t_dec"] == 0.5
    assert new["params"] == core.DiscaParams("paper").to_dict()
    assert new["correction"]["ess_ratio"] == list(build().correction.ess_ratio)


def test_every_golden_line_reads_back_and_writes_the_same_bytes():
    lines = GOLDEN_LINES.splitlines()
    assert len(lines) == 9
    for line in lines:
        result = AskResult.from_dict(json.loads(line))
        assert json.dumps(result.to_dict(), ensure_ascii=False) == line


def test_from_dict_inverts_to_dict():
    r = build()
    back = AskResult.from_dict(r.to_dict())
    assert back == r and back.disca.flips_vanilla == r.disca.flips_vanilla
    assert isinstance(back.correction.delta_star_passes, tuple)
    assert back != build(seed=7)  # equality looks at the numbers


def test_from_dict_refuses_other_objects_in_one_line():
    data = build().to_dict()
    with pytest.raises(DiscaError, match=r"not an ask-result/1 object \(schema 'results/1'\)"):
        AskResult.from_dict({**data, "schema": "results/1"})
    with pytest.raises(DiscaError, match="not a complete ask-result/1 object: 'correction'"):
        AskResult.from_dict({k: v for k, v in data.items() if k != "correction"})
    with pytest.raises(DiscaError, match="country 'USA' disagrees with 'JPN'"):
        AskResult.from_dict({**data, "country": "USA"})


def test_a_result_is_frozen():
    r = build()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.base_gap = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.disca.choice = "A"  # type: ignore[misc]


def test_noise_index_and_seed_select_the_draws():
    a, b, c = build(index=0), build(index=1), build(index=0, seed=7)
    assert a.correction.delta_star_passes != b.correction.delta_star_passes
    assert a.correction.delta_star_passes != c.correction.delta_star_passes
    assert a.base_gap == b.base_gap == c.base_gap


def test_reference_variant_and_prior_over_a_sequence():
    params = core.DiscaParams("reference", use_prior=True)
    items = [make_input("a", "b", category="age", index=i) for i in range(60)]
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (60, 2, 5, 2))
    pl = pipeline.PanelLogits(
        logits, np.ones(60, bool), np.zeros((60, 2, 5, 2), int), [["p"] * 10] * 60
    )
    results = answers_from_logits(
        items, pl, model_info=FAKE_MODEL, panel=load_panel("JP"), params=params, seed=1
    )
    micro = [r.correction.delta_micro for r in results]
    assert [r.correction.delta_final for r in results] == micro  # not applied yet
    priored = apply_prior(results, params)
    final = [r.correction.delta_final for r in priored]
    assert final == pytest.approx(core.country_prior(np.array(micro), params), abs=1e-12)
    assert final[:48] == micro[:48] and final[48:] != micro[48:]  # warm-up, then the prior
    assert [r.correction.delta_final for r in results] == micro  # new results, old ones kept
    assert priored[55].disca.p_b == pytest.approx(float(core.sigmoid(final[55] / 0.5)))
    assert priored[55].disca.flips_vanilla == (
        priored[55].disca.choice != results[55].vanilla.choice
    )
    assert [r.correction.delta_micro for r in priored] == micro
    notes = results[0].variant_notes
    assert "Country prior ON" in notes and "no effect on the first 48 dilemmas" in notes
    e1, e2 = results[0].correction.ess_ratio
    assert results[0].correction.alpha_ess == pytest.approx(min(1, max(0.1, min(e1, e2))))


def test_the_prior_is_a_no_op_when_off():
    r = build()
    assert apply_prior([r], core.DiscaParams("paper")) == [r]
    assert apply_prior([], core.DiscaParams("reference", use_prior=True)) == []
