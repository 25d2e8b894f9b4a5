"""DISCA core: persona-disagreement correction of two-option decision gaps (pure NumPy).

Implements spec §3-§7 (DISCA.md) as array-to-array functions: gap construction
(`gaps`, `debias`, `scenario_gaps`), the per-scenario correction (`correct`: panel
statistics, loss-averse importance sampling in two passes, reliability gate,
ESS-anchor blend), the `reference` variant's sequential country prior
(`country_prior`, `prior_alpha`), the vanilla read-outs, and the deterministic IS
noise convention (`draws`). No I/O, no logging, no global state.

Sign convention: a gap ``delta > 0`` favours option B (the right-hand option).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .categories import TCAT_FIELD, find_category

__all__ = [
    "DiscaParams",
    "Correction",
    "sigmoid",
    "gaps",
    "debias",
    "scenario_gaps",
    "correct",
    "utilities",
    "vanilla_raw_p_b",
    "vanilla_lfl_p_b",
    "p_spare",
    "prior_alpha",
    "country_prior",
    "draws",
]

_VARIANTS = ("paper", "reference")
_CHUNK = 256  # scenarios per IS chunk: six (2 K_half, 256) float64 buffers, 256 KiB each


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True, init=False)
class DiscaParams:
    """Every DISCA hyperparameter and switch (spec §5, §6, §8), validated and immutable.

    Construct with the variant (positional or keyword) and any overrides, e.g.
    ``DiscaParams("reference", eta=0.4)``. Unknown names and out-of-range values raise
    `ValueError`. ``dataclasses.replace`` and `replace` work as usual.

    Attributes:
        variant (str): ``"paper"`` (α_ess = min(1, ē/ρ_eff), no prior) or ``"reference"``
            (α_ess = min(1, max(ρ_eff, min(e_1, e_2))), country prior on by default).
        k_half (int): IS samples per pass, K_half; used for `draws` (the core itself
            takes K_half from the shape of ``z``).
        sigma_floor (float): proposal-scale floor σ_0 (logit units, > 0).
        lambda_coop (float): cooperation weight λ_coop of the consensus term, in [0, 1].
        eta (float): IS softmax temperature η (> 0).
        rho_eff (float): ESS-ratio guard ρ_eff, in [0, 1].
        var_scale (float): reliability scale s in r = exp(-V_r / s) (> 0).
        pt_alpha (float): prospect-theory exponent on gains (> 0).
        pt_beta (float): prospect-theory exponent on losses (> 0).
        kappa (float): loss aversion κ (> 0).
        t_dec (float): decision temperature T_dec (> 0).
        t_cat_species (float): T_cat for Species.
        t_cat_gender (float): T_cat for Gender.
        t_cat_age (float): T_cat for Age.
        t_cat_fitness (float): T_cat for Fitness.
        t_cat_social_value (float): T_cat for SocialValue.
        t_cat_utilitarianism (float): T_cat for Utilitarianism.
        t_cat_default (float): T_cat for an unknown or missing dimension (T_logit).
        utility_floor (float): f >= 0; f > 0 clamps each persona value v(g/σ) at -f.
        use_is (bool): importance sampling on; off gives δ*_m = 0 and e_m = 1.
        use_gate (bool): reliability gate on; off gives r = 1.
        use_personas (bool): personas on; off sets every δ_i to δ_base.
        use_debias (bool): positional debiasing on; off uses the original ordering only.
        use_tcat (bool): per-dimension temperatures on; off gives T_cat = 1.
        use_ess_blend (bool): ESS-anchor blend on; off gives δ_micro = δ̄ + δ*.
        use_prior (bool | None): country prior; None means on for ``reference`` and off
            for ``paper`` (see `prior_enabled`).
        prior_replays (int): pre-loop prior updates on the first scenarios (>= 0).
        n_warmup (int): prior warm-up steps N_WARMUP (>= 0).
        decay_tau (float): prior ramp time constant DECAY_TAU (> 0).
        beta_ema (float): prior EMA rate BETA_EMA, in [0, 1].
    """

    variant: str = "paper"
    k_half: int = 64
    sigma_floor: float = 0.3
    lambda_coop: float = 0.7
    eta: float = 0.5
    rho_eff: float = 0.1
    var_scale: float = 0.04
    pt_alpha: float = 0.88
    pt_beta: float = 0.88
    kappa: float = 2.25
    t_dec: float = 0.5
    t_cat_species: float = 4.0
    t_cat_gender: float = 3.5
    t_cat_age: float = 1.5
    t_cat_fitness: float = 1.5
    t_cat_social_value: float = 1.5
    t_cat_utilitarianism: float = 1.5
    t_cat_default: float = 3.0
    utility_floor: float = 0.0
    use_is: bool = True
    use_gate: bool = True
    use_personas: bool = True
    use_debias: bool = True
    use_tcat: bool = True
    use_ess_blend: bool = True
    use_prior: bool | None = None
    prior_replays: int = 3
    n_warmup: int = 50
    decay_tau: float = 100.0
    beta_ema: float = 0.10

    def __init__(self, variant: str = "paper", **overrides: Any) -> None:
        """Build and validate parameters.

        Args:
            variant: ``"paper"`` or ``"reference"``.
            **overrides: any other field by name.

        Raises:
            ValueError: unknown parameter name, wrong type or out-of-range value.
        """
        names = [f.name for f in dataclasses.fields(self)]
        for key in overrides:
            if key not in names:
                raise ValueError(f"unknown DISCA parameter {key!r}")
        if not isinstance(variant, str) or variant not in _VARIANTS:
            raise ValueError(f"variant must be 'paper' or 'reference', got {variant!r}")
        object.__setattr__(self, "variant", variant)
        for f in dataclasses.fields(self):
            if f.name == "variant":
                continue
            value = overrides.get(f.name, f.default)
            object.__setattr__(self, f.name, _check_field(f.name, value))

    # ---- derived values

    @property
    def prior_enabled(self) -> bool:
        """Whether the §5.2 country prior applies (``use_prior``, else by variant)."""
        if self.use_prior is None:
            return self.variant == "reference"
        return self.use_prior

    def t_cat(self, category: str | None) -> float:
        """Logit temperature T_cat of a MultiTP dimension.

        Args:
            category: dimension name (``Species``, ``Gender``, ``Age``, ``Fitness``,
                ``SocialValue``, ``Utilitarianism``), case-insensitive, snake_case or
                spaced forms accepted (``social_value``). None or unknown names give
                ``t_cat_default`` (3.0).

        Returns:
            T_cat (> 0); 1.0 whenever ``use_tcat`` is False.

        Raises:
            ValueError: ``category`` is neither a string nor None.
        """
        if category is not None and not isinstance(category, str):
            raise ValueError(f"category must be a str or None, got {category!r}")
        if not self.use_tcat:
            return 1.0
        if category is None:
            return self.t_cat_default
        found = find_category(category, dimension_names=False)
        return self.t_cat_default if found is None else getattr(self, TCAT_FIELD[found])

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON-ready values; ``DiscaParams(**d)`` rebuilds an equal object."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> DiscaParams:
        """A copy with some fields changed (validated like the constructor)."""
        return dataclasses.replace(self, **changes)


_BOOL_FIELDS = {
    "use_is",
    "use_gate",
    "use_personas",
    "use_debias",
    "use_tcat",
    "use_ess_blend",
}
_INT_FIELDS = {"k_half": 1, "prior_replays": 0, "n_warmup": 0}  # name -> minimum
# name -> (low, high, low inclusive); high is inclusive
_FLOAT_FIELDS = {
    "sigma_floor": (0.0, math.inf, False),
    "lambda_coop": (0.0, 1.0, True),
    "eta": (0.0, math.inf, False),
    "rho_eff": (0.0, 1.0, True),
    "var_scale": (0.0, math.inf, False),
    "pt_alpha": (0.0, math.inf, False),
    "pt_beta": (0.0, math.inf, False),
    "kappa": (0.0, math.inf, False),
    "t_dec": (0.0, math.inf, False),
    "t_cat_species": (0.0, math.inf, False),
    "t_cat_gender": (0.0, math.inf, False),
    "t_cat_age": (0.0, math.inf, False),
    "t_cat_fitness": (0.0, math.inf, False),
    "t_cat_social_value": (0.0, math.inf, False),
    "t_cat_utilitarianism": (0.0, math.inf, False),
    "t_cat_default": (0.0, math.inf, False),
    "utility_floor": (0.0, math.inf, True),
    "decay_tau": (0.0, math.inf, False),
    "beta_ema": (0.0, 1.0, True),
}


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _check_field(name: str, value: Any) -> Any:
    """Validate one non-variant field and return it as a plain Python value."""
    if name in _BOOL_FIELDS or name == "use_prior":
        if name == "use_prior" and value is None:
            return None
        if not _is_bool(value):
            allowed = "a bool or None" if name == "use_prior" else "a bool"
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
        return bool(value)
    if name in _INT_FIELDS:
        if _is_bool(value) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an int, got {value!r}")
        if value < _INT_FIELDS[name]:
            raise ValueError(f"{name} must be >= {_INT_FIELDS[name]}, got {value}")
        return int(value)
    low, high, low_ok = _FLOAT_FIELDS[name]
    if _is_bool(value) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < low or (value == low and not low_ok):
        raise ValueError(f"{name} must be {'>=' if low_ok else '>'} {low:g}, got {value:g}")
    if value > high:
        raise ValueError(f"{name} must be <= {high:g}, got {value:g}")
    return value


# --------------------------------------------------------------------------- helpers


def _as_float(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array; ValueError naming ``name`` if not numeric or finite."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {type(value).__name__}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def _check_params(params: Any) -> DiscaParams:
    if not isinstance(params, DiscaParams):
        raise ValueError(f"params must be a DiscaParams, got {type(params).__name__}")
    return params


def _scalar_or_array(arr: np.ndarray) -> Any:
    """0-d arrays become NumPy scalars; others are returned unchanged."""
    return arr[()] if arr.ndim == 0 else arr


def sigmoid(x: Any) -> Any:
    """Logistic function, stable for any finite or infinite input.

    Args:
        x (ndarray[...] | float): input (logit units).

    Returns:
        ndarray[...] | float: 1 / (1 + exp(-x)), same shape as ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return _scalar_or_array(out)


