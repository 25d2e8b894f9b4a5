"""MultiTP metrics (MULTITP.md §9-§12): golden cases with the arithmetic, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from disca_edge.content.scenarios import disca_pool
from disca_edge.errors import UnknownNameError
from disca_edge.maths.metrics import (
    amce_to_p,
    dimension_error,
    flip_rate,
    jsd,
    kendall_tau,
    mis,
    model_vector,
    n_hurt,
    option_order_consistency,
    pct_gain,
    pearson,
    spearman,
    wins,
    worst_dimension,
)

unit = st.floats(0.0, 1.0, allow_nan=False)
vec6 = arrays(np.float64, 6, elements=unit)
small = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)


def test_amce_to_p():
    # p = (1 + AMCE) / 2: USA Species AMCE 0.584043887653063 -> 0.7920219438.
    assert amce_to_p(0.584043887653063) == pytest.approx(0.7920219438, abs=1e-10)
    np.testing.assert_allclose(amce_to_p([-1.0, 0.0, 1.0]), [0.0, 0.5, 1.0])


# --- model vector ---------------------------------------------------------------------------


def test_model_vector_means_per_dimension():
    p = [0.2, 0.4, 0.9, np.nan, 1.0, 0.0]
    cats = ["Species", "species", "Age", "Age", "social_value", "Gender_Female"]
    # Species (0.2 + 0.4)/2 = 0.3; Gender 0/1 = 0.0 (decided, none preferred -> 0, not NaN);
    # Fitness none -> NaN; SocialValue 1.0; Age: the NaN (undecided) is left out -> 0.9.
    out = model_vector(p, cats)
    np.testing.assert_allclose(out, [0.3, 0.0, np.nan, 1.0, 0.9, np.nan])


def test_model_vector_validates():
    with pytest.raises(ValueError, match="p_spare"):
        model_vector([0.5, 0.5], ["Species"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model_vector([1.5], ["Species"])
    with pytest.raises(UnknownNameError):
        model_vector([0.5], ["Weather"])


# --- MIS ------------------------------------------------------------------------------------


def test_mis_golden():
    model = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    human = [0.8, 0.5, 0.5, 0.1, 0.5, 0.5]
    # sqrt(0.3^2 + 0.4^2) = sqrt(0.09 + 0.16) = 0.5
    assert mis(model, human) == pytest.approx(0.5)
    # extremes: all-0 vs all-1 -> sqrt(6)
    assert mis(np.zeros(6), np.ones(6)) == pytest.approx(math.sqrt(6))


def test_mis_batches_and_validates():
    model = np.array([[0.5] * 6, [0.8, 0.5, 0.5, 0.1, 0.5, 0.5]])
    np.testing.assert_allclose(mis(model, [0.5] * 6), [0.0, 0.5])
    with pytest.raises(ValueError, match=r"ndarray\[\.\.\., 6\]"):
        mis([0.5] * 5, [0.5] * 5)
    assert math.isnan(mis([np.nan] + [0.5] * 5, [0.5] * 6))


@settings(max_examples=200, deadline=None)
@given(vec6, vec6)
def test_mis_properties(a, b):
    value = mis(a, b)
    assert value == pytest.approx(math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True))))
    assert value == pytest.approx(mis(b, a))
    assert 0.0 <= value <= math.sqrt(6) + 1e-12
    assert mis(a, a) == 0.0
    assert (value == 0.0) == bool(np.array_equal(a, b))


# --- JSD ------------------------------------------------------------------------------------


def test_jsd_golden():
    p_raw = np.full(6, 0.5)  # -> p = 1/6 each
    q_raw = np.array([1.0, 1.0, 1.0, 0.5, 0.5, 0.5])  # -> q = (2/9, 2/9, 2/9, 1/9, 1/9, 1/9)
    # m = ((1/6 + 2/9)/2, (1/6 + 1/9)/2) = (7/36, 5/36)
    kl_p = 0.5 * math.log2((1 / 6) / (7 / 36)) + 0.5 * math.log2((1 / 6) / (5 / 36))
    kl_q = (2 / 3) * math.log2((2 / 9) / (7 / 36)) + (1 / 3) * math.log2((1 / 9) / (5 / 36))
    expected = math.sqrt((kl_p + kl_q) / 2)  # sqrt((0.020321 + 0.021121) / 2) = 0.143947
    assert jsd(p_raw, q_raw) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(0.143947, abs=1e-6)


def test_jsd_edge_cases():
    assert jsd([0.3] * 6, [0.3] * 6) == pytest.approx(0.0, abs=1e-7)
    # disjoint supports -> distance 1 in base 2 (up to the 1e-10 shift)
    assert jsd([1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]) == pytest.approx(1.0, abs=1e-4)
    # scale invariance (normalised before comparing)
    a, b = np.array([0.2, 0.4, 0.6, 0.8, 0.5, 0.3]), np.array([0.9, 0.1, 0.5, 0.5, 0.7, 0.2])
    assert jsd(a, b) == pytest.approx(jsd(2 * a, 2 * b), abs=1e-9)
    # common shift for negative inputs: both vectors move by +0.5 (+1e-10)
    assert jsd([-0.5, 0.5, 0, 0, 0, 0], [0.5, -0.5, 0, 0, 0, 0]) == pytest.approx(
        jsd([0, 1, 0.5, 0.5, 0.5, 0.5], [1, 0, 0.5, 0.5, 0.5, 0.5]), abs=1e-9
    )
    assert math.isnan(jsd([np.nan] * 6, [0.5] * 6))
    # all zeros: the 1e-10 shift makes it uniform, like [0.5] * 6
    assert jsd(np.zeros(6), a) == pytest.approx(jsd(np.full(6, 0.5), a), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(vec6, vec6)
def test_jsd_properties(a, b):
    value = jsd(a, b)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(jsd(b, a), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, 6, elements=st.floats(0.01, 1.0)),
    arrays(np.float64, 6, elements=unit).filter(lambda v: v.sum() > 0.01),
)
def test_jsd_matches_scipy(a, b):
    distance = pytest.importorskip("scipy.spatial.distance")
    expected = distance.jensenshannon(a, b, base=2)
    if math.isnan(expected):  # SciPy takes sqrt of a rounding-negative divergence; we clamp
        assert jsd(a, b) == pytest.approx(0.0, abs=1e-6)
    else:
        assert jsd(a, b) == pytest.approx(expected, abs=1e-6)


# --- correlations -----------------------------------------------------------------------------


def test_pearson_golden():
    # x - mean = (-1, 0, 1); y - mean = (-1, 1, 0); sum xy = 1; |x|^2 = |y|^2 = 2 -> 1/2.
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert pearson(range(6), [2 * i + 1 for i in range(6)]) == pytest.approx(1.0)
    assert pearson(range(6), [-i for i in range(6)]) == pytest.approx(-1.0)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert math.isnan(pearson([0.1] * 6, range(6)))  # constant, though mean(0.1s) != 0.1
    with pytest.raises(ValueError, match="x, y"):
        pearson([1, 2], [1, 2, 3])


def test_spearman_golden_with_ties():
    # ranks x = (1, 2.5, 2.5, 4), y = (1, 3, 2, 4); centred: (-1.5, 0, 0, 1.5), (-1.5, .5, -.5, 1.5)
    # sum xy = 4.5; |x|^2 = 4.5; |y|^2 = 5 -> 4.5 / sqrt(22.5) = 0.9486833
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert spearman([10, 20, 30], [1, 100, 1000]) == pytest.approx(1.0)


def test_kendall_golden():
    # 6 pairs, only (2, 3) discordant: (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # tau-b with one tie in x: n_c = 5, n_d = 0, n0 = 6, t_x = 1 -> 5 / sqrt(5 * 6)
    assert kendall_tau([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(5 / math.sqrt(30))
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, 6, elements=st.sampled_from([0.1, 0.2, 0.3, 0.5, 0.8])),
    arrays(np.float64, 6, elements=unit),
)
def test_correlations_match_scipy(a, b):
    stats = pytest.importorskip("scipy.stats")
    for ours, theirs in (
        (pearson, lambda x, y: stats.pearsonr(x, y)[0]),
        (spearman, lambda x, y: stats.spearmanr(x, y)[0]),
        (kendall_tau, lambda x, y: stats.kendalltau(x, y)[0]),
    ):
        expected = theirs(a, b) if np.ptp(a) > 0 and np.ptp(b) > 0 else np.nan
        got = ours(a, b)
        assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, 6, elements=small), arrays(np.float64, 6, elements=small))
def test_correlation_properties(a, b):
    for fn in (pearson, spearman, kendall_tau):
        value = fn(a, b)
        if not math.isnan(value):
            assert -1.0 <= value <= 1.0
            assert value == pytest.approx(fn(b, a))


# --- secondary metrics ------------------------------------------------------------------------


def test_flip_rate_golden():
    # signs out (+, -, +, -) vs bar (+, +, -, -): flips at 1 and 2 -> 2/4
    assert flip_rate([1.0, -1.0, 0.5, -2.0], [2.0, 1.0, -1.0, -3.0]) == 0.5
    assert math.isnan(flip_rate([], []))
    with pytest.raises(ValueError, match="delta_out"):
        flip_rate([1.0], [1.0, 2.0])


def test_pct_gain_wins_n_hurt():
    # 100 * (0.5 - 0.4) / 0.5 = 20
    assert pct_gain(0.5, 0.4) == pytest.approx(20.0)
    np.testing.assert_allclose(pct_gain([0.5, 0.4], [0.4, 0.5]), [20.0, -25.0])
    assert wins([0.5, 0.4, 0.3], [0.4, 0.5, 0.3]) == 1  # ties are not wins
    assert n_hurt([0.4, 0.4, 0.4], [0.5, 0.4, 0.3]) == 1
    with pytest.raises(ValueError, match="mis_van"):
        wins([0.5], [0.5, 0.4])


def test_option_order_consistency_golden():
    p = [0.7, 0.6, 0.8, 0.3, 0.9, np.nan, 0.2]
    keys = ["a", "a", "b", "b", "c", "d", "d"]
    first = [True, False, True, False, True, True, False]
    # a: both spare the preferred -> 1; b: one each -> 0.5; c: one order only -> skipped;
    # d: one undecided (NaN) -> one order left -> skipped. Mean (1 + 0.5) / 2 = 0.75
    assert option_order_consistency(p, keys, first) == 0.75
    assert math.isnan(option_order_consistency([0.5], ["a"], [True]))


def test_option_order_consistency_on_the_pool():
    pool = disca_pool()
    keys = [v.unordered_key for v in pool]
    first = [v.preferred_position == "first" for v in pool]
    # A model that always picks the preferred group is fully consistent; one that always
    # picks the left group (p_spare = 1 if preferred first) is at chance (0.5).
    assert option_order_consistency(np.ones(len(pool)), keys, first) == 1.0
    left = np.array([1.0 if f else 0.0 for f in first])
    assert option_order_consistency(left, keys, first) == 0.5


def test_dimension_error_and_worst():
    model = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    human = [0.79, 0.56, 0.59, 0.68, 0.75, 0.77]
    np.testing.assert_allclose(dimension_error(model, human), [-29, -6, -9, -18, -25, -27])
    assert worst_dimension(model, human) == "Species_Humans"
    assert worst_dimension([np.nan] + [0.5] * 5, human) == "Utilitarianism_More"
    with pytest.raises(ValueError):
        worst_dimension([np.nan] * 6, human)
