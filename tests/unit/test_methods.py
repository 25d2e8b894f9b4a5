"""Every evaluation method from one set of logits: known answers and equivalence with core."""

from __future__ import annotations

import numpy as np
import pytest

from disca_edge.maths import core
from disca_edge.maths.core import DiscaParams
from disca_edge.maths.methods import (
    METHOD_ORDER,
    compute_methods,
    diagnostics_of,
    finalize,
    method_suite,
    primary_method,
)

# Spec §8.1 test vector: one Age scenario, preferred group on the left, K_half = 4.
ORIG = [0.60, 1.65, 1.35, -0.30, 0.90]
SWAP = [0.30, -1.05, -0.75, 0.60, -0.30]
Z = np.array([[[0.5, -1.0, 1.5, 0.2], [-0.3, 0.8, -1.2, 0.1]]])


def vector_logits(offset: float = 7.0) -> np.ndarray:
    """Logits (1, 2, 5, 2) whose B - A gaps are the spec's raw gaps (A = offset)."""
    logits = np.empty((1, 2, 5, 2))
    logits[0, :, :, 0] = offset
    logits[0, 0, :, 1] = offset + np.array(ORIG)
    logits[0, 1, :, 1] = offset + np.array(SWAP)
    return logits


def run_vector(variant: str = "paper") -> dict:
    return compute_methods(
        vector_logits(),
        np.array([True]),
        ["Age"],
        np.array([False]),
        Z,
        method_suite(variant),
    )


def test_suite_composition():
    paper = method_suite("paper")
    assert list(paper) == [m for m in METHOD_ORDER if m != "no_prior"]
    reference = method_suite("reference")
    assert list(reference) == list(METHOD_ORDER)
    assert primary_method("reference") == "disca_reference"
    # ablations switch exactly one thing in the chosen base
    assert paper["no_is"].params == DiscaParams("paper", use_is=False)
    assert paper["always_on"].params == DiscaParams("paper", use_gate=False)
    assert paper["no_personas"].ablation_of == "disca_paper"
    assert reference["no_debias"].params == DiscaParams("reference", use_debias=False)
    assert reference["no_prior"].params == DiscaParams("reference", use_prior=False)
    # the prior (sequential) is on exactly where the reference variant keeps it
    sequential = {n for n, m in reference.items() if m.sequential}
    assert sequential == {"disca_reference", "no_personas", "no_is", "always_on", "no_debias"}
    assert {n for n, m in paper.items() if m.sequential} == {"disca_reference"}
    described = paper["disca_paper"].describe()
    assert described["params"]["variant"] == "paper" and described["sequential"] is False


def test_suite_overrides_and_errors():
    suite = method_suite("paper", {"utility_floor": 0.5, "k_half": 8})
    assert all(m.params.utility_floor == 0.5 for m in suite.values())
    with pytest.raises(ValueError, match="variant"):
        method_suite("other")
    with pytest.raises(ValueError, match="unknown DISCA parameter"):
        method_suite("paper", {"nope": 1})


def test_spec_test_vector():
    out = run_vector()
    # preferred group on the left: p_spare = 1 - p_B (spec §8.1 values)
    assert out["disca_paper"]["p_spare_micro"][0] == pytest.approx(0.283968, abs=1e-6)
    assert out["disca_reference"]["p_spare_micro"][0] == pytest.approx(0.349576, abs=1e-6)
    assert out["vanilla_raw"]["p_spare_micro"][0] == pytest.approx(1 - 0.768525, abs=1e-6)
    assert out["vanilla_lfl"]["p_spare_micro"][0] == pytest.approx(1 - 0.549834, abs=1e-6)
    paper = out["disca_paper"]
    assert paper["delta_micro"][0] == pytest.approx(0.462431, abs=1e-6)
    assert paper["delta_bar"][0] == pytest.approx(0.425)
    assert paper["disagreement"][0] == pytest.approx(0.275833, abs=1e-6)
    assert paper["sigma"][0] == pytest.approx(0.525198, abs=1e-6)
    assert paper["ess_ratio"][0] == pytest.approx([0.532369, 0.602068], abs=1e-6)
    assert paper["delta_star_passes"][0] == pytest.approx([0.132772, -0.009020], abs=1e-6)
    assert paper["reliability"][0] == pytest.approx(0.604941, abs=1e-6)
    assert paper["delta_personas"][0] == pytest.approx([0.9, 0.7, -0.3, 0.4])
    assert out["disca_reference"]["alpha_ess"][0] == pytest.approx(0.532369, abs=1e-6)
    # raw gap of vanilla_raw: z_B - z_A of the base prompt, original order (no T_cat)
    assert out["vanilla_raw"]["delta_micro"][0] == pytest.approx(0.60)
    assert out["vanilla_lfl"]["delta_micro"][0] == pytest.approx(0.1)
    # b_j = ½(δ^orig + δ^swap) / T_cat: base (0.6 + 0.3) / 2 / 1.5 = 0.3
    assert paper["bias"][0, 0] == pytest.approx(0.3)


