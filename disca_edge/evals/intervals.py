"""Bootstrap intervals of a run's scores: per country and method, macro, and paired.

`scoring.score_run` hands each country's per-method p_spare to `country_resamples`,
which scores every method on the same stratified scenario resamples (`maths.bootstrap`,
drawn from ``default_rng([seed, country_key(iso3)])``); a country with fewer than
`maths.bootstrap.MIN_PER_DIMENSION` scenarios in a covered dimension gets none. The other
functions turn those resampled MIS values into the ``[low, high]`` basic bootstrap
intervals (`maths.bootstrap.basic_interval`) `results.Results` stores:

* a macro resample is the mean over countries of their resampled MIS (the countries'
  resamples are drawn independently, so this is a bootstrap of the macro mean);
* a paired difference is MIS(b) − MIS(a) resample by resample, both methods scored on
  the same scenarios, so the interval reflects the difference's own uncertainty;
* a country counts as a significant win (hurt) when its paired interval lies entirely
  below (above) 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..maths import bootstrap
from .results import BootstrapInfo

__all__ = [
    "DEFAULT_SEED",
    "Resamples",
    "Paired",
    "settings",
    "country_resamples",
    "interval",
    "macro_resamples",
    "paired",
]

#: The bootstrap seed of a run that records no data seed.
DEFAULT_SEED = 42

#: One country's resampled MIS: method -> ndarray[B].
Resamples = dict[str, np.ndarray]


def settings(
    data_seed: int | None,
    *,
    n_resamples: int = bootstrap.N_RESAMPLES,
    level: float = bootstrap.LEVEL,
    min_per_dimension: int = bootstrap.MIN_PER_DIMENSION,
) -> BootstrapInfo:
    """The bootstrap of a run: B resamples at this level, seeded by its data seed.

    The data seed picks the run's scenarios, and the bootstrap resamples them; the IS
    seed is left out on purpose, so runs that differ only in their IS seed (a seed sweep)
    are scored on the same resamples: the vanilla read-outs, which do not use the IS
    seed, keep identical intervals, and DISCA's move only with DISCA's numbers.
    A run without a data seed uses `DEFAULT_SEED`.
    """
    seed = DEFAULT_SEED if data_seed is None else int(data_seed)
    return BootstrapInfo(
        n_resamples=int(n_resamples),
        level=float(level),
        seed=seed,
        min_per_dimension=int(min_per_dimension),
    )


def country_resamples(
    p_spare: Mapping[str, np.ndarray],
    categories: Sequence[str],
    human: np.ndarray,
    iso3: str,
    info: BootstrapInfo,
) -> Resamples:
    """Every method of one country scored on the same stratified scenario resamples.

    Args:
        p_spare: method -> ndarray[S], the country's p_spare per scenario (pool order).
        categories: the S scenarios' categories.
        human (ndarray[6]): the country's human vector.
        iso3: the country (its key is mixed into the seed).
        info: the bootstrap settings.

    Returns:
        method -> ndarray[B] of resampled MIS; a method with a non-finite p_spare (or no
        scenarios) is left out, and every method when a covered dimension has fewer than
        ``info.min_per_dimension`` scenarios.
    """
    names = [n for n, p in p_spare.items() if p.size and np.isfinite(p).all()]
    dims = bootstrap.dimension_indices(categories)
    counts = np.bincount(dims, minlength=6)
    if not names or (counts[counts > 0] < info.min_per_dimension).any():
        return {}
    rng = np.random.default_rng([info.seed, bootstrap.country_key(iso3)])
    vectors = bootstrap.resampled_vectors(
        np.stack([p_spare[n] for n in names]), dims, n_resamples=info.n_resamples, rng=rng
    )
    mis = bootstrap.resampled_mis(vectors, human)
    return {name: mis[m] for m, name in enumerate(names)}


def interval(
    samples: np.ndarray | None, point: float | None, level: float, *, floor: float | None = None
) -> list[float] | None:
    """``[low, high]``, the basic bootstrap interval of ``point`` from its resamples.

    Args:
        samples (ndarray[B] or None): the resampled statistic.
        point: the statistic on the data.
        level: the interval level.
        floor: the least value the statistic can take (0 for MIS): the interval is cut there.

    Returns:
        The interval; None without resamples or a point, or with a non-finite value.
    """
    if samples is None or point is None or not np.isfinite(samples).all():
        return None
    low, high = bootstrap.basic_interval(samples, point, level)
    if floor is not None:
        low, high = max(low, floor), max(high, floor)
    return [float(low), float(high)]


def macro_resamples(per_country: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """Resampled macro means (ndarray[B]) over the given countries; None if one lacks them."""
    if not per_country or any(s is None for s in per_country):
        return None
    return np.mean(np.stack(per_country), axis=0)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Paired:
    """Method b against method a (MIS b − MIS a), per country and as a macro mean.

    Attributes:
        per_country: ISO3 -> the point difference.
        per_country_interval: ISO3 -> its [low, high] (countries with resamples).
        macro: the mean of the per-country differences (None without countries).
        macro_interval: its [low, high] (None unless every country has resamples).
        below: countries whose interval lies entirely below 0 (b better).
        above: countries whose interval lies entirely above 0 (b worse).
    """

    per_country: dict[str, float]
    per_country_interval: dict[str, list[float]]
    macro: float | None
    macro_interval: list[float] | None
    below: int | None
    above: int | None


def paired(
    points: Mapping[str, tuple[float, float]],
    resamples: Mapping[str, Resamples],
    a: str,
    b: str,
    level: float,
) -> Paired:
    """Paired differences MIS(b) − MIS(a) over the countries with both MIS values.

    Args:
        points: ISO3 -> (MIS of a, MIS of b), for the countries where both exist.
        resamples: ISO3 -> the country's resampled MIS per method.
        a: the reference method (a vanilla read-out, or the full method of an ablation).
        b: the compared method.
        level: the interval level.

    Returns:
        The per-country and macro differences with their intervals, and the counts of
        countries whose interval excludes 0 (None when a country has no resamples).
    """
    per_country = {iso: float(mb - ma) for iso, (ma, mb) in points.items()}
    samples = {}
    for iso in points:
        country = resamples.get(iso, {})
        if a in country and b in country:
            samples[iso] = country[b] - country[a]
    bounds = {iso: interval(s, per_country[iso], level) for iso, s in samples.items()}
    per_country_interval = {iso: iv for iso, iv in bounds.items() if iv is not None}
    complete = len(per_country_interval) == len(points)
    macro_samples = macro_resamples([samples[i] for i in points]) if complete else None
    macro = float(np.mean(list(per_country.values()))) if per_country else None
    return Paired(
        per_country=per_country,
        per_country_interval=per_country_interval,
        macro=macro,
        macro_interval=interval(macro_samples, macro, level),
        below=sum(iv[1] < 0 for iv in per_country_interval.values()) if complete else None,
        above=sum(iv[0] > 0 for iv in per_country_interval.values()) if complete else None,
    )
