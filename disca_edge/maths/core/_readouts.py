"""Read-outs after the correction: vanilla p_B, p_spare, the country prior (§3 step 7, §5.2, §7)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._arrays import as_float, positive_temp, scalar_or_array, sigmoid
from ._params import DiscaParams, check_params

__all__ = ["country_prior", "p_spare", "prior_alpha", "vanilla_lfl_p_b", "vanilla_raw_p_b"]


def vanilla_raw_p_b(logit_a: Any, logit_b: Any, t_dec: float = 0.5) -> Any:
    """The paper's vanilla baseline p_B = sigmoid((z_B - z_A) / T_dec) (spec §7).

    Args:
        logit_a (ndarray[...]): raw logits of A (base prompt, original ordering).
        logit_b (ndarray[...]): raw logits of B.
        t_dec: decision temperature (> 0). No T_cat, no debiasing.

    Returns:
        ndarray[...] | float: probability of B.
    """
    t = float(positive_temp("t_dec", t_dec))
    a = as_float("logit_a", logit_a)
    b = as_float("logit_b", logit_b)
    return sigmoid((b - a) / t)


def vanilla_lfl_p_b(delta_base: Any, t_dec: float = 0.5) -> Any:
    """Like-for-like vanilla p_B = sigmoid(δ_base / T_dec) (spec §7).

    Args:
        delta_base (ndarray[...]): debiased, T_cat-scaled base gaps.
        t_dec: decision temperature (> 0).

    Returns:
        ndarray[...] | float: probability of B.
    """
    t = float(positive_temp("t_dec", t_dec))
    return sigmoid(as_float("delta_base", delta_base) / t)


def p_spare(p_b: Any, preferred_right: Any) -> Any:
    """Probability of sparing the dimension's preferred group (spec Step 7).

    Args:
        p_b (ndarray[...]): probability of option B (right-hand, original ordering).
        preferred_right (ndarray[...] | bool): whether the preferred group is the
            right-hand option; broadcast against ``p_b``.

    Returns:
        ndarray[...] | float: ``p_b`` where preferred_right, else ``1 - p_b``.

    Raises:
        ValueError: ``p_b`` outside [0, 1] or ``preferred_right`` not boolean (0/1).
    """
    p = as_float("p_b", p_b)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p_b must lie in [0, 1]")
    right = np.asarray(preferred_right)
    if right.dtype != np.bool_:
        if right.dtype.kind not in "iuf" or not np.isin(right, (0, 1)).all():
            raise ValueError("preferred_right must be boolean (True/False or 0/1)")
        right = right.astype(bool)
    return scalar_or_array(np.where(right, p, 1.0 - p))


# --------------------------------------------------------------------------- country prior (§5.2)


def prior_alpha(t: Any, params: DiscaParams | None = None) -> Any:
    """Prior weight α_h(t) = 0 if t < N_WARMUP else 1 - exp(-(t - N_WARMUP) / DECAY_TAU).

    Args:
        t (ndarray[...] | int): prior step count(s), >= 0.
        params (DiscaParams | None): source of ``n_warmup`` and ``decay_tau``
            (default: ``DiscaParams("reference")``).

    Returns:
        ndarray[...] | float: α_h in [0, 1).
    """
    params = DiscaParams("reference") if params is None else check_params(params)
    tt = as_float("t", t)
    if (tt < 0).any():
        raise ValueError("t must be >= 0")
    alpha = np.where(
        tt < params.n_warmup,
        0.0,
        -np.expm1(-(np.maximum(tt, params.n_warmup) - params.n_warmup) / params.decay_tau),
    )
    return scalar_or_array(alpha)


def country_prior(delta_final: Any, params: DiscaParams) -> np.ndarray:
    """The `reference` variant's sequential per-country EMA prior (spec §5.2).

    For one country's scenarios in pool order. State δ_country = 0, t = 0. First
    ``prior_replays`` replays on the first scenarios (outputs discarded) update
    δ_country ← (1 - β) δ_country + β δ_micro and t ← t + 1; then for every scenario
    δ_out = α_h(t) δ_country + (1 - α_h(t)) δ_micro, followed by the same update.

    Applies only when ``params.prior_enabled`` (``use_prior``, else on for
    ``reference``); otherwise returns a copy of ``delta_final``.

    Args:
        delta_final (ndarray[S]): δ_micro per scenario, in pool order.
        params (DiscaParams): prior constants and switch.

    Returns:
        ndarray[S]: δ_out.

    Raises:
        ValueError: ``delta_final`` not 1-D or not finite.
    """
    check_params(params)
    x = as_float("delta_final", delta_final)
    if x.ndim != 1:
        raise ValueError(f"delta_final must have shape (S,), got {x.shape}")
    if not params.prior_enabled:
        return x.copy()
    beta, warm, tau = params.beta_ema, params.n_warmup, params.decay_tau
    values = x.tolist()
    country = 0.0
    t = 0
    for v in values[: params.prior_replays]:
        country = (1.0 - beta) * country + beta * v
        t += 1
    out = []
    for v in values:
        alpha = 0.0 if t < warm else -math.expm1(-(t - warm) / tau)
        out.append(alpha * country + (1.0 - alpha) * v)
        country = (1.0 - beta) * country + beta * v
        t += 1
    return np.array(out, dtype=np.float64)
