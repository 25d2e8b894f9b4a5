"""Scenario bootstrap of MIS: intervals per country and paired differences between methods.

A country's MIS is computed from per-dimension means of p_spare over its scenarios
(MULTITP.md §9–10). Its uncertainty from *which* scenarios were drawn is estimated by a
stratified bootstrap: each resample draws, within every dimension, as many scenarios as
the dimension has, with replacement, and recomputes the six-dimension vector and the MIS.
Every method of a country is scored on the same resamples (common random numbers), so the
difference of two methods' MIS has a paired interval that is much narrower than either
interval alone.

The intervals are **basic** (reverse-percentile) bootstrap intervals,
[2θ̂ − q(1 − α/2), 2θ̂ − q(α/2)] (Davison & Hinkley 1997, §5.2), not percentile ones.
MIS is a distance, and noise only adds distance: the sample MIS lies above the population
MIS, and its resamples lie above it again by about as much. A percentile interval
carries that bias whole; in simulation at the paper's size (20 countries × 310
scenarios) the percentile interval of the macro MIS covered the true value 0-65% of the
time, the basic one 86-95% (`tests/unit/test_bootstrap.py` keeps the per-country
cases). With fewer than `MIN_PER_DIMENSION` scenarios in a dimension the resamples
understate the spread (one scenario: none at all), so callers report no interval there.

The per-scenario p_spare values are taken as given: for the `reference` variant, whose
country prior makes a scenario's value depend on the ones before it in pool order, the
interval is conditional on that order (the prior is not re-run per resample).

Pure NumPy; the resamples are drawn from ``default_rng([seed, country_key(iso3)])``, so an
interval is reproducible and does not depend on which other countries were scored.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from .categories import DIMENSION_OF_CATEGORY, DIMENSIONS, normalize_category

__all__ = [
    "LEVEL",
    "N_RESAMPLES",
    "MIN_PER_DIMENSION",
    "country_key",
    "dimension_indices",
    "resampled_vectors",
    "resampled_mis",
    "percentile_interval",
]

#: Default number of bootstrap resamples and interval level.
N_RESAMPLES = 1000
LEVEL = 0.95

#: Fewest scenarios in every covered dimension for an interval: below it the resamples
#: understate the spread (coverage of a nominal 95% interval falls under about 85%).
MIN_PER_DIMENSION = 10


def country_key(iso3: str) -> int:
    """A stable integer for a country code, mixed into the resampling seed."""
    return zlib.crc32(iso3.encode("utf-8"))


def resampled_vectors(
    p_spare: np.ndarray,
    dimension: np.ndarray,
    *,
    n_dimensions: int = 6,
    n_resamples: int = N_RESAMPLES,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per-dimension means of p_spare over stratified bootstrap resamples.

    Args:
        p_spare (ndarray[M, S]): probability of sparing the preferred group, per method and
            scenario.
        dimension (ndarray[S]): each scenario's dimension index in ``0..n_dimensions-1``.
        n_dimensions: the number of dimensions (6 in MultiTP).
        n_resamples: B, the number of resamples.
        rng: the generator the resamples are drawn from (dimensions in index order).

    Returns:
        ndarray[M, B, n_dimensions]: the resampled model vectors; NaN for a dimension
        without scenarios.

    Raises:
        ValueError: shapes that do not match, a dimension index out of range, B < 1.
    """
    p = np.atleast_2d(np.asarray(p_spare, dtype=np.float64))
    dims = np.asarray(dimension)
    if p.ndim != 2 or dims.shape != (p.shape[1],):
        raise ValueError(f"p_spare (M, S) and dimension (S,): got {p.shape} and {dims.shape}")
    if dims.size and (dims.min() < 0 or dims.max() >= n_dimensions):
        raise ValueError(f"dimension indices must lie in 0..{n_dimensions - 1}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    out = np.full((p.shape[0], n_resamples, n_dimensions), np.nan)
    rows = np.arange(n_resamples)[:, None]
    for d in range(n_dimensions):
        members = np.flatnonzero(dims == d)
        n = members.size
        if n == 0:
            continue
        picks = rng.integers(0, n, size=(n_resamples, n))
        counts = np.bincount((picks + n * rows).ravel(), minlength=n_resamples * n)
        weights = counts.reshape(n_resamples, n) / n  # ndarray[B, n_d], rows sum to 1
        out[:, :, d] = (weights @ p[:, members].T).T
    return out


def resampled_mis(vectors: np.ndarray, human: np.ndarray) -> np.ndarray:
    """MIS of resampled vectors; a dimension without scenarios contributes 0.

    This is the point estimate's rule (MIS over the covered dimensions), applied to each
    resample.

    Args:
        vectors (ndarray[..., 6]): model vectors (`resampled_vectors`), NaN where uncovered.
        human (ndarray[6]): the human preference vector.

    Returns:
        ndarray[...]: ‖m̂ − p_h‖₂ per vector.
    """
    v = np.asarray(vectors, dtype=np.float64)
    h = np.asarray(human, dtype=np.float64)
    diff = np.where(np.isnan(v), 0.0, v - h)
    return np.sqrt(np.sum(diff * diff, axis=-1))


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """The central percentile interval of bootstrap samples.

    Args:
        samples (ndarray[..., B]): resampled statistics, resamples on the last axis.
        level: the coverage, in (0, 1).

    Returns:
        ndarray[..., 2]: (low, high) per leading index.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    tail = (1.0 - level) / 2.0
    q = np.quantile(np.asarray(samples, dtype=np.float64), [tail, 1.0 - tail], axis=-1)
    return np.moveaxis(q, 0, -1)


def basic_interval(
    samples: np.ndarray, point: np.ndarray | float, level: float = LEVEL
) -> np.ndarray:
    """The basic (reverse-percentile) interval: the percentile interval reflected about the point.

    Args:
        samples (ndarray[..., B]): resampled statistics, resamples on the last axis.
        point (ndarray[...] or float): the statistic on the data itself.
        level: the coverage, in (0, 1).

    Returns:
        ndarray[..., 2]: (2·point − q_high, 2·point − q_low) per leading index.
    """
    q = percentile_interval(samples, level)
    reflected = 2.0 * np.asarray(point, dtype=np.float64)[..., None] - q
    return reflected[..., ::-1]


def dimension_indices(categories: Sequence[str]) -> np.ndarray:
    """Each scenario's dimension index in `DIMENSIONS` order (as `metrics.model_vector`).

    Args:
        categories: per scenario, its category or dimension name (any spelling
            `categories.normalize_category` accepts).

    Returns:
        ndarray[S] of int in 0..5.
    """
    resolved = {name: DIMENSION_OF_CATEGORY[normalize_category(name)] for name in set(categories)}
    return np.array([DIMENSIONS.index(resolved[name]) for name in categories], dtype=np.int64)
