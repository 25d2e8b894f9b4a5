"""Known-answer, reference and property tests of the pure-NumPy DISCA core."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from disca_edge.maths.core import (
    Correction,
    DiscaParams,
    _sampling,
    correct,
    country_prior,
    debias,
    draws,
    gaps,
    p_spare,
    prior_alpha,
    scenario_gaps,
    sigmoid,
    utilities,
    vanilla_lfl_p_b,
    vanilla_raw_p_b,
)

# --------------------------------------------------------------------------- naive reference
# A deliberately literal, scalar transcription of spec §3 Steps 3-7, one scenario at a
# time with plain Python floats and loops. It shares no code with disca_edge.maths.core.


def _v(u: float, prm: DiscaParams) -> float:
    """Prospect-theory value: u^α for u >= 0, -κ (-u)^β for u < 0."""
    return u**prm.pt_alpha if u >= 0 else -prm.kappa * (-u) ** prm.pt_beta


def naive_scenario(db: float, dps: list[float], z: list[list[float]], prm: DiscaParams) -> dict:
    n = len(dps)
    if not prm.use_personas:
        dps = [db] * n
    dbar = sum(dps) / n
    d2 = sum((d - dbar) ** 2 for d in dps) / (n - 1)
    sigma = max(math.sqrt(d2), prm.sigma_floor)
    k_half = len(z[0])
    us, ess, dstar_m = [], [], []
    for m in range(2):
        eps = [sigma * z[m][k] for k in range(k_half)]
        u_m = []
        for k in range(k_half):
            dt = dbar + eps[k]
            vals = []
            for di in dps:
                g = abs(db - di) - abs(dt - di)
                val = _v(g / sigma, prm)
                if prm.utility_floor > 0:
                    val = max(val, -prm.utility_floor)
                vals.append(val)
            gc = abs(db - dbar) - abs(dt - dbar)
            u_m.append(
                (1 - prm.lambda_coop) * sum(vals) / n + prm.lambda_coop * _v(gc / sigma, prm)
            )
        us.append(u_m)
        if prm.use_is:
            top = max(u_m)
            ex = [math.exp((u - top) / prm.eta) for u in u_m]
            tot = sum(ex)
            w = [e / tot for e in ex]
            e_m = (1 / sum(wi * wi for wi in w)) / k_half
            d_m = sum(wi * ei for wi, ei in zip(w, eps, strict=True)) if e_m >= prm.rho_eff else 0.0
        else:
            e_m, d_m = 1.0, 0.0
        ess.append(e_m)
        dstar_m.append(d_m)
    v_r = (dstar_m[0] - dstar_m[1]) ** 2
    r = math.exp(-v_r / prm.var_scale) if prm.use_gate else 1.0
    dstar = r * (dstar_m[0] + dstar_m[1]) / 2
    if not prm.use_ess_blend:
        alpha = 1.0
    elif prm.variant == "paper":
        alpha = min(1.0, (ess[0] + ess[1]) / 2 / prm.rho_eff)
    else:
        alpha = min(1.0, max(prm.rho_eff, min(ess)))
    micro = alpha * dbar + (1 - alpha) * db + dstar
    x = micro / prm.t_dec
    p_b = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
    return {
        "delta_bar": dbar,
        "disagreement": d2,
        "sigma": sigma,
        "U": us,
        "ess_ratio": ess,
        "delta_star_passes": dstar_m,
        "v_r": v_r,
        "reliability": r,
        "delta_star": dstar,
        "alpha_ess": alpha,
        "delta_final": micro,
        "p_b": p_b,
    }


def naive_prior(x: list[float], prm: DiscaParams) -> list[float]:
    """Spec §5.2 literally: replays on the first scenarios, then the main loop."""
    country, t = 0.0, 0
    for v in x[: prm.prior_replays]:
        country = (1 - prm.beta_ema) * country + prm.beta_ema * v
        t += 1
    out = []
    for v in x:
        a = 0.0 if t < prm.n_warmup else 1 - math.exp(-(t - prm.n_warmup) / prm.decay_tau)
        out.append(a * country + (1 - a) * v)
        country = (1 - prm.beta_ema) * country + prm.beta_ema * v
        t += 1
    return out


FIELDS = (
    "delta_bar",
    "disagreement",
    "sigma",
    "ess_ratio",
    "delta_star_passes",
    "reliability",
    "delta_star",
    "alpha_ess",
    "delta_final",
    "p_b",
)


def assert_matches_naive(base, personas, z, prm, rtol=1e-12, atol=1e-12):
    res = correct(base, personas, z, prm)
    ref = [
        naive_scenario(b, list(p), z_s.tolist(), prm)
        for b, p, z_s in zip(base, personas, z, strict=True)
    ]
    for name in FIELDS:
        want = np.array([r[name] for r in ref])
        np.testing.assert_allclose(getattr(res, name), want, rtol=rtol, atol=atol, err_msg=name)
    return res, ref


def random_inputs(seed: int, n_s: int = 12, n_p: int = 4, k_half: int = 64, spread=1.0):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1.5, n_s)
    personas = base[:, None] + rng.normal(0, spread, (n_s, n_p)) * rng.uniform(0, 1, (n_s, 1))
    return base, personas, rng.standard_normal((n_s, 2, k_half))


# --------------------------------------------------------------------------- spec §8.1 test vector

VEC_ORIG = np.array([0.60, 1.65, 1.35, -0.30, 0.90])  # z_B - z_A, j = 0..4
VEC_SWAP = np.array([0.30, -1.05, -0.75, 0.60, -0.30])
VEC_Z = np.array([[0.5, -1.0, 1.5, 0.2], [-0.3, 0.8, -1.2, 0.1]])


def _vector_gaps():
    logits = np.zeros((1, 2, 5, 2))  # z_A = 0, z_B = the raw gap
    logits[0, 0, :, 1] = VEC_ORIG
    logits[0, 1, :, 1] = VEC_SWAP
    return scenario_gaps(logits, "Age", DiscaParams())


def test_vector_gaps():
    base, personas = _vector_gaps()
    np.testing.assert_allclose(base, [0.1], atol=1e-12)
    np.testing.assert_allclose(personas, [[0.9, 0.7, -0.3, 0.4]], atol=1e-12)
    # the same through the elementary helpers
    d = debias(gaps(0.0, VEC_ORIG, 1.5), gaps(0.0, VEC_SWAP, 1.5))
    np.testing.assert_allclose(d, [0.1, 0.9, 0.7, -0.3, 0.4], atol=1e-12)


@pytest.mark.parametrize(
    "variant, alpha, d_out, p_b, p_sp",
    [
        ("paper", 1.0, 0.462431, 0.716032, 0.283968),
        ("reference", 0.532369, 0.310451, 0.650424, 0.349576),
    ],
)
def test_vector_correct(variant, alpha, d_out, p_b, p_sp):
    base, personas = _vector_gaps()
    prm = DiscaParams(variant)
    res = correct(base, personas, VEC_Z[None], prm)
    tol = {"atol": 1e-6, "rtol": 0}
    np.testing.assert_allclose(res.delta_bar, [0.425], **tol)
    np.testing.assert_allclose(res.disagreement, [0.275833], **tol)
    np.testing.assert_allclose(res.delta_bar - res.delta_base, [0.325], **tol)  # Δ
    np.testing.assert_allclose(res.sigma, [0.525198], **tol)
    u = utilities(base, personas, VEC_Z[None], prm)
    np.testing.assert_allclose(u[0, 0], [0.089473, -0.858590, -1.815425, 0.337508], **tol)
    np.testing.assert_allclose(res.ess_ratio, [[0.532369, 0.602068]], **tol)
    np.testing.assert_allclose(res.delta_star_passes, [[0.132772, -0.009020]], **tol)
    v_r = (res.delta_star_passes[:, 0] - res.delta_star_passes[:, 1]) ** 2
    np.testing.assert_allclose(v_r, [0.020105], **tol)
    np.testing.assert_allclose(res.reliability, [0.604941], **tol)
    np.testing.assert_allclose(res.delta_star, [0.037431], **tol)
    np.testing.assert_allclose(res.alpha_ess, [alpha], **tol)
    # reference row of the table is "no prior": δ_out = δ_micro
    np.testing.assert_allclose(res.delta_final, [d_out], **tol)
    np.testing.assert_allclose(res.p_b, [p_b], **tol)
    np.testing.assert_allclose(p_spare(res.p_b, False), [p_sp], **tol)  # preferred: left
    assert vanilla_raw_p_b(0.0, VEC_ORIG[0]) == pytest.approx(0.768525, abs=1e-6)
    assert vanilla_lfl_p_b(base[0]) == pytest.approx(0.549834, abs=1e-6)
    # the naive transcription agrees on every intermediate
    ref = naive_scenario(base[0], list(personas[0]), VEC_Z.tolist(), prm)
    np.testing.assert_allclose(u[0], ref["U"], rtol=1e-12, atol=1e-12)
    assert ref["delta_final"] == pytest.approx(d_out, abs=1e-6)


# --------------------------------------------------------------------------- hand-worked golden case


def test_golden_two_personas_two_samples():
    """N = 2, K_half = 2, both passes fed the same z, so V_r = 0 and r = 1.

    δ_base = 0, δ_i = (0.2, 0.6):  δ̄ = 0.4, D² = (0.2² + 0.2²)/1 = 0.08,
    √D² = 0.2828 < 0.3  =>  σ = 0.3;  Δ = 0.4;  z = (+1, -1)  =>  ε = (+0.3, -0.3),
    δ̃ = (0.7, 0.1).
    Gains g/σ (|δ_base - δ_i| = 0.2, 0.6; |Δ| = 0.4):
      k=1 (δ̃ 0.7): persona 0.2: 0.2 - 0.5 = -0.3 -> -1   -> v = -2.25 · 1^0.88 = -2.25
                   persona 0.6: 0.6 - 0.1 = +0.5 -> 5/3  -> v = (5/3)^0.88 = 1.5675698
                   consensus:   0.4 - 0.3 = +0.1 -> 1/3  -> v = (1/3)^0.88 = 0.3803061
      k=2 (δ̃ 0.1): persona 0.2: 0.2 - 0.1 = 0.1 -> 1/3; persona 0.6: 0.6 - 0.5 = 0.1 -> 1/3;
                   consensus 1/3  -> every v = 0.3803061
    U_1 = 0.3 · (-2.25 + 1.5675698)/2 + 0.7 · 0.3803061 = -0.1023645 + 0.2662143 = 0.1638497
    U_2 = 0.3 · 0.3803061 + 0.7 · 0.3803061 = 0.3803061
    w_2 = 1 / (1 + exp((U_1 - U_2)/0.5)) = 1 / (1 + exp(-0.4329127)) = 0.6065690, w_1 = 0.3934310
    e = (1 / (w_1² + w_2²)) / 2 = 0.9565462 (>= 0.1, guard passes)
    δ*_m = 0.3 w_1 - 0.3 w_2 = -0.0639414;  V_r = 0, r = 1, δ* = -0.0639414
    paper:     α = min(1, 0.9565/0.1) = 1     -> δ_micro = 0.4 - 0.0639414 = 0.3360586
               p_B = sigmoid(0.3360586 / 0.5) = 0.6619771
    reference: α = min(1, max(0.1, 0.9565)) = 0.9565462
               -> δ_micro = 0.9565462 · 0.4 + 0.0435 · 0 - 0.0639414 = 0.3186771
               p_B = sigmoid(0.3186771 / 0.5) = 0.6541551
    """
    z = [[1.0, -1.0], [1.0, -1.0]]
    for variant, alpha, micro, p_b in [
        ("paper", 1.0, 0.3360586, 0.6619771),
        ("reference", 0.9565462, 0.3186771, 0.6541551),
    ]:
        prm = DiscaParams(variant)
        res = correct(0.0, [0.2, 0.6], z, prm)  # one scenario, lifted to S = 1
        tol = {"atol": 5e-8, "rtol": 0}
        np.testing.assert_allclose(res.delta_bar, [0.4], **tol)
        np.testing.assert_allclose(res.disagreement, [0.08], **tol)
        np.testing.assert_allclose(res.sigma, [0.3], **tol)
        np.testing.assert_allclose(
            utilities(0.0, [0.2, 0.6], z, prm)[0, 0], [0.1638497, 0.3803061], **tol
        )
        np.testing.assert_allclose(res.ess_ratio, [[0.9565462] * 2], **tol)
        np.testing.assert_allclose(res.delta_star_passes, [[-0.0639414] * 2], **tol)
        np.testing.assert_allclose(res.reliability, [1.0], **tol)
        np.testing.assert_allclose(res.delta_star, [-0.0639414], **tol)
        np.testing.assert_allclose(res.alpha_ess, [alpha], **tol)
        np.testing.assert_allclose(res.delta_final, [micro], **tol)
        np.testing.assert_allclose(res.p_b, [p_b], **tol)


def test_golden_k_half_one_is_plain_offset():
    """K_half = 1: one sample per pass, so w = 1, e = 1 and δ*_m = ε_m = σ z_m.

    Identical personas 0.5, base 0: σ = σ_0 = 0.3; z = (1, -1) -> δ*_m = (0.3, -0.3),
    V_r = 0.36, r = exp(-0.36/0.04) = exp(-9) = 1.2341e-4, δ* = r · 0 = 0;
    α = 1 in both variants -> δ_micro = δ̄ = 0.5.
    """
    for variant in ("paper", "reference"):
        res = correct(0.0, [0.5, 0.5, 0.5, 0.5], [[1.0], [-1.0]], DiscaParams(variant))
        np.testing.assert_allclose(res.delta_star_passes, [[0.3, -0.3]], atol=1e-15)
        np.testing.assert_allclose(res.reliability, [math.exp(-9)], rtol=1e-12)
        np.testing.assert_allclose(res.delta_final, [0.5], atol=1e-15)


# --------------------------------------------------------------------------- vs the naive reference

SWITCHES = [
    {},
    {"utility_floor": 0.5},
    {"utility_floor": 2.0},
    {"use_is": False},
    {"use_gate": False},
    {"use_personas": False},
    {"use_ess_blend": False},
    {"pt_beta": 0.7},  # general α ≠ β path
    {"pt_beta": 0.7, "utility_floor": 1.0},
    {"lambda_coop": 1.0},
    {"lambda_coop": 0.0, "kappa": 1.0},
    {"rho_eff": 0.6},  # the ESS guard fires often
    {"eta": 0.05, "sigma_floor": 0.1},
]


@pytest.mark.parametrize("variant", ["paper", "reference"])
@pytest.mark.parametrize(
    "overrides", SWITCHES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default"
)
def test_matches_naive(variant, overrides):
    prm = DiscaParams(variant, **overrides)
    base, personas, z = random_inputs(hash((variant, tuple(overrides))) % 2**32)
    assert_matches_naive(base, personas, z, prm)
    # U through the shared kernel too
    ref_u = [
        naive_scenario(b, list(p), zs.tolist(), prm)["U"]
        for b, p, zs in zip(base, personas, z, strict=True)
    ]
    np.testing.assert_allclose(utilities(base, personas, z, prm), ref_u, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_p, k_half", [(2, 3), (3, 64), (6, 17), (4, 1)])
def test_matches_naive_shapes(n_p, k_half):
    base, personas, z = random_inputs(n_p * 100 + k_half, n_s=7, n_p=n_p, k_half=k_half)
    for variant in ("paper", "reference"):
        assert_matches_naive(base, personas, z, DiscaParams(variant))


def test_guard_fires_against_naive():
    """Strong disagreement and a strict guard: some passes are zeroed, matching naive."""
    base, personas, z = random_inputs(7, n_s=30, spread=6.0)
    prm = DiscaParams("reference", rho_eff=0.5)
    res, _ = assert_matches_naive(base, personas, z, prm)
    zeroed = res.ess_ratio < 0.5
    assert zeroed.any() and (~zeroed).any()
    assert (res.delta_star_passes[zeroed] == 0).all()


def test_chunk_boundaries(monkeypatch):
    base, personas, z = random_inputs(3, n_s=23)
    whole = correct(base, personas, z, DiscaParams())
    monkeypatch.setattr(_sampling, "_CHUNK", 5)  # 5 + 5 + 5 + 5 + 3
    parts = correct(base, personas, z, DiscaParams())
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name), err_msg=name)


@pytest.mark.parametrize("variant", ["paper", "reference"])
@pytest.mark.parametrize("overrides", [{}, {"utility_floor": 0.5}, {"pt_alpha": 0.8}])
def test_batch_invariance(variant, overrides):
    """A scenario gets the same bits alone, in any slice, or in the whole batch
    (resume, --jobs and rescoring regroup scenarios)."""
    base, personas, z = random_inputs(11, n_s=40)
    params = DiscaParams(variant, **overrides)
    whole = correct(base, personas, z, params)
    for lo, hi in [(0, 1), (7, 8), (3, 5), (10, 17), (0, 39)]:
        part = correct(base[lo:hi], personas[lo:hi], z[lo:hi], params)
        for name in FIELDS:
            np.testing.assert_array_equal(
                getattr(part, name), getattr(whole, name)[lo:hi], err_msg=f"{name} {lo}:{hi}"
            )


def test_empty_batch():
    res = correct(np.zeros(0), np.zeros((0, 4)), np.zeros((0, 2, 8)), DiscaParams())
    assert res.delta_final.shape == (0,) and res.ess_ratio.shape == (0, 2)


# --------------------------------------------------------------------------- properties

finite_gap = st.floats(-20, 20, allow_nan=False, allow_infinity=False)
finite_z = st.floats(-4, 4, allow_nan=False, allow_infinity=False)


@st.composite
def batches(draw, max_s=5, max_n=5, max_k=12):
    n_s = draw(st.integers(1, max_s))
    n_p = draw(st.integers(2, max_n))
    k_half = draw(st.integers(1, max_k))
    base = draw(hnp.arrays(np.float64, n_s, elements=finite_gap))
    personas = draw(hnp.arrays(np.float64, (n_s, n_p), elements=finite_gap))
    z = draw(hnp.arrays(np.float64, (n_s, 2, k_half), elements=finite_z))
    variant = draw(st.sampled_from(["paper", "reference"]))
    floor = draw(st.sampled_from([0.0, 0.0, 0.5, 2.0]))
    return base, personas, z, DiscaParams(variant, utility_floor=floor)


@settings(max_examples=60, deadline=None)
@given(batches())
def test_property_matches_naive(batch):
    base, personas, z, prm = batch
    # looser than 1e-12: hypothesis seeks ties (e.g. e_m at ρ_eff) and extreme gains
    res = correct(base, personas, z, prm)
    for i in range(base.size):
        ref = naive_scenario(base[i], list(personas[i]), z[i].tolist(), prm)
        if abs(min(ref["ess_ratio"]) - prm.rho_eff) < 1e-9:
            continue  # the guard's tie is decided by rounding
        for name in FIELDS:
            np.testing.assert_allclose(
                getattr(res, name)[i], ref[name], rtol=1e-9, atol=1e-9, err_msg=name
            )


@settings(max_examples=60, deadline=None)
@given(batches())
def test_property_antisymmetry(batch):
    """Negating every gap and every draw mirrors the decision: B <-> A."""
    base, personas, z, prm = batch
    pos = correct(base, personas, z, prm)
    neg = correct(-base, -personas, -z, prm)
    for name in ("delta_bar", "delta_star_passes", "delta_star", "delta_final"):
        np.testing.assert_array_equal(getattr(neg, name), -getattr(pos, name), err_msg=name)
    for name in ("disagreement", "sigma", "ess_ratio", "reliability", "alpha_ess"):
        np.testing.assert_array_equal(getattr(neg, name), getattr(pos, name), err_msg=name)
    np.testing.assert_allclose(neg.p_b, 1 - pos.p_b, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(batches())
def test_property_ranges(batch):
    base, personas, z, prm = batch
    res = correct(base, personas, z, prm)
    # r = exp(-V_r/s) is in (0, 1] mathematically; in float64 it underflows to 0 once
    # V_r/s > ~745, which these gap ranges can reach
    assert ((res.reliability >= 0) & (res.reliability <= 1)).all()
    v_r = (res.delta_star_passes[:, 0] - res.delta_star_passes[:, 1]) ** 2
    small = v_r / prm.var_scale < 700
    assert (res.reliability[small] > 0).all()
    k_half = z.shape[2]
    assert ((res.ess_ratio >= 1 / k_half - 1e-12) & (res.ess_ratio <= 1 + 1e-12)).all()
    assert ((res.alpha_ess >= 0) & (res.alpha_ess <= 1)).all()
    assert (res.sigma >= prm.sigma_floor).all()
    assert ((res.p_b >= 0) & (res.p_b <= 1)).all()
    # |δ*_m| is a weighted mean of ε, so it cannot exceed σ max|z|
    bound = res.sigma * np.abs(z).max(axis=(1, 2)) + 1e-12
    assert (np.abs(res.delta_star_passes).max(axis=1) <= bound).all()


@settings(max_examples=60, deadline=None)
@given(batches())
def test_property_personas_agree_with_base(batch):
    """δ_i = δ_base for all i: δ̄ = δ_base, Δ = 0, σ = σ_0, every gain is -|ε| <= 0.

    The blend then returns δ_base exactly and only the IS term remains. It is not 0:
    δ*_m = Σ w ε with w favouring small |ε|, so the honest claims are
    |δ_final - δ_base| <= σ_0 max|z| and that it is odd in z (zero mean over ±z).
    """
    base, _, z, prm = batch
    personas = np.repeat(base[:, None], 4, axis=1)
    res = correct(base, personas, z, prm)
    np.testing.assert_allclose(res.delta_bar, base, rtol=1e-15, atol=0)  # mean of 4 copies
    np.testing.assert_array_equal(res.sigma, np.full(base.shape, prm.sigma_floor))
    corr = res.delta_final - base
    assert (np.abs(corr) <= prm.sigma_floor * np.abs(z).max(axis=(1, 2)) + 1e-12).all()
    mirrored = correct(base, personas, -z, prm).delta_final - base
    np.testing.assert_allclose(corr + mirrored, 0.0, atol=1e-12)
    # and it is the same as switching personas off
    off = correct(base, np.zeros_like(personas), z, prm.replace(use_personas=False))
    np.testing.assert_allclose(off.delta_final, res.delta_final, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(batches())
def test_property_switches(batch):
    base, personas, z, prm = batch
    full = correct(base, personas, z, prm)
    no_is = correct(base, personas, z, prm.replace(use_is=False))
    assert (no_is.delta_star == 0).all() and (no_is.delta_star_passes == 0).all()
    assert (no_is.ess_ratio == 1).all() and (no_is.alpha_ess == 1).all()
    assert (no_is.reliability == 1).all()
    np.testing.assert_array_equal(no_is.delta_final, full.delta_bar)
    no_gate = correct(base, personas, z, prm.replace(use_gate=False))
    assert (no_gate.reliability == 1).all()
    np.testing.assert_array_equal(no_gate.delta_star_passes, full.delta_star_passes)
    np.testing.assert_allclose(no_gate.delta_star, full.delta_star_passes.mean(axis=1), atol=1e-15)
    no_p = correct(base, personas, z, prm.replace(use_personas=False))
    np.testing.assert_array_equal(no_p.delta_bar, base)
    assert (no_p.disagreement == 0).all() and (no_p.sigma == prm.sigma_floor).all()
    # the same as handing in personas equal to the base (mean of copies: ulp-level)
    same = correct(base, np.repeat(base[:, None], personas.shape[1], 1), z, prm)
    for name in FIELDS:
        np.testing.assert_allclose(
            getattr(no_p, name), getattr(same, name), rtol=1e-12, atol=1e-12, err_msg=name
        )
    no_blend = correct(base, personas, z, prm.replace(use_ess_blend=False))
    np.testing.assert_array_equal(no_blend.delta_final, full.delta_bar + full.delta_star)
    assert (no_blend.alpha_ess == 1).all()


@settings(max_examples=40, deadline=None)
@given(batches(), st.floats(-5, 5))
def test_property_translation(batch, shift):
    """Shifting base and personas by c shifts δ̄ and δ_final by c; IS is unchanged."""
    base, personas, z, prm = batch
    a = correct(base, personas, z, prm)
    b = correct(base + shift, personas + shift, z, prm)
    np.testing.assert_allclose(b.delta_final, a.delta_final + shift, atol=1e-8)
    np.testing.assert_allclose(b.sigma, a.sigma, atol=1e-8)


@pytest.mark.parametrize("variant", ["paper", "reference"])
@pytest.mark.parametrize("floor", [0.0, 1.0])
@pytest.mark.parametrize("big", [1e6, 1e100])
def test_extreme_gaps_are_finite(variant, floor, big):
    rng = np.random.default_rng(0)
    base = np.array([big, -big, 0.0, big, 0.0, 1.0])
    personas = np.array(
        [
            [-big, big, -big, big],
            [big, big, big, big],
            [0.0, 0.0, 0.0, 0.0],  # identical personas, equal to base
            [big, big, big, big],
            [big, -big, 0.0, 1.0],
            [1.0, 1.0, 1.0, 1.0],
        ]
    )
    z = rng.standard_normal((6, 2, 64))
    z[2] = 0.0  # every gain exactly 0
    res = correct(base, personas, z, DiscaParams(variant, utility_floor=floor))
    for name in FIELDS:
        assert np.isfinite(getattr(res, name)).all(), name
    assert ((res.p_b >= 0) & (res.p_b <= 1)).all()


# --------------------------------------------------------------------------- prior (§5.2)


def test_prior_alpha_values():
    assert prior_alpha(50) == 0.0
    assert prior_alpha(49) == 0.0
    assert prior_alpha(100) == pytest.approx(0.393469, abs=1e-6)
    assert prior_alpha(313) == pytest.approx(0.927922, abs=1e-6)
    np.testing.assert_allclose(prior_alpha([0, 50, 100]), [0.0, 0.0, 1 - math.exp(-0.5)])


@pytest.mark.parametrize("replays", [0, 3, 7])
@pytest.mark.parametrize("n_s", [0, 2, 60, 310])
def test_country_prior_matches_naive(replays, n_s):
    prm = DiscaParams("reference", prior_replays=replays)
    x = np.random.default_rng(n_s).normal(0, 1, n_s)
    np.testing.assert_allclose(
        country_prior(x, prm), naive_prior(list(x), prm), rtol=1e-13, atol=1e-15
    )


def test_country_prior_semantics():
    prm = DiscaParams("reference")
    x = np.linspace(-1, 1, 310)
    out = country_prior(x, prm)
    # scenario i is processed at t = 3 + i; α_h(t) = 0 for t <= 50 (α_h(50) = 1 - e^0),
    # so scenarios 0..47 pass through unchanged and scenario 48 (t = 51) is the first pulled
    np.testing.assert_array_equal(out[:48], x[:48])
    assert out[48] != x[48]
    # the last scenario is processed at t = 312 (313 steps in all)
    d_country = 0.0
    for v in list(x[:3]) + list(x[:-1]):
        d_country = 0.9 * d_country + 0.1 * v
    a = 1 - math.exp(-(312 - 50) / 100)
    assert out[-1] == pytest.approx(a * d_country + (1 - a) * x[-1], abs=1e-12)


def test_country_prior_switch():
    x = np.array([0.3, -0.2, 0.5])
    assert DiscaParams("paper").prior_enabled is False
    assert DiscaParams("reference").prior_enabled is True
    np.testing.assert_array_equal(country_prior(x, DiscaParams("paper")), x)
    np.testing.assert_array_equal(country_prior(x, DiscaParams("reference", use_prior=False)), x)
    long = np.ones(80)
    on = country_prior(long, DiscaParams("paper", use_prior=True, prior_replays=0))
    np.testing.assert_allclose(
        on, naive_prior(list(long), DiscaParams("reference", prior_replays=0))
    )
    with pytest.raises(ValueError, match="delta_final"):
        country_prior(np.ones((2, 2)), DiscaParams("reference"))


# --------------------------------------------------------------------------- noise (§4)


def test_draws_reproducible_and_random_access():
    a = draws(42, range(10))
    assert a.shape == (10, 2, 64)
    np.testing.assert_array_equal(draws(42, [5])[0], a[5])
    np.testing.assert_array_equal(draws(42, 5)[0], a[5])
    np.testing.assert_array_equal(draws(42, range(10)), a)
    np.testing.assert_array_equal(a[3], np.random.default_rng([42, 3]).standard_normal((2, 64)))
    assert not np.array_equal(draws(101, [5]), draws(42, [5]))
    assert draws(42, [0, 1], k_half=4).shape == (2, 2, 4)
    assert draws(42, []).shape == (0, 2, 64)
    for bad in ([-1], [1.5]):
        with pytest.raises(ValueError, match="indices"):
            draws(42, bad)
    with pytest.raises(ValueError, match="seed"):
        draws(-1, [0])
    with pytest.raises(ValueError, match="k_half"):
        draws(42, [0], k_half=0)


# --------------------------------------------------------------------------- gaps and read-outs


def test_gaps_and_debias_broadcast():
    a = np.zeros((3, 2))
    b = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(gaps(a, b, np.array([1.0, 2.0])), b / [1.0, 2.0])
    assert gaps(1.0, 4.0, 1.5) == pytest.approx(2.0)
    # an additive position bias cancels exactly
    true, bias = 0.7, 0.25
    assert debias(true + bias, -true + bias) == pytest.approx(true)
    with pytest.raises(ValueError, match="t_cat"):
        gaps(0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="logit_b"):
        gaps(0.0, np.nan, 1.0)


def test_scenario_gaps_switches():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (4, 2, 5, 2))
    raw = logits[..., 1] - logits[..., 0]
    t = np.array([4.0, 3.5, 1.5, 3.0])
    base, pers = scenario_gaps(logits, ["Species", "gender", "AGE", None], DiscaParams())
    want = 0.5 * (raw[:, 0] - raw[:, 1]) / t[:, None]
    np.testing.assert_allclose(base, want[:, 0])
    np.testing.assert_allclose(pers, want[:, 1:])
    b2, _ = scenario_gaps(logits, t, DiscaParams(use_tcat=False))
    np.testing.assert_allclose(b2, 0.5 * (raw[:, 0, 0] - raw[:, 1, 0]))
    b3, p3 = scenario_gaps(logits, 2.0, DiscaParams(use_debias=False))
    np.testing.assert_allclose(b3, raw[:, 0, 0] / 2.0)
    np.testing.assert_allclose(p3, raw[:, 0, 1:] / 2.0)
    b4, p4 = scenario_gaps(logits, t, DiscaParams(use_personas=False))
    np.testing.assert_array_equal(p4, np.repeat(b4[:, None], 4, axis=1))
    b5, p5 = scenario_gaps(logits[:, :, :1], t, DiscaParams(use_personas=False))  # base only
    np.testing.assert_array_equal(b5, b4)
    assert p5.shape == (4, 4)
    # §2.3: where the swap changed nothing, the original pass alone is used
    mask = np.array([True, False, True, False])
    b7, p7 = scenario_gaps(logits, t, DiscaParams(), has_swap=mask)
    np.testing.assert_allclose(b7[mask], want[mask, 0])
    np.testing.assert_allclose(b7[~mask], raw[~mask, 0, 0] / t[~mask])
    np.testing.assert_allclose(p7[~mask], raw[~mask, 0, 1:] / t[~mask, None])
    with pytest.raises(ValueError, match="has_swap"):
        scenario_gaps(logits, t, DiscaParams(), has_swap=[1, 0, 1, 0])
    b6, _ = scenario_gaps(logits[0], 1.5, DiscaParams())  # one scenario lifted
    assert b6.shape == (1,)
    with pytest.raises(ValueError, match="logits"):
        scenario_gaps(logits[..., :1], t, DiscaParams())
    with pytest.raises(ValueError, match="logits"):
        scenario_gaps(logits[:, :, :2], t, DiscaParams())
    with pytest.raises(ValueError, match="t_cat"):
        scenario_gaps(logits, t[:3], DiscaParams())


def test_readouts():
    assert sigmoid(0.0) == 0.5
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(sigmoid([-1000.0, 1000.0]), [0.0, 1.0])
    np.testing.assert_allclose(p_spare([0.2, 0.9], [True, False]), [0.2, 0.1])
    assert p_spare(0.7, 1) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="preferred_right"):
        p_spare(0.7, 2)
    with pytest.raises(ValueError, match="p_b"):
        p_spare(1.5, True)
    assert vanilla_raw_p_b(1.0, 1.0) == 0.5
    assert vanilla_lfl_p_b(0.5, t_dec=1.0) == pytest.approx(1 / (1 + math.exp(-0.5)))
    with pytest.raises(ValueError, match="t_dec"):
        vanilla_lfl_p_b(0.5, t_dec=0.0)


# --------------------------------------------------------------------------- parameters and errors


def test_params_defaults_and_overrides():
    p = DiscaParams()
    assert (p.variant, p.k_half, p.sigma_floor, p.lambda_coop, p.eta) == (
        "paper",
        64,
        0.3,
        0.7,
        0.5,
    )
    assert (p.rho_eff, p.var_scale, p.pt_alpha, p.pt_beta, p.kappa, p.t_dec) == (
        0.1,
        0.04,
        0.88,
        0.88,
        2.25,
        0.5,
    )
    assert (p.utility_floor, p.use_prior, p.prior_replays) == (0.0, None, 3)
    assert (p.n_warmup, p.decay_tau, p.beta_ema) == (50, 100.0, 0.10)
    assert all([p.use_is, p.use_gate, p.use_personas, p.use_debias, p.use_tcat, p.use_ess_blend])
    q = DiscaParams("reference", eta=0.4)
    assert (q.variant, q.eta) == ("reference", 0.4)
    assert DiscaParams(variant="reference").variant == "reference"
    assert DiscaParams(**q.to_dict()) == q
    assert dataclasses.replace(q, eta=0.3).eta == 0.3
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.eta = 1.0  # type: ignore[misc]
    import json

    json.dumps(q.to_dict())


def test_t_cat():
    p = DiscaParams()
    for name, want in [
        ("Species", 4.0), ("gender", 3.5), ("AGE", 1.5), ("Fitness", 1.5),
        ("SocialValue", 1.5), ("social_value", 1.5), ("Social Value", 1.5),
        ("utilitarianism", 1.5), (None, 3.0), ("Religion", 3.0),
    ]:  # fmt: skip
        assert p.t_cat(name) == want, name
    assert DiscaParams(use_tcat=False).t_cat("Species") == 1.0
    assert DiscaParams(t_cat_species=5.0).t_cat("species") == 5.0
    with pytest.raises(ValueError, match="category"):
        p.t_cat(3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"foo": 1}, "unknown DISCA parameter 'foo'"),
        ({"eta": -1}, "eta must be > 0, got -1"),
        ({"sigma_floor": 0}, "sigma_floor must be > 0"),
        ({"lambda_coop": 1.5}, "lambda_coop must be <= 1"),
        ({"rho_eff": -0.1}, "rho_eff must be >= 0"),
        ({"utility_floor": -1}, "utility_floor must be >= 0"),
        ({"kappa": float("nan")}, "kappa must be finite"),
        ({"t_dec": "0.5"}, "t_dec must be a number"),
        ({"use_is": 1}, "use_is must be a bool"),
        ({"use_prior": "yes"}, "use_prior must be a bool or None"),
        ({"k_half": 0}, "k_half must be >= 1"),
        ({"k_half": 2.0}, "k_half must be an int"),
        ({"prior_replays": -1}, "prior_replays must be >= 0"),
        ({"beta_ema": 2.0}, "beta_ema must be <= 1"),
    ],
)
def test_bad_params(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        DiscaParams(**kwargs)


def test_bad_variant():
    with pytest.raises(ValueError, match="variant must be 'paper' or 'reference', got 'x'"):
        DiscaParams("x")
    with pytest.raises(ValueError, match="eta"):
        DiscaParams().replace(eta=0)


def test_shape_errors_name_the_argument():
    prm = DiscaParams()
    b, p, z = np.zeros(3), np.zeros((3, 4)), np.zeros((3, 2, 8))
    cases = [
        ((np.zeros((3, 1)), p, z), "delta_base"),
        ((b, np.zeros((2, 4)), z), "delta_personas"),
        ((b, np.zeros((3, 1)), z), "delta_personas"),
        ((b, p, np.zeros((3, 3, 8))), "z"),
        ((b, p, np.zeros((4, 2, 8))), "z"),
        ((b, p, np.zeros((3, 2, 0))), "z"),
        ((np.array([0, np.nan, 0]), p, z), "delta_base"),
        ((b, p, np.full((3, 2, 8), np.inf)), "z"),
        ((0.0, np.zeros((1, 4)), np.zeros((2, 8))), "delta_personas"),
        ((0.0, np.zeros(4), np.zeros((1, 2, 8))), "z"),
        ((b, ["a"] * 3, z), "delta_personas"),
    ]
    for args, name in cases:
        with pytest.raises(ValueError, match=rf"^{name} "):
            correct(*args, prm)
    with pytest.raises(ValueError, match="params"):
        correct(b, p, z, {"variant": "paper"})


def test_result_is_frozen_and_inputs_untouched():
    base, personas, z = random_inputs(0, n_s=3)
    keep = (base.copy(), personas.copy(), z.copy())
    res = correct(base, personas, z, DiscaParams())
    assert isinstance(res, Correction)
    assert res.delta_micro is res.delta_final
    with pytest.raises(ValueError):
        res.delta_final[0] = 1.0
    assert base.flags.writeable
    for got, want in zip((base, personas, z), keep, strict=True):
        np.testing.assert_array_equal(got, want)
