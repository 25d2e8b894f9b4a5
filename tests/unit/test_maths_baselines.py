"""`maths.baselines`: each read-out against a hand computation (BASELINES.md §1.2, §5, §8, §9, §11)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from disca_edge.maths import baselines as bl
from disca_edge.maths import core


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_two_way_read_out_is_the_softmax_of_the_pair():
    p = bl.two_way_p_b(np.array([1.0, 3.0]), np.array([2.0, 2.5]), 0.5)
    # softmax([1, 2] / 0.5)[B] = e^4 / (e^2 + e^4)
    assert p[0] == pytest.approx(math.exp(4) / (math.exp(2) + math.exp(4)), abs=1e-15)
    assert p[1] == pytest.approx(sig(-1.0), abs=1e-15)
    assert bl.two_way_p_b(np.array([1.0]), np.array([2.0]), 1.0)[0] == pytest.approx(sig(1.0))


def test_static_bias_from_a_corpus_by_hand():
    corpus = np.array([[1.0, 2.0], [3.0, 1.0], [0.5, 0.5]])
    log_a = [1 - math.log(math.e + math.e**2), 3 - math.log(math.e**3 + math.e), math.log(0.5)]
    log_b = [2 - math.log(math.e + math.e**2), 1 - math.log(math.e**3 + math.e), math.log(0.5)]
    m_a, m_b = sum(log_a) / 3, sum(log_b) / 3
    b_a, b_b = bl.static_bias(corpus)
    assert b_a == pytest.approx(m_a - (m_a + m_b) / 2, abs=1e-12)
    assert b_b == pytest.approx(m_b - (m_a + m_b) / 2, abs=1e-12)
    assert b_a + b_b == pytest.approx(0.0, abs=1e-12)
    p = bl.static_bias_p_b(np.array([30.0]), np.array([29.0]), b_a, b_b, 0.5)
    assert p[0] == pytest.approx(sig(((29.0 + b_b) - (30.0 + b_a)) / 0.5), abs=1e-12)
    with pytest.raises(ValueError):
        bl.static_bias(np.zeros((0, 2)))


def test_released_split_is_the_first_quarter_of_a_seeded_permutation():
    order = np.random.RandomState(42).permutation(310)
    mask = bl.calibration_split(310)
    assert mask.sum() == 78 and set(np.flatnonzero(mask)) == set(order[:78])
    assert bl.calibration_split(100).sum() == 25
    assert bl.calibration_split(12).all()  # n_cal = max(20, 3): every row


def test_objectives_by_hand():
    human = np.array([0.8, 0.6, 0.5, 0.7, 0.75, 0.7])
    dims = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    p = np.array([0.9, 0.7, 0.8, 0.4, 0.6, 0.5, 1.0, 0.0])
    by_hand = math.sqrt((0.8 - 0.8) ** 2 + (0.5 - 0.6) ** 2)  # dims 0 and 1 have >= 3 rows
    assert bl.released_objective(p, dims, human) == pytest.approx(by_hand, abs=1e-12)
    covered = math.sqrt(0.0 + 0.1**2 + (0.5 - 0.5) ** 2)  # dim 2 too
    assert bl.covered_mis(p, dims, human) == pytest.approx(covered, abs=1e-12)
    assert math.isnan(bl.released_objective(p[:4], dims[:4], human))  # one dimension only
    assert math.isnan(bl.covered_mis(p[:0], dims[:0], human))


def test_grid_fit_keeps_the_first_strict_minimum_and_flags_the_edge():
    fit = bl.fit_on_grid(np.array([1.0, 2.0, 3.0, 4.0]), lambda v: 5.0 - v)
    assert (fit.value, fit.loss, fit.at_edge) == (4.0, 1.0, True)
    first = bl.fit_on_grid(
        np.array([1.0, 2.0, 3.0, 4.0]), lambda v: 0.0 if v in (2.0, 3.0) else 1.0
    )
    assert (first.value, first.at_edge) == (2.0, False)
    tie = bl.fit_on_grid(np.array([1.0, 2.0, 3.0]), lambda v: 0.5)
    assert (tie.value, tie.at_edge) == (1.0, True)
    inner = bl.fit_on_grid(np.array([1.0, 2.0, 3.0]), lambda v: (v - 2.0) ** 2)
    assert (inner.value, inner.at_edge) == (2.0, False)
    none = bl.fit_on_grid(np.array([1.0, 2.0]), lambda v: float("nan"))
    assert none.value == 1.0 and math.isnan(none.loss)


def test_released_grids():
    assert len(bl.TEMPERATURE_GRID) == 40 and bl.TEMPERATURE_GRID[[0, 15, 16, 39]] == (
        pytest.approx([0.25, 1.0, 1.05, 4.0])
    )
    assert len(bl.MARGIN_GRID) == 41 and bl.MARGIN_GRID[20] == 0.0
    assert len(bl.ALPHA_GRID) == 41 and bl.ALPHA_GRID[1] == pytest.approx(0.025)


def test_oracle_and_diffpo_read_outs():
    gap, right = np.array([2.0, -1.0]), np.array([True, False])
    temp = bl.oracle_p_spare(gap, right, "temperature", 4.0)
    assert temp == pytest.approx([sig(0.5), 1 - sig(-0.25)])
    margin = bl.oracle_p_spare(gap, right, "margin", -1.5)  # T = 1, m added toward B
    assert margin == pytest.approx([sig(0.5), 1 - sig(-2.5)])
    human = np.array([0.8, 0.6, 0.5, 0.7, 0.75, 0.7])
    dims = np.array([0, 3])
    mixed = bl.diffpo_p_spare(gap, right, dims, human, 0.25)
    assert mixed == pytest.approx(
        [0.75 * sig(2.0) + 0.25 * 0.8, 0.75 * (1 - sig(-1.0)) + 0.25 * 0.7]
    )
    assert bl.diffpo_p_spare(gap, right, dims, human, 1.0) == pytest.approx([0.8, 0.7])
    with pytest.raises(ValueError):
        bl.oracle_p_spare(gap, right, "offset", 1.0)


def test_tcat_sweeps_and_persona_counts():
    params = core.DiscaParams("paper")
    third = bl.scaled_tcat(params, 1 / 3)
    assert third.t_cat_species == pytest.approx(4.0 / 3) and third.t_cat_default == pytest.approx(
        1.0
    )
    assert third.t_cat("Gender") == pytest.approx(3.5 / 3)
    flat = bl.global_tcat(params, 2.5)
    assert {flat.t_cat(c) for c in ("Species", "Gender", "Age", "SocialValue")} == {2.5}
    assert flat.t_cat_default == 3.0
    assert bl.TCAT_SCALES[2] == 1.0 and len(bl.GLOBAL_TCATS) == 7
    assert bl.panel_agents(2) == (0, 1, 3) and bl.panel_agents(6) == tuple(range(7))
    with pytest.raises(ValueError):
        bl.panel_agents(7)


def test_mean_pass_p_b_averages_each_pass_read_out():
    passes = np.array(
        [[[1.0, 2.0], [0.5, -1.0], [3.0, 3.0]], [[0.0, 0.0], [2.0, 1.0], [-1.0, 4.0]]]
    )
    by_hand = [
        sum(1.0 / (1.0 + math.exp(-(b - a) / 0.5)) for a, b in scenario) / len(scenario)
        for scenario in passes
    ]
    assert bl.mean_pass_p_b(passes, 0.5) == pytest.approx(by_hand, abs=1e-15)
    with pytest.raises(ValueError):
        bl.mean_pass_p_b(passes[:, :, 0], 0.5)
