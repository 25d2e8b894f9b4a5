"""Baseline read-outs from stored logits (BASELINES.md): pure NumPy, no I/O.

* `two_way_p_b`: the prompt baselines' read-out, softmax([z_A, z_B] / T)[B] (§1.2; T = 0.5,
  T = 1 for ``prism:suffix``), no swap, no T_cat.
* `mean_pass_p_b`: emulated MC-dropout (§7), the per-pass T = 0.5 read-outs averaged.
* `static_bias`, `static_bias_p_b`: the released static "SWAI" bias (§5), estimated from a
  country's corpus logits and applied to the vanilla logits.
* `calibration_split`, `fit_on_grid`, `oracle_p_spare`, `released_objective`,
  `covered_mis`: the oracle temperature and margin scalers (§8) and DiffPO-binary (§9,
  `diffpo_p_spare`).
* `scaled_tcat`, `global_tcat`, `panel_agents`: the DISCA sensitivity sweeps (§11).

Arrays are per scenario of one country (S); ``dims`` is each scenario's dimension index in
`categories.DIMENSIONS` order (`bootstrap.dimension_indices`), ``human`` the country's
6-vector, ``right`` whether the preferred group is option B (orig order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import core
from .categories import TCAT_FIELD

__all__ = [
    "ALPHA_GRID",
    "GLOBAL_TCATS",
    "MARGIN_GRID",
    "PERSONA_COUNTS",
    "TCAT_SCALES",
    "TEMPERATURE_GRID",
    "Fit",
    "calibration_split",
    "covered_mis",
    "diffpo_p_spare",
    "fit_on_grid",
    "global_tcat",
    "oracle_p_spare",
    "panel_agents",
    "released_objective",
    "scaled_tcat",
    "static_bias",
    "static_bias_p_b",
    "two_way_p_b",
    "mean_pass_p_b",
]

#: The released oracle grids (`calibration_baselines.py`; 40 temperatures, 41 margins).
TEMPERATURE_GRID = np.concatenate([np.linspace(0.25, 1.00, 16), np.linspace(1.05, 4.00, 24)])
MARGIN_GRID = np.linspace(-4.0, 4.0, 41)
#: DiffPO-binary's mixing weights (`diffpo_binary_baseline.py`).
ALPHA_GRID = np.linspace(0.0, 1.0, 41)

#: T_cat scale sweep: the released grid {1, ..., 5} over its default 3.0.
TCAT_SCALES: tuple[float, ...] = tuple(v / 3.0 for v in (1.0, 2.0, 3.0, 4.0, 5.0))
#: Global T_cat sweep: one value for every category.
GLOBAL_TCATS: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
#: Persona counts of the sweep (4 is the default panel).
PERSONA_COUNTS: tuple[int, ...] = (2, 3, 4, 5, 6)


def two_way_p_b(logit_a: np.ndarray, logit_b: np.ndarray, t: float = 0.5) -> np.ndarray:
    """p_B = softmax([z_A, z_B] / T)[B] = sigmoid((z_B − z_A) / T) (ndarray[S])."""
    a, b = np.asarray(logit_a, dtype=np.float64), np.asarray(logit_b, dtype=np.float64)
    return np.asarray(core.sigmoid((b - a) / float(t)), dtype=np.float64)


def mean_pass_p_b(passes: np.ndarray, t: float = 0.5) -> np.ndarray:
    """MC-dropout's p_B: each pass read out as `two_way_p_b`, then averaged over the passes.

    Args:
        passes (ndarray[S, T, 2]): (z_A, z_B) of T stochastic passes per scenario.
        t: the read-out temperature (0.5).

    Returns:
        ndarray[S].
    """
    passes = np.asarray(passes, dtype=np.float64)
    if passes.ndim != 3 or passes.shape[1] == 0 or passes.shape[2] != 2:
        raise ValueError(f"passes must be ndarray[S, T >= 1, 2], got shape {passes.shape}")
    return two_way_p_b(passes[..., 0], passes[..., 1], t).mean(axis=1)


def static_bias(corpus_logits: np.ndarray) -> tuple[float, float]:
    """The static bias (b_A, b_B) of a country from its corpus prompts' logits (§5).

    ℓ = log_softmax([z_A, z_B]) per sentence (T = 1); m = the mean of ℓ over the corpus;
    b = m − (m_A + m_B)/2, so b_A + b_B = 0.

    Args:
        corpus_logits (ndarray[K, 2]): (z_A, z_B) of each corpus sentence, K >= 1.

    Raises:
        ValueError: not (K >= 1, 2) or not finite.
    """
    z = np.asarray(corpus_logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] != 2 or not np.isfinite(z).all():
        raise ValueError(f"corpus_logits must be finite (K >= 1, 2), got shape {z.shape}")
    top = z.max(axis=1, keepdims=True)
    log_p = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
    m_a, m_b = log_p.mean(axis=0)
    centre = 0.5 * (m_a + m_b)
    return float(m_a - centre), float(m_b - centre)


def static_bias_p_b(
    logit_a: np.ndarray, logit_b: np.ndarray, b_a: float, b_b: float, t_dec: float = 0.5
) -> np.ndarray:
    """p_B = sigmoid(((z_B + b_B) − (z_A + b_A)) / T_dec) (ndarray[S]), no swap (§5)."""
    a = np.asarray(logit_a, dtype=np.float64) + b_a
    return two_way_p_b(a, np.asarray(logit_b, dtype=np.float64) + b_b, t_dec)


def calibration_split(
    n: int, seed: int = 42, fraction: float = 0.25, least: int = 20
) -> np.ndarray:
    """The released 25/75 split: True for the calibration rows (ndarray[n] of bool).

    ``np.random.RandomState(seed).permutation(n)``; its first max(least, round(fraction ·
    n)) positions are the calibration rows (all of them when n <= least).
    """
    order = np.random.RandomState(seed).permutation(n)
    n_cal = max(least, int(round(fraction * n)))
    mask = np.zeros(n, dtype=bool)
    mask[order[:n_cal]] = True
    return mask


def _dimension_means(p_spare: np.ndarray, dims: np.ndarray, least: int) -> np.ndarray:
    """Mean p_spare per dimension (ndarray[6]), NaN where it has fewer than ``least`` rows."""
    out = np.full(6, np.nan)
    for d in range(6):
        sel = dims == d
        if sel.sum() >= max(least, 1):
            out[d] = float(np.mean(p_spare[sel]))
    return out


def released_objective(p_spare: np.ndarray, dims: np.ndarray, human: np.ndarray) -> float:
    """The released fitting objective: MIS over the dimensions with >= 3 rows, NaN under 2."""
    means = _dimension_means(np.asarray(p_spare, float), np.asarray(dims), 3)
    kept = ~np.isnan(means)
    if kept.sum() < 2:
        return float("nan")
    return float(np.linalg.norm(means[kept] - np.asarray(human, float)[kept]))


def covered_mis(p_spare: np.ndarray, dims: np.ndarray, human: np.ndarray) -> float:
    """The project's MIS: over the dimensions with a row (a missing one counts 0); NaN without rows."""
    means = _dimension_means(np.asarray(p_spare, float), np.asarray(dims), 1)
    kept = ~np.isnan(means)
    if not kept.any():
        return float("nan")
    return float(np.linalg.norm(means[kept] - np.asarray(human, float)[kept]))


