"""The scenario bootstrap (`maths.bootstrap`): arithmetic against a loop, and coverage on
synthetic data with a known answer.

The coverage tests draw scenario p_spare from Beta laws with known per-dimension means,
so the true MIS (and the true difference of two methods' MIS) is known. They show why
the intervals are basic ones and why a dimension needs `MIN_PER_DIMENSION` scenarios:
close to the human vector, or for a method that shifts every scenario of a dimension
alike, the percentile interval misses the truth far more often than 5%, the basic one
does not; with 3 scenarios a dimension, both under-cover.
"""

from __future__ import annotations

import numpy as np
import pytest

from disca_edge.maths import bootstrap, metrics


def _loop_vectors(p_spare, dims, n_resamples, seed):
    """The same resamples, drawn in the same order, gathered one by one."""
    rng = np.random.default_rng(seed)
    out = np.full((p_spare.shape[0], n_resamples, 6), np.nan)
    for d in range(6):
        members = np.flatnonzero(dims == d)
        if members.size == 0:
            continue
        picks = rng.integers(0, members.size, size=(n_resamples, members.size))
        for b in range(n_resamples):
            chosen = members[picks[b]]
            out[:, b, d] = p_spare[:, chosen].mean(axis=1)
    return out


def test_resampled_vectors_equal_a_plain_gather():
    rng = np.random.default_rng(3)
    dims = rng.integers(0, 5, size=40)  # dimension 5 left empty
    p = rng.uniform(size=(3, 40))
    fast = bootstrap.resampled_vectors(p, dims, n_resamples=50, rng=np.random.default_rng(11))
    slow = _loop_vectors(p, dims, 50, 11)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0)
    assert np.isnan(fast[..., 5]).all()


def test_resampled_mis_is_the_point_rule_on_each_resample():
    rng = np.random.default_rng(4)
    vectors = rng.uniform(size=(2, 7, 6))
    vectors[0, 3, 2] = np.nan
    human = rng.uniform(size=6)
    got = bootstrap.resampled_mis(vectors, human)
    for m in range(2):
        for b in range(7):
            v = vectors[m, b]
            want = metrics.mis(np.where(np.isnan(v), human, v), human)
            assert got[m, b] == pytest.approx(want, rel=1e-12)


def test_same_seed_same_draws_and_another_seed_others():
    p = np.random.default_rng(5).uniform(size=(2, 30))
    dims = np.arange(30) % 6
    a = bootstrap.resampled_vectors(p, dims, rng=np.random.default_rng([42, 7]))
    b = bootstrap.resampled_vectors(p, dims, rng=np.random.default_rng([42, 7]))
    c = bootstrap.resampled_vectors(p, dims, rng=np.random.default_rng([43, 7]))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_interval_is_the_central_quantiles():
    samples = np.arange(1001, dtype=float)
    low, high = bootstrap.percentile_interval(samples, 0.95)
    assert (low, high) == (pytest.approx(25.0), pytest.approx(975.0))
    with pytest.raises(ValueError, match="level"):
        bootstrap.percentile_interval(samples, 1.0)


def test_basic_interval_reflects_the_percentile_interval_about_the_point():
    samples = np.arange(1001, dtype=float)  # percentile interval (25, 975)
    low, high = bootstrap.basic_interval(samples, 400.0, 0.95)
    assert (low, high) == (pytest.approx(2 * 400 - 975), pytest.approx(2 * 400 - 25))
    both = bootstrap.basic_interval(np.stack([samples, samples + 10]), np.array([500.0, 0.0]))
    np.testing.assert_allclose(both, [[25.0, 975.0], [-985.0, -35.0]])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="p_spare"):
        bootstrap.resampled_vectors(np.zeros((2, 5)), np.zeros(4, int), rng=np.random.default_rng())
    with pytest.raises(ValueError, match="0..5"):
        bootstrap.resampled_vectors(np.zeros((1, 2)), np.array([0, 6]), rng=np.random.default_rng())


def _population(rng, n_per_dim, truth):
    """Scenario p_spare drawn from Beta laws whose means are `truth` (one per dimension)."""
    dims = np.repeat(np.arange(6), n_per_dim)
    conc = 6.0
    p = rng.beta(truth[dims] * conc, (1 - truth[dims]) * conc)
    return p, dims