def test_logit_offsets_do_not_matter():
    a = run_vector()
    rng = np.random.default_rng(3)
    logits = vector_logits() + rng.normal(0, 5, size=(1, 2, 5, 1))  # same shift for A and B
    b = compute_methods(logits, np.array([True]), ["Age"], np.array([False]), Z, method_suite())
    for name in a:
        assert b[name]["p_spare_micro"] == pytest.approx(a[name]["p_spare_micro"], abs=1e-9)


def random_batch(n: int = 24, seed: int = 0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, size=(n, 2, 5, 2)) + 20.0
    swap = rng.random(n) > 0.1
    cats = list(
        rng.choice(["Species", "Gender", "Age", "Fitness", "SocialValue", "Utilitarianism"], n)
    )
    right = rng.random(n) > 0.5
    z = core.draws(42, range(n), 64)
    return logits, swap, cats, right, z


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_every_method_equals_core(variant):
    logits, swap, cats, right, z = random_batch()
    suite = method_suite(variant)
    out = compute_methods(logits, swap, cats, right, z, suite)
    for name, method in suite.items():
        prm = method.params
        if method.kind == "vanilla_raw":
            p_b = core.vanilla_raw_p_b(logits[:, 0, 0, 0], logits[:, 0, 0, 1], prm.t_dec)
        else:
            base, personas = core.scenario_gaps(logits, cats, prm, has_swap=swap)
            if method.kind == "vanilla_lfl":
                p_b = core.vanilla_lfl_p_b(base, prm.t_dec)
            else:
                p_b = core.correct(base, personas, z, prm).p_b
        expected = core.p_spare(p_b, right)
        np.testing.assert_allclose(out[name]["p_spare_micro"], expected, rtol=0, atol=1e-12)
    # ablations really differ from the full method somewhere (they are not aliases)
    full = out[primary_method(variant)]["delta_micro"]
    for name in ("no_personas", "no_is", "always_on", "no_debias"):
        assert not np.allclose(out[name]["delta_micro"], full)


def test_no_personas_consensus_is_base():
    logits, swap, cats, right, z = random_batch()
    out = compute_methods(logits, swap, cats, right, z, method_suite())
    np.testing.assert_allclose(out["no_personas"]["delta_bar"], out["vanilla_lfl"]["delta_micro"])


def test_finalize_applies_the_prior_in_order():
    logits, swap, cats, right, z = random_batch(n=80, seed=1)
    suite = method_suite("reference")
    out = compute_methods(logits, swap, cats, right, z, suite)
    ref = suite["disca_reference"]
    delta_out, p = finalize(out["disca_reference"]["delta_micro"], right, ref)
    np.testing.assert_allclose(
        delta_out, core.country_prior(out["disca_reference"]["delta_micro"], ref.params)
    )
    assert p == pytest.approx(core.p_spare(core.sigmoid(delta_out / 0.5), right))
    # past the warm-up the prior moves the gaps; before it (t < 50 incl. 3 replays) it does not
    assert np.allclose(delta_out[:47], out["disca_reference"]["delta_micro"][:47])
    assert not np.allclose(delta_out[60:], out["disca_reference"]["delta_micro"][60:])
    # order matters for the sequential method ...
    order = np.random.default_rng(0).permutation(80)
    shuffled, _ = finalize(out["disca_reference"]["delta_micro"][order], right[order], ref)
    assert not np.allclose(shuffled, delta_out[order])
    # ... and a non-sequential method is final after stage 1
    paper = suite["disca_paper"]
    _, p_paper = finalize(out["disca_paper"]["delta_micro"], right, paper)
    np.testing.assert_array_equal(p_paper, out["disca_paper"]["p_spare_micro"])
    empty_out, empty_p = finalize(np.zeros(0), np.zeros(0, bool), ref)
    assert empty_out.shape == empty_p.shape == (0,)


def test_diagnostics_are_json_ready():
    logits, swap, cats, right, z = random_batch(n=4)
    swap[1] = False
    out = compute_methods(logits, swap, cats, right, z, method_suite())
    diag = diagnostics_of(out["disca_paper"], 1)
    assert diag["bias"] == [None] * 5  # no swap: no position bias
    assert isinstance(diag["sigma"], float) and len(diag["ess_ratio"]) == 2
    assert set(diag) >= {"delta_base", "delta_bar", "reliability", "alpha_ess", "delta_micro"}
    assert diagnostics_of(out["no_is"], 1).keys() == {"delta_bar", "delta_micro"}


def test_shape_errors():
    logits, swap, cats, right, z = random_batch(n=3)
    suite = method_suite()
    with pytest.raises(ValueError, match="logits"):
        compute_methods(logits[:, :, :2], swap, cats, right, z, suite)
    with pytest.raises(ValueError, match="has_swap"):
        compute_methods(logits, swap[:2], cats, right, z, suite)
    with pytest.raises(ValueError, match="categories"):
        compute_methods(logits, swap, cats[:2], right, z, suite)
    with pytest.raises(ValueError, match="preferred_right"):
        compute_methods(logits, swap, cats, right.astype(int), z, suite)
    with pytest.raises(ValueError, match="z must"):
        compute_methods(logits, swap, cats, right, z[:2], suite)
    bad = logits.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        compute_methods(bad, swap, cats, right, z, suite)