@dataclass(frozen=True)
class Fit:
    """A grid search's outcome.

    Attributes:
        value: the chosen grid value (the first strict minimum; the first value when no
            point has a finite objective).
        loss: its objective (NaN when none was finite).
        at_edge: the value is the grid's first or last point.
    """

    value: float
    loss: float
    at_edge: bool


def fit_on_grid(grid: np.ndarray, objective: Callable[[float], float]) -> Fit:
    """The grid value with the smallest finite objective; ties keep the first (as released)."""
    values = [float(v) for v in grid]
    best, loss = values[0], float("inf")
    for v in values:
        x = objective(v)
        if np.isfinite(x) and x < loss:
            best, loss = v, x
    return Fit(best, loss if np.isfinite(loss) else float("nan"), best in (values[0], values[-1]))


def oracle_p_spare(gap: np.ndarray, right: np.ndarray, kind: str, value: float) -> np.ndarray:
    """An oracle scaler's p_spare (§8): p_B = sigmoid((δ + m) / T), oriented to the preferred side.

    Args:
        gap (ndarray[S]): raw gaps z_B − z_A (orig order, no T_cat).
        right (ndarray[S] of bool): preferred group on the right.
        kind: ``temperature`` (m = 0, T = value) or ``margin`` (T = 1, m = value, added
            toward B).
        value: T_c (> 0) or m_c.
    """
    if kind == "temperature":
        p_b = core.sigmoid(np.asarray(gap, float) / max(float(value), 1e-10))
    elif kind == "margin":
        p_b = core.sigmoid(np.asarray(gap, float) + float(value))
    else:
        raise ValueError(f"kind must be temperature or margin, got {kind!r}")
    return np.where(np.asarray(right, bool), p_b, 1.0 - p_b)


def diffpo_p_spare(
    gap: np.ndarray, right: np.ndarray, dims: np.ndarray, human: np.ndarray, alpha: float
) -> np.ndarray:
    """DiffPO-binary (§9): (1 − α) · vanilla p_spare (T = 1) + α · the human value of its dimension."""
    p_vanilla = oracle_p_spare(gap, right, "temperature", 1.0)
    target = np.asarray(human, float)[np.asarray(dims)]
    return (1.0 - alpha) * p_vanilla + alpha * target


def scaled_tcat(params: core.DiscaParams, factor: float) -> core.DiscaParams:
    """Every T_cat and the default divisor multiplied by ``factor`` (the T_cat scale sweep)."""
    fields = [*TCAT_FIELD.values(), "t_cat_default"]
    return params.replace(**{f: getattr(params, f) * factor for f in fields})


def global_tcat(params: core.DiscaParams, value: float) -> core.DiscaParams:
    """One T_cat for every category (the default divisor unchanged, as released)."""
    return params.replace(**dict.fromkeys(TCAT_FIELD.values(), float(value)))


def panel_agents(n_personas: int) -> tuple[int, ...]:
    """Agent indices of a persona count into [base, young, middle, older, all, anchors...].

    N = 2: young and older; 3: the cohorts; 4: the default panel; 5: + the utilitarian
    anchor; 6: + the deontological anchor (BASELINES.md §11).
    """
    agents = {2: (0, 1, 3), 3: (0, 1, 2, 3), 4: (0, 1, 2, 3, 4), 5: (0, 1, 2, 3, 4, 5),
              6: (0, 1, 2, 3, 4, 5, 6)}  # fmt: skip
    if n_personas not in agents:
        raise ValueError(f"n_personas must be one of {sorted(agents)}, got {n_personas}")
    return agents[n_personas]
