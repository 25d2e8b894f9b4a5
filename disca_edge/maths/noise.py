"""The model's numerical noise in persona effects: the same prompts under two kernel settings.

A persona effect is δ_i − δ_base, persona i's debiased, T_cat-scaled gap minus the base
prompt's (DISCA.md §3 steps 1-2, `core.scenario_gaps`). Evaluating the same prompts under
another valid kernel setting (an f16 KV cache, attention without flash attention) moves
the logits by rounding alone; the change it makes to the persona effects, Δ(δ_i − δ_base),
is the noise a persona effect must exceed to be a signal. Pure NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import core

__all__ = ["abs_median_p95", "effect_differences", "persona_effects"]


def persona_effects(
    logits: Any, has_swap: Any, categories: Sequence[str | None], params: core.DiscaParams
) -> np.ndarray:
    """Persona effects δ_i − δ_base, debiased and T_cat-scaled as the core does.

    Args:
        logits (ndarray[S, 2, J, 2]): raw logits [order (orig, swap), agent (base,
            personas), token (A, B)].
        has_swap (ndarray[S] of bool): whether the swapped order was evaluated.
        categories (Sequence[str | None] of length S): category per scenario (T_cat).
        params: DISCA parameters (T_cat, debiasing switches).

    Returns:
        ndarray[S, N]: the effect of each persona in each scenario (logit / T_cat).
    """
    base, personas = core.scenario_gaps(
        logits, list(categories), params, has_swap=np.asarray(has_swap, dtype=bool)
    )
    return np.asarray(personas) - np.asarray(base)[:, None]


def effect_differences(
    logits: Any,
    other_logits: Any,
    has_swap: Any,
    categories: Sequence[str | None],
    params: core.DiscaParams,
) -> np.ndarray:
    """Δ(δ_i − δ_base): how far another evaluation of the same prompts moves each persona effect.

    Args:
        logits (ndarray[S, 2, J, 2]): the first evaluation's raw logits.
        other_logits (ndarray[S, 2, J, 2]): the same prompts' logits under another setting.
        has_swap (ndarray[S] of bool): whether the swapped order was evaluated.
        categories (Sequence[str | None] of length S): category per scenario (T_cat).
        params: DISCA parameters.

    Returns:
        ndarray[S, N]: other minus first, per scenario and persona.

    Raises:
        ValueError: the two logits arrays differ in shape.
    """
    first, other = np.asarray(logits, dtype=np.float64), np.asarray(other_logits, np.float64)
    if first.shape != other.shape:
        raise ValueError(f"other_logits must have shape {first.shape}, got {other.shape}")
    return persona_effects(other, has_swap, categories, params) - persona_effects(
        first, has_swap, categories, params
    )


def abs_median_p95(values: Any) -> tuple[float, float]:
    """Median and 95th percentile (linear interpolation) of |values|, over all entries.

    Args:
        values (ndarray[...]): at least one finite number.

    Returns:
        (median, p95).

    Raises:
        ValueError: no values, or a non-finite one.
    """
    flat = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    if flat.size == 0 or not np.isfinite(flat).all():
        raise ValueError("values must hold at least one number, all finite")
    return float(np.median(flat)), float(np.percentile(flat, 95))