def test_coverage_of_mis_and_of_the_paired_difference():
    """95% intervals cover the known MIS and the known paired difference about 95% of the time.

    Truth: method 1 has per-dimension means `mu1`; method 2 = 0.9 * method 1 + c_d per
    scenario (so the two are paired, and stay in [0, 1]), with means 0.9 * mu1 + c. MIS is taken against `human`; the true MIS values
    are those of the population means. 300 replications: a binomial 95% band around 0.95
    is about ±0.025; the percentile bootstrap of a norm under-covers slightly, so the test
    accepts [0.88, 0.99].
    """
    rng = np.random.default_rng(2026)
    mu1 = np.array([0.80, 0.55, 0.60, 0.70, 0.65, 0.75])
    c = np.array([0.0, 0.10, 0.05, 0.0, 0.08, 0.02])
    human = np.array([0.62, 0.50, 0.52, 0.58, 0.55, 0.60])
    true1 = np.linalg.norm(mu1 - human)
    true2 = np.linalg.norm(0.9 * mu1 + c - human)
    hits_mis = hits_diff = 0
    widths_paired, widths_single = [], []
    reps = 300
    for r in range(reps):
        p1, dims = _population(rng, 50, mu1)
        p2 = 0.9 * p1 + c[dims]
        vectors = bootstrap.resampled_vectors(
            np.stack([p1, p2]), dims, n_resamples=1000, rng=np.random.default_rng([r])
        )
        mis = bootstrap.resampled_mis(vectors, human)
        lo, hi = bootstrap.percentile_interval(mis[0])
        hits_mis += lo <= true1 <= hi
        dlo, dhi = bootstrap.percentile_interval(mis[1] - mis[0])
        hits_diff += dlo <= true2 - true1 <= dhi
        widths_paired.append(dhi - dlo)
        widths_single.append(hi - lo)
    assert 0.88 <= hits_mis / reps <= 0.99
    assert 0.88 <= hits_diff / reps <= 0.99
    # pairing pays: the difference is far better resolved than either MIS alone
    assert np.mean(widths_paired) < 0.5 * np.mean(widths_single)


HUMAN = np.array([0.62, 0.50, 0.52, 0.58, 0.55, 0.60])
C_SHIFT = np.array([0.0, 0.10, 0.05, 0.0, 0.08, 0.02])


def _coverage(mu1, n_per_dim, *, shift=None, reps=200, seed=2026):
    """Shares of replications whose interval covers the true MIS of method 1 and the true
    MIS difference (2 − 1), for percentile and basic intervals.

    Method 2 is 0.9 · method 1 + c per scenario, or method 1 + ``shift`` per dimension.
    """
    rng = np.random.default_rng(seed)
    mu2 = 0.9 * mu1 + C_SHIFT if shift is None else mu1 + shift
    true1 = np.linalg.norm(mu1 - HUMAN)
    true_diff = np.linalg.norm(mu2 - HUMAN) - true1
    hits = dict.fromkeys(("percentile_mis", "basic_mis", "percentile_diff", "basic_diff"), 0)
    for r in range(reps):
        p1, dims = _population(rng, n_per_dim, mu1)
        p2 = 0.9 * p1 + C_SHIFT[dims] if shift is None else p1 + shift[dims]
        both = np.stack([p1, p2])
        vectors = bootstrap.resampled_vectors(
            both, dims, n_resamples=1000, rng=np.random.default_rng([r])
        )
        mis = bootstrap.resampled_mis(vectors, HUMAN)
        point = bootstrap.resampled_mis(
            np.stack([[p[dims == d].mean() for d in range(6)] for p in both]), HUMAN
        )
        for kind, samples, value, truth in (
            ("mis", mis[0], point[0], true1),
            ("diff", mis[1] - mis[0], point[1] - point[0], true_diff),
        ):
            lo, hi = bootstrap.percentile_interval(samples)
            hits[f"percentile_{kind}"] += lo <= truth <= hi
            lo, hi = bootstrap.basic_interval(samples, value)
            hits[f"basic_{kind}"] += lo <= truth <= hi
    return {k: v / reps for k, v in hits.items()}


def test_close_to_the_humans_the_basic_mis_interval_covers_and_the_percentile_misses():
    """MIS ≈ 0.06: sample MIS and its resamples both sit well above the truth.

    Here the percentile interval of the *difference* covers better (≈ 0.93 against the
    basic's ≈ 0.76): no interval wins everywhere. The basic one is kept because it holds
    for MIS here and for the shift case below, and, in the issue-18 simulation at the
    paper's size (20 countries x 310), for the macro MIS (0.94-0.95 against 0-0.56) and
    the per-country differences (0.95-0.99 against 0).
    """
    close = HUMAN + np.array([0.03, -0.03, 0.02, 0.03, -0.02, 0.03])
    got = _coverage(close, 50)
    assert got["basic_mis"] >= 0.85
    assert got["percentile_mis"] <= 0.70
    assert got["percentile_diff"] > got["basic_diff"]  # the basic interval's weak spot


def test_a_shift_per_dimension_defeats_the_percentile_difference_not_the_basic():
    """Method 2 moves every scenario of a dimension by the same amount toward the humans."""
    mu1 = np.array([0.80, 0.55, 0.60, 0.70, 0.65, 0.75])
    shift = np.array([-0.05, -0.02, -0.04, -0.05, -0.03, -0.05])
    got = _coverage(mu1, 50, shift=shift)
    assert got["basic_diff"] >= 0.88
    assert got["percentile_diff"] <= 0.80


def test_few_scenarios_a_dimension_under_cover_hence_the_minimum():
    """3 scenarios a dimension: nominal 95% intervals cover < 85%; at the minimum, ≥ 87%."""
    mu1 = np.array([0.80, 0.55, 0.60, 0.70, 0.65, 0.75])
    few = _coverage(mu1, 3)
    assert few["basic_mis"] < 0.85 and few["basic_diff"] < 0.85
    enough = _coverage(mu1, bootstrap.MIN_PER_DIMENSION)
    assert enough["basic_mis"] >= 0.87 and enough["basic_diff"] >= 0.87