def _positive_temp(name: str, value: Any) -> np.ndarray:
    arr = _as_float(name, value)
    if (arr <= 0).any():
        raise ValueError(f"{name} must be > 0")
    return arr


# --------------------------------------------------------------------------- gaps (§3 steps 1-2)


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
    a = _as_float("logit_a", logit_a)
    b = _as_float("logit_b", logit_b)
    t = _positive_temp("t_cat", t_cat)
    return _scalar_or_array((b - a) / t)


def debias(gap_orig: Any, gap_swap: Any) -> Any:
    """Positional debiasing δ = (δ^orig - δ^swap) / 2 (spec Step 2), broadcasting.

    Args:
        gap_orig (ndarray[...]): gaps in the original label ordering.
        gap_swap (ndarray[...]): gaps in the swapped ordering.

    Returns:
        ndarray[...]: debiased gaps; an additive position bias cancels exactly.
    """
    o = _as_float("gap_orig", gap_orig)
    s = _as_float("gap_swap", gap_swap)
    return _scalar_or_array(0.5 * (o - s))


def _t_cat_array(t_cat: Any, n: int, params: DiscaParams) -> np.ndarray:
    """T_cat per scenario, shape (n,), from numbers or category names."""
    if not params.use_tcat:
        return np.ones(n)
    if t_cat is None or isinstance(t_cat, str):
        return np.full(n, params.t_cat(t_cat))
    arr = np.asarray(t_cat)
    if arr.dtype.kind in "OUS":
        arr = np.array([params.t_cat(None if c is None else str(c)) for c in arr.ravel()])
    t = _positive_temp("t_cat", arr)
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
    _check_params(params)
    z = _as_float("logits", logits)
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


