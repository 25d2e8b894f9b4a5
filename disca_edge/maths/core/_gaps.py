"""Decision gaps (spec §3 steps 1-2): scaled by T_cat and debiased over the label orders."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import as_float, positive_temp, scalar_or_array
from ._params import DiscaParams, check_params

__all__ = ["debias", "gaps", "scenario_gaps"]


def gaps(logit_a: Any, logit_b: Any, t_cat: Any) -> Any:
    """Scaled decision gaps δ = (z_B - z_A) / T_cat (spec Step 1), broadcasting.

    Args:
        logit_a (ndarray[...]): logits of token A.
        logit_b (ndarray[...]): logits of token B.
        t_cat (ndarray[...] | float): logit temperature(s), > 0.

    Returns:
        ndarray[...]: the gaps; > 0 favours B.

    Raises:
        ValueError: non-finite input or non-positive ``t_cat``.
    """
    a = as_float("logit_a", logit_a)
    b = as_float("logit_b", logit_b)
    t = positive_temp("t_cat", t_cat)
    return scalar_or_array((b - a) / t)


def debias(gap_orig: Any, gap_swap: Any) -> Any:
    """Positional debiasing δ = (δ^orig - δ^swap) / 2 (spec Step 2), broadcasting.

    Args:
        gap_orig (ndarray[...]): gaps in the original label ordering.
        gap_swap (ndarray[...]): gaps in the swapped ordering.

    Returns:
        ndarray[...]: debiased gaps; an additive position bias cancels exactly.
    """
    o = as_float("gap_orig", gap_orig)
    s = as_float("gap_swap", gap_swap)
    return scalar_or_array(0.5 * (o - s))


def _t_cat_array(t_cat: Any, n: int, params: DiscaParams) -> np.ndarray:
    """T_cat per scenario, shape (n,), from numbers or category names."""
    if not params.use_tcat:
        return np.ones(n)
    if t_cat is None or isinstance(t_cat, str):
        return np.full(n, params.t_cat(t_cat))
    arr = np.asarray(t_cat)
    if arr.dtype.kind in "OUS":
        arr = np.array([params.t_cat(None if c is None else str(c)) for c in arr.ravel()])
    t = positive_temp("t_cat", arr)
    if t.ndim == 0:
        return np.full(n, float(t))
    if t.shape != (n,):
        raise ValueError(f"t_cat must be a scalar or have shape ({n},), got {t.shape}")
    return t


def scenario_gaps(
    logits: Any, t_cat: Any, params: DiscaParams, *, has_swap: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Debiased, temperature-scaled gaps of the base prompt and each persona (Steps 1-2).

    Honors ``use_tcat`` (off: T_cat = 1), ``use_debias`` (off: δ = δ^orig) and
    ``use_personas`` (off: every persona gap equals the base gap).

    Args:
        logits (ndarray[S, 2, J, 2]): raw logits; axis 1 is the ordering (orig, swap),
            axis 2 the prompt (base, persona 1..N; J = N + 1), axis 3 the token (A, B).
            A single scenario ``ndarray[2, J, 2]`` is lifted to S = 1. With
            ``use_personas`` False, J = 1 (base only) is accepted and N = 4 copies of
            the base gap are returned.
        t_cat (ndarray[S] | float | str | None): T_cat per scenario or for all, as
            numbers (> 0) or dimension names (mapped by `DiscaParams.t_cat`).
        params (DiscaParams): switches and temperatures.
        has_swap (ndarray[S] | bool | None): False where the label swap left the
            scenario text unchanged (spec §2.3); those scenarios use δ = δ^orig and
            their swap logits are ignored. None means every scenario has a swap.

    Returns:
        tuple[ndarray[S], ndarray[S, N]]: ``(delta_base, delta_personas)``.

    Raises:
        ValueError: wrong shape, non-finite logits or non-positive ``t_cat``.
    """
    check_params(params)
    z = as_float("logits", logits)
    if z.ndim == 3:
        z = z[None]
    if z.ndim != 4 or z.shape[1] != 2 or z.shape[3] != 2:
        raise ValueError(f"logits must have shape (S, 2, J, 2), got {np.shape(logits)}")
    n_s, _, n_j, _ = z.shape
    min_j = 1 if not params.use_personas else 3
    if n_j < min_j:
        raise ValueError(
            f"logits must hold the base prompt and >= 2 personas (J >= 3), got J = {n_j}"
        )
    t = _t_cat_array(t_cat, n_s, params)
    raw = (z[..., 1] - z[..., 0]) / t[:, None, None]  # (S, 2, J)
    if not params.use_debias:
        delta = raw[:, 0]
    elif has_swap is None:
        delta = 0.5 * (raw[:, 0] - raw[:, 1])
    else:
        swap = np.asarray(has_swap)
        if swap.dtype != np.bool_ or swap.shape not in ((), (n_s,)):
            raise ValueError(f"has_swap must be a bool or a bool array of shape ({n_s},)")
        swap = np.broadcast_to(swap, (n_s,))[:, None]
        delta = np.where(swap, 0.5 * (raw[:, 0] - raw[:, 1]), raw[:, 0])
    base = np.ascontiguousarray(delta[:, 0])
    if params.use_personas:
        personas = np.ascontiguousarray(delta[:, 1:])
    else:
        n_p = n_j - 1 if n_j >= 3 else 4
        personas = np.repeat(base[:, None], n_p, axis=1)
    return base, personas
