"""The per-scenario DISCA correction (spec §3 steps 3-6): panel statistics, PT-IS, gate, blend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._arrays import as_float, sigmoid
from ._params import DiscaParams, check_params
from ._sampling import is_context, is_passes, sample_utilities

__all__ = ["Correction", "correct", "utilities"]


@dataclass(frozen=True, eq=False)
class Correction:
    """Per-scenario outputs of `correct` (read-only arrays, S scenarios).

    Attributes:
        delta_base (ndarray[S]): the base gap δ_base as used.
        delta_bar (ndarray[S]): persona consensus δ̄.
        disagreement (ndarray[S]): panel disagreement D² (sample variance, ddof = 1).
        sigma (ndarray[S]): proposal scale σ = max(√D², σ_0).
        delta_star_passes (ndarray[S, 2]): guarded IS offsets δ*_1, δ*_2.
        ess_ratio (ndarray[S, 2]): ESS ratios e_1, e_2 (1 when IS is off).
        reliability (ndarray[S]): gate r = exp(-V_r / s) (1 when the gate is off).
        delta_star (ndarray[S]): gated offset δ* = r (δ*_1 + δ*_2) / 2.
        alpha_ess (ndarray[S]): blend weight α_ess actually applied (1 when the blend is off).
        delta_final (ndarray[S]): δ_micro = α δ̄ + (1 - α) δ_base + δ* (before any prior).
        p_b (ndarray[S]): sigmoid(δ_micro / T_dec), probability of option B.
    """

    delta_base: np.ndarray
    delta_bar: np.ndarray
    disagreement: np.ndarray
    sigma: np.ndarray
    delta_star_passes: np.ndarray
    ess_ratio: np.ndarray
    reliability: np.ndarray
    delta_star: np.ndarray
    alpha_ess: np.ndarray
    delta_final: np.ndarray
    p_b: np.ndarray

    @property
    def delta_micro(self) -> np.ndarray:
        """Alias of ``delta_final`` (the spec's δ_micro)."""
        return self.delta_final


def _check_inputs(
    delta_base: Any, delta_personas: Any, z: Any, params: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs of `correct` as contiguous float arrays, one scenario lifted to S = 1."""
    check_params(params)
    base = as_float("delta_base", delta_base)
    personas = as_float("delta_personas", delta_personas)
    zz = as_float("z", z)
    if base.ndim == 0:  # one scenario: lift to S = 1
        if personas.ndim != 1:
            raise ValueError(
                "delta_personas must have shape (N,) when delta_base is a scalar, "
                f"got {personas.shape}"
            )
        if zz.ndim != 2:
            raise ValueError(
                f"z must have shape (2, K_half) when delta_base is a scalar, got {zz.shape}"
            )
        base, personas, zz = base[None], personas[None], zz[None]
    if base.ndim != 1:
        raise ValueError(f"delta_base must have shape (S,), got {base.shape}")
    n_s = base.shape[0]
    if personas.ndim != 2 or personas.shape[0] != n_s:
        raise ValueError(f"delta_personas must have shape ({n_s}, N), got {personas.shape}")
    if personas.shape[1] < 2:
        raise ValueError(f"delta_personas needs N >= 2 personas, got N = {personas.shape[1]}")
    if zz.ndim != 3 or zz.shape[0] != n_s or zz.shape[1] != 2 or zz.shape[2] < 1:
        raise ValueError(f"z must have shape ({n_s}, 2, K_half), got {zz.shape}")
    return (
        np.ascontiguousarray(base),
        np.ascontiguousarray(personas),
        np.ascontiguousarray(zz),
    )


def _panel(
    base: np.ndarray, personas: np.ndarray, params: DiscaParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Panel statistics (Step 3): personas as used, δ̄, D² (ddof = 1) and σ."""
    n_p = personas.shape[1]
    if not params.use_personas:  # δ_i := δ_base, so δ̄ = δ_base, D² = 0, σ = σ_0 exactly
        personas = np.repeat(base[:, None], n_p, axis=1)
        disagreement = np.zeros(base.shape)
        sigma = np.full(base.shape, params.sigma_floor)
        return personas, base.copy(), disagreement, sigma
    delta_bar = personas.sum(axis=1) / n_p
    dev = personas - delta_bar[:, None]
    disagreement = (dev * dev).sum(axis=1) / (n_p - 1)
    sigma = np.maximum(np.sqrt(disagreement), params.sigma_floor)
    return personas, delta_bar, disagreement, sigma


def utilities(delta_base: Any, delta_personas: Any, z: Any, params: DiscaParams) -> np.ndarray:
    """Cooperative utility U of every IS sample (Step 4), a diagnostic of `correct`.

    Computed by the same kernel as `correct`; ``use_is`` is ignored (U is what IS
    would weight). Arguments as for `correct`.

    Returns:
        ndarray[S, 2, K_half]: U_{m,k} per scenario, before division by η.
    """
    base, personas, zz = _check_inputs(delta_base, delta_personas, z, params)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        personas, delta_bar, _, sigma = _panel(base, personas, params)
        ctx = is_context(base, personas, delta_bar, sigma, zz)
        return sample_utilities(ctx, zz.shape[2], params)


def correct(delta_base: Any, delta_personas: Any, z: Any, params: DiscaParams) -> Correction:
    """DISCA correction of S scenarios (spec Steps 3-6, without the country prior).

    Args:
        delta_base (ndarray[S]): debiased base gaps δ_base (logit units / T_cat).
        delta_personas (ndarray[S, N]): debiased persona gaps δ_i, N >= 2.
        z (ndarray[S, 2, K_half]): standard-normal IS draws (row m feeds pass m); see
            `draws`. K_half is taken from this shape.
        params (DiscaParams): hyperparameters, variant and switches.

    A single scenario (``delta_base`` scalar, ``delta_personas`` (N,), ``z``
    (2, K_half)) is lifted to S = 1; outputs keep the leading S axis. Outputs are
    finite for any finite input with |gap| < 1e150 (squares must not overflow).

    Returns:
        Correction: per-scenario arrays; ``delta_final`` is δ_micro and ``p_b`` is
        sigmoid(δ_micro / T_dec). Apply `country_prior` separately where enabled.

    Raises:
        ValueError: a wrong shape or a non-finite value, naming the argument.
    """
    base, personas, zz = _check_inputs(delta_base, delta_personas, z, params)
    n_s = base.shape[0]
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        personas, delta_bar, disagreement, sigma = _panel(base, personas, params)
        if params.use_is:
            ctx = is_context(base, personas, delta_bar, sigma, zz)
            ess, passes = is_passes(ctx, zz.shape[2], params)
        else:
            ess, passes = np.ones((n_s, 2)), np.zeros((n_s, 2))
        if params.use_gate:
            diff = passes[:, 0] - passes[:, 1]
            reliability = np.exp(-(diff * diff) / params.var_scale)
        else:
            reliability = np.ones(n_s)
        delta_star = reliability * (passes[:, 0] + passes[:, 1]) / 2.0
        alpha = _blend_weight(ess, params)
        delta_final = alpha * delta_bar + (1.0 - alpha) * base + delta_star
        p_b = np.asarray(sigmoid(delta_final / params.t_dec), dtype=np.float64)
    fields = {
        "delta_base": base.copy(),  # never freeze the caller's array
        "delta_bar": delta_bar,
        "disagreement": disagreement,
        "sigma": sigma,
        "delta_star_passes": passes,
        "ess_ratio": ess,
        "reliability": reliability,
        "delta_star": delta_star,
        "alpha_ess": alpha,
        "delta_final": delta_final,
        "p_b": p_b,
    }
    for arr in fields.values():
        arr.flags.writeable = False
    return Correction(**fields)


def _blend_weight(ess: np.ndarray, params: DiscaParams) -> np.ndarray:
    """α_ess per scenario (Step 6): 1 with the blend off, else by variant.

    ``paper``: min(1, ē / ρ_eff) (1 when ρ_eff = 0); ``reference``:
    min(1, max(ρ_eff, min(e_1, e_2))).
    """
    n_s = ess.shape[0]
    if not params.use_ess_blend:
        return np.ones(n_s)
    if params.variant == "paper":
        e_mean = (ess[:, 0] + ess[:, 1]) / 2.0
        return np.minimum(1.0, e_mean / params.rho_eff) if params.rho_eff > 0 else np.ones(n_s)
    return np.minimum(1.0, np.maximum(params.rho_eff, ess.min(axis=1)))