# --------------------------------------------------------------------------- correction (§3 steps 3-6)


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
    _check_params(params)
    base = _as_float("delta_base", delta_base)
    personas = _as_float("delta_personas", delta_personas)
    zz = _as_float("z", z)
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


class _Workspace:
    """Reusable sample-major buffers ``(2 K_half, chunk)`` for one `correct` call."""

    def __init__(self, n_m: int, chunk: int) -> None:
        self.chunk = chunk
        self.buf = np.empty((6, n_m, chunk))

    def views(self, c: int) -> tuple[np.ndarray, ...]:
        return tuple(self.buf[:, :, :c]) if c < self.chunk else tuple(self.buf)


def _chunk_utility(
    lo: int,
    hi: int,
    ctx: dict[str, Any],
    params: DiscaParams,
    work: tuple[np.ndarray, ...],
) -> np.ndarray:
    """Cooperative utility of every IS sample of scenarios ``lo:hi`` (Step 4).

    Fills ``eps`` (ε, sample-major) and ``acc_s`` with A, where U / η = scale · A.
    For α = β the factor σ^-α of v(g/σ) = σ^-α v(g) is kept out of A; scale then
    is σ^-α / η, else 1 / η.

    Returns:
        ndarray[c]: ``scale`` per scenario.
    """
    eps, dt, t1, t2, acc_s, acc_p = work
    sig = ctx["sigma"][lo:hi]
    n_p = ctx["persona_rows"].shape[0]
    lam, kappa, floor = params.lambda_coop, params.kappa, params.utility_floor
    a, b = params.pt_alpha, params.pt_beta
    np.multiply(ctx["z2"][lo:hi].T, sig, out=eps)  # ε = σ z
    np.add(eps, ctx["delta_bar"][lo:hi], out=dt)  # δ̃ = δ̄ + ε
    w_p = (1.0 - lam) / n_p
    if a != b:  # general case: v evaluated on g / σ directly
        acc_s[...] = 0.0
        for i in range(n_p):
            np.subtract(dt, ctx["persona_rows"][i, lo:hi], out=t1)
            np.abs(t1, out=t1)
            np.subtract(ctx["gain0"][i, lo:hi], t1, out=t1)
            np.divide(t1, sig, out=t1)
            v = _pt_value(t1, a, b, kappa)
            if floor > 0:
                np.maximum(v, -floor, out=v)
            np.add(acc_s, v, out=acc_s)
        np.multiply(acc_s, w_p, out=acc_s)
        np.abs(eps, out=t1)
        np.subtract(ctx["shift0"][lo:hi], t1, out=t1)
        np.divide(t1, sig, out=t1)
        np.add(acc_s, lam * _pt_value(t1, a, b, kappa), out=acc_s)
        return np.full(hi - lo, 1.0 / params.eta)
    # α = β: with p = |g|^α and s = sign(g) p, v(g) = c_s s - c_p p
    c_s, c_p = (kappa + 1.0) / 2.0, (kappa - 1.0) / 2.0
    thr = -floor * sig**a if floor > 0 else None  # -f in units of v(g)
    for i in range(n_p):
        np.subtract(dt, ctx["persona_rows"][i, lo:hi], out=t1)
        np.abs(t1, out=t1)
        np.subtract(ctx["gain0"][i, lo:hi], t1, out=t1)  # g_i
        np.abs(t1, out=t2)
        np.log(t2, out=t2)
        np.multiply(t2, a, out=t2)
        np.exp(t2, out=t2)  # p (0 where g = 0)
        np.copysign(t2, t1, out=t1)  # s
        if thr is None:
            if i == 0:
                np.copyto(acc_s, t1)
                np.copyto(acc_p, t2)
            else:
                np.add(acc_s, t1, out=acc_s)
                np.add(acc_p, t2, out=acc_p)
        else:  # v = s + (κ - 1) min(s, 0), floored at -f σ^α
            np.minimum(t1, 0.0, out=t2)
            np.multiply(t2, kappa - 1.0, out=t2)
            np.add(t1, t2, out=t1)
            np.maximum(t1, thr, out=t1)
            if i == 0:
                np.copyto(acc_s, t1)
            else:
                np.add(acc_s, t1, out=acc_s)
    if thr is None:  # A = (1 - λ)/N Σ_i v_i
        np.multiply(acc_s, w_p * c_s, out=acc_s)
        np.multiply(acc_p, w_p * c_p, out=acc_p)
        np.subtract(acc_s, acc_p, out=acc_s)
    else:
        np.multiply(acc_s, w_p, out=acc_s)
    # consensus gain g_c = |Δ| - |ε| (unfloored), weight λ
    np.abs(eps, out=t1)
    np.subtract(ctx["shift0"][lo:hi], t1, out=t1)
    np.abs(t1, out=t2)
    np.log(t2, out=t2)
    np.multiply(t2, a, out=t2)
    np.exp(t2, out=t2)
    np.copysign(t2, t1, out=t1)
    np.multiply(t1, lam * c_s, out=t1)
    np.add(acc_s, t1, out=acc_s)
    np.multiply(t2, lam * c_p, out=t2)
    np.subtract(acc_s, t2, out=acc_s)
    return sig ** (-a) / params.eta


def _is_context(
    base: np.ndarray,
    personas: np.ndarray,
    delta_bar: np.ndarray,
    sigma: np.ndarray,
    z: np.ndarray,
) -> dict[str, Any]:
    persona_rows = np.ascontiguousarray(personas.T)  # (N, S)
    return {
        "sigma": sigma,
        "delta_bar": delta_bar,
        "persona_rows": persona_rows,
        "gain0": np.abs(base - persona_rows),  # |δ_base - δ_i|, (N, S)
        "shift0": np.abs(base - delta_bar),  # |Δ|, (S,)
        "z2": z.reshape(z.shape[0], 2 * z.shape[2]),  # (S, 2 K_half)
    }


def _is_passes(ctx: dict[str, Any], k_half: int, params: DiscaParams) -> tuple[np.ndarray, ...]:
    """Two PT-IS passes per scenario (Step 4), in cache-sized chunks.

    Work arrays are sample-major, ``(2 K_half, chunk)``: per-scenario values broadcast
    as rows and the per-pass reductions run across rows, which NumPy does fast.

    Returns:
        tuple[ndarray[S, 2], ndarray[S, 2]]: ESS ratios e_m and guarded offsets δ*_m.
    """
    n_s = ctx["sigma"].shape[0]
    ess = np.empty((2, n_s))
    dstar = np.empty((2, n_s))
    ws = _Workspace(2 * k_half, max(1, min(_CHUNK, n_s)))
    for lo in range(0, n_s, ws.chunk):
        hi = min(lo + ws.chunk, n_s)
        c = hi - lo
        work = ws.views(c)
        scale = _chunk_utility(lo, hi, ctx, params, work)
        u = work[4].reshape(2, k_half, c)
        # softmax per pass with the max subtracted; unnormalised weights ω
        np.subtract(u, u.max(axis=1, keepdims=True), out=u)
        np.multiply(u, scale, out=u)
        np.exp(u, out=u)
        tot = _sum_samples(u)
        prod = work[2].reshape(2, k_half, c)
        tot2 = _sum_samples(np.multiply(u, u, out=prod))
        tot_eps = _sum_samples(np.multiply(u, work[0].reshape(2, k_half, c), out=prod))
        ratio = tot * tot / tot2 / k_half  # (1 / Σ w²) / K_half
        ess[:, lo:hi] = ratio
        dstar[:, lo:hi] = np.where(ratio >= params.rho_eff, tot_eps / tot, 0.0)
    return np.ascontiguousarray(ess.T), np.ascontiguousarray(dstar.T)


def _sum_samples(x: np.ndarray) -> np.ndarray:
    """Σ_k x[m, k, c] in a fixed order (k = 0, 1, ...), the same for any chunk width c.

    NumPy's own reductions pick their summation order by memory layout (pairwise when
    the summed axis is contiguous, as it is for c = 1), so a scenario's ESS and δ*
    would change in the last bits with the number of scenarios evaluated together.
    This keeps them identical in a chunk of 1 or 256 (resume, ``--jobs``, rescoring).

    Args:
        x (ndarray[2, K_half, c]): per-pass samples.

    Returns:
        ndarray[2, c]: the sums.
    """
    acc = x[:, 0].copy()
    for k in range(1, x.shape[1]):
        np.add(acc, x[:, k], out=acc)
    return acc


def _pt_value(u: np.ndarray, a: float, b: float, kappa: float) -> np.ndarray:
    """Prospect-theory value v(u) = u^a (u >= 0), -κ (-u)^b (u < 0), no negative powers."""
    mag = np.abs(u)
    return np.where(u >= 0, mag**a, -kappa * mag**b)


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
    n_s, _, k_half = zz.shape
    out = np.empty((n_s, 2, k_half))
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        personas, delta_bar, _, sigma = _panel(base, personas, params)
        ctx = _is_context(base, personas, delta_bar, sigma, zz)
        ws = _Workspace(2 * k_half, max(1, min(_CHUNK, n_s)))
        for lo in range(0, n_s, ws.chunk):
            hi = min(lo + ws.chunk, n_s)
            work = ws.views(hi - lo)
            scale = _chunk_utility(lo, hi, ctx, params, work)
            out[lo:hi] = (work[4] * (scale * params.eta)).T.reshape(hi - lo, 2, k_half)
    return out


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
            ctx = _is_context(base, personas, delta_bar, sigma, zz)
            ess, passes = _is_passes(ctx, zz.shape[2], params)
        else:
            ess, passes = np.ones((n_s, 2)), np.zeros((n_s, 2))
        if params.use_gate:
            diff = passes[:, 0] - passes[:, 1]
            reliability = np.exp(-(diff * diff) / params.var_scale)
        else:
            reliability = np.ones(n_s)
        delta_star = reliability * (passes[:, 0] + passes[:, 1]) / 2.0
        if not params.use_ess_blend:
            alpha = np.ones(n_s)
        elif params.variant == "paper":
            e_mean = (ess[:, 0] + ess[:, 1]) / 2.0
            alpha = np.minimum(1.0, e_mean / params.rho_eff) if params.rho_eff > 0 else np.ones(n_s)
        else:
            alpha = np.minimum(1.0, np.maximum(params.rho_eff, ess.min(axis=1)))
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


# --------------------------------------------------------------------------- read-outs (§3 step 7, §7)


def vanilla_raw_p_b(logit_a: Any, logit_b: Any, t_dec: float = 0.5) -> Any:
    """The paper's vanilla baseline p_B = sigmoid((z_B - z_A) / T_dec) (spec §7).

    Args:
        logit_a (ndarray[...]): raw logits of A (base prompt, original ordering).
        logit_b (ndarray[...]): raw logits of B.
        t_dec: decision temperature (> 0). No T_cat, no debiasing.

    Returns:
        ndarray[...] | float: probability of B.
    """
    t = float(_positive_temp("t_dec", t_dec))
    a = _as_float("logit_a", logit_a)
    b = _as_float("logit_b", logit_b)
    return sigmoid((b - a) / t)


def vanilla_lfl_p_b(delta_base: Any, t_dec: float = 0.5) -> Any:
    """Like-for-like vanilla p_B = sigmoid(δ_base / T_dec) (spec §7).

    Args:
        delta_base (ndarray[...]): debiased, T_cat-scaled base gaps.
        t_dec: decision temperature (> 0).

    Returns:
        ndarray[...] | float: probability of B.
    """
    t = float(_positive_temp("t_dec", t_dec))
    return sigmoid(_as_float("delta_base", delta_base) / t)


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
    p = _as_float("p_b", p_b)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p_b must lie in [0, 1]")
    right = np.asarray(preferred_right)
    if right.dtype != np.bool_:
        if right.dtype.kind not in "iuf" or not np.isin(right, (0, 1)).all():
            raise ValueError("preferred_right must be boolean (True/False or 0/1)")
        right = right.astype(bool)
    return _scalar_or_array(np.where(right, p, 1.0 - p))


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
    params = DiscaParams("reference") if params is None else _check_params(params)
    tt = _as_float("t", t)
    if (tt < 0).any():
        raise ValueError("t must be >= 0")
    alpha = np.where(
        tt < params.n_warmup,
        0.0,
        -np.expm1(-(np.maximum(tt, params.n_warmup) - params.n_warmup) / params.decay_tau),
    )
    return _scalar_or_array(alpha)


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
    _check_params(params)
    x = _as_float("delta_final", delta_final)
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


# --------------------------------------------------------------------------- noise (§4)


def draws(seed: int, indices: Iterable[int] | int, k_half: int = 64) -> np.ndarray:
    """Deterministic, random-access IS draws (spec §4).

    Row i is ``np.random.default_rng([seed, indices[i]]).standard_normal((2, k_half))``,
    so draws are common across countries, variants and ablations, and resumable.

    Args:
        seed: IS seed (>= 0), e.g. 42.
        indices (Iterable[int]): canonical 0-based vignette indices (>= 0); a single
            int gives one row.
        k_half: samples per pass (>= 1).

    Returns:
        ndarray[len(indices), 2, k_half]: standard-normal draws.

    Raises:
        ValueError: negative or non-integer seed, index or k_half.
    """
    if _is_bool(seed) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if _is_bool(k_half) or not isinstance(k_half, (int, np.integer)) or k_half < 1:
        raise ValueError(f"k_half must be an int >= 1, got {k_half!r}")
    if isinstance(indices, (int, np.integer)) and not _is_bool(indices):
        indices = [int(indices)]
    idx = np.asarray(list(indices))  # type: ignore[arg-type]  # an int became a list above
    if idx.size and (idx.dtype.kind not in "iu" or idx.ndim != 1 or (idx < 0).any()):
        raise ValueError("indices must be non-negative integers")
    out = np.empty((idx.size, 2, int(k_half)))
    for row, i in enumerate(idx.tolist()):
        out[row] = np.random.default_rng([int(seed), i]).standard_normal((2, int(k_half)))
    return out
