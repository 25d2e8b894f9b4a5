"""Prospect-theory importance sampling (spec §4, §3 step 4): the noise and the two passes.

`draws` gives the deterministic standard-normal draws; `is_passes` turns them, with the
panel statistics (`is_context`), into each pass's ESS ratio and guarded offset δ*_m.
Work arrays are sample-major and reused across chunks of `_CHUNK` scenarios; every
reduction has a fixed order, so a scenario gets the same bits in any batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._arrays import is_bool
from ._params import DiscaParams

__all__ = ["draws", "is_context", "is_passes", "sample_utilities"]

_CHUNK = 256  # scenarios per IS chunk: six (2 K_half, 256) float64 buffers, 256 KiB each


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
    if is_bool(seed) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if is_bool(k_half) or not isinstance(k_half, (int, np.integer)) or k_half < 1:
        raise ValueError(f"k_half must be an int >= 1, got {k_half!r}")
    if isinstance(indices, (int, np.integer)) and not is_bool(indices):
        indices = [int(indices)]
    idx = np.asarray(list(indices))  # type: ignore[arg-type]  # an int became a list above
    if idx.size and (idx.dtype.kind not in "iu" or idx.ndim != 1 or (idx < 0).any()):
        raise ValueError("indices must be non-negative integers")
    out = np.empty((idx.size, 2, int(k_half)))
    for row, i in enumerate(idx.tolist()):
        out[row] = np.random.default_rng([int(seed), i]).standard_normal((2, int(k_half)))
    return out


def is_context(
    base: np.ndarray,
    personas: np.ndarray,
    delta_bar: np.ndarray,
    sigma: np.ndarray,
    z: np.ndarray,
) -> dict[str, Any]:
    """The per-scenario arrays the IS kernel reads, keyed by name (S scenarios, N personas).

    Returns:
        dict: ``sigma`` (S,), ``delta_bar`` (S,), ``persona_rows`` δ_i (N, S), ``gain0``
        |δ_base - δ_i| (N, S), ``shift0`` |Δ| (S,), ``z2`` the draws (S, 2 K_half).
    """
    persona_rows = np.ascontiguousarray(personas.T)  # (N, S)
    return {
        "sigma": sigma,
        "delta_bar": delta_bar,
        "persona_rows": persona_rows,
        "gain0": np.abs(base - persona_rows),  # |δ_base - δ_i|, (N, S)
        "shift0": np.abs(base - delta_bar),  # |Δ|, (S,)
        "z2": z.reshape(z.shape[0], 2 * z.shape[2]),  # (S, 2 K_half)
    }


def is_passes(ctx: dict[str, Any], k_half: int, params: DiscaParams) -> tuple[np.ndarray, ...]:
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


def sample_utilities(ctx: dict[str, Any], k_half: int, params: DiscaParams) -> np.ndarray:
    """U of every IS sample (Step 4) by the kernel of `is_passes`, before division by η.

    Returns:
        ndarray[S, 2, K_half]: U_{m,k} per scenario.
    """
    n_s = ctx["sigma"].shape[0]
    out = np.empty((n_s, 2, k_half))
    ws = _Workspace(2 * k_half, max(1, min(_CHUNK, n_s)))
    for lo in range(0, n_s, ws.chunk):
        hi = min(lo + ws.chunk, n_s)
        work = ws.views(hi - lo)
        scale = _chunk_utility(lo, hi, ctx, params, work)
        out[lo:hi] = (work[4] * (scale * params.eta)).T.reshape(hi - lo, 2, k_half)
    return out


class _Workspace:
    """Reusable sample-major buffers ``(2 K_half, chunk)`` for one `correct` call."""

    def __init__(self, n_m: int, chunk: int) -> None:
        self.chunk = chunk
        self.buf = np.empty((6, n_m, chunk))

    def views(self, c: int) -> tuple[np.ndarray, ...]:
        """The six buffers, narrowed to the first ``c`` scenarios."""
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
    eps, dt = work[0], work[1]
    sig = ctx["sigma"][lo:hi]
    np.multiply(ctx["z2"][lo:hi].T, sig, out=eps)  # ε = σ z
    np.add(eps, ctx["delta_bar"][lo:hi], out=dt)  # δ̃ = δ̄ + ε
    if params.pt_alpha != params.pt_beta:  # general case: v evaluated on g / σ directly
        _utility_general(lo, hi, ctx, params, work)
        return np.full(hi - lo, 1.0 / params.eta)
    _utility_equal_powers(lo, hi, ctx, params, work)
    return sig ** (-params.pt_alpha) / params.eta


def _utility_general(
    lo: int, hi: int, ctx: dict[str, Any], params: DiscaParams, work: tuple[np.ndarray, ...]
) -> None:
    """A (into ``acc_s``) for α ≠ β: each v(g/σ) by `_pt_value`, floored at -f if f > 0."""
    eps, dt, t1, _, acc_s, _ = work
    sig = ctx["sigma"][lo:hi]
    n_p = ctx["persona_rows"].shape[0]
    lam, kappa, floor = params.lambda_coop, params.kappa, params.utility_floor
    a, b = params.pt_alpha, params.pt_beta
    w_p = (1.0 - lam) / n_p
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


def _utility_equal_powers(
    lo: int, hi: int, ctx: dict[str, Any], params: DiscaParams, work: tuple[np.ndarray, ...]
) -> None:
    """A (into ``acc_s``) for α = β, without the factor σ^-α.

    With p = |g|^α and s = sign(g) p, v(g) = c_s s - c_p p: unfloored, the persona sum
    is kept as Σ s and Σ p; with a floor f, each v_i = s + (κ - 1) min(s, 0) is floored
    at -f σ^α (f in units of v(g)) before it is summed.
    """
    eps, dt, t1, t2, acc_s, acc_p = work
    sig = ctx["sigma"][lo:hi]
    n_p = ctx["persona_rows"].shape[0]
    lam, kappa, floor = params.lambda_coop, params.kappa, params.utility_floor
    a = params.pt_alpha
    w_p = (1.0 - lam) / n_p
    c_s, c_p = (kappa + 1.0) / 2.0, (kappa - 1.0) / 2.0
    thr = -floor * sig**a if floor > 0 else None  # -f in units of v(g)
    for i in range(n_p):
        np.subtract(dt, ctx["persona_rows"][i, lo:hi], out=t1)
        np.abs(t1, out=t1)
        np.subtract(ctx["gain0"][i, lo:hi], t1, out=t1)  # g_i
        _signed_power(t1, t2, a)  # t1 = s, t2 = p (0 where g = 0)
        if thr is not None:  # v = s + (κ - 1) min(s, 0), floored at -f σ^α
            np.minimum(t1, 0.0, out=t2)
            np.multiply(t2, kappa - 1.0, out=t2)
            np.add(t1, t2, out=t1)
            np.maximum(t1, thr, out=t1)
        _add_into(acc_s, t1, first=i == 0)
        if thr is None:
            _add_into(acc_p, t2, first=i == 0)
    if thr is None:  # A = (1 - λ)/N Σ_i v_i
        np.multiply(acc_s, w_p * c_s, out=acc_s)
        np.multiply(acc_p, w_p * c_p, out=acc_p)
        np.subtract(acc_s, acc_p, out=acc_s)
    else:
        np.multiply(acc_s, w_p, out=acc_s)
    # consensus gain g_c = |Δ| - |ε| (unfloored), weight λ
    np.abs(eps, out=t1)
    np.subtract(ctx["shift0"][lo:hi], t1, out=t1)
    _signed_power(t1, t2, a)
    np.multiply(t1, lam * c_s, out=t1)
    np.add(acc_s, t1, out=acc_s)
    np.multiply(t2, lam * c_p, out=t2)
    np.subtract(acc_s, t2, out=acc_s)


def _signed_power(g: np.ndarray, p: np.ndarray, a: float) -> None:
    """In place: ``p`` = |g|^a (0 where g = 0) and ``g`` = sign(g) |g|^a."""
    np.abs(g, out=p)
    np.log(p, out=p)
    np.multiply(p, a, out=p)
    np.exp(p, out=p)
    np.copysign(p, g, out=g)


def _add_into(acc: np.ndarray, x: np.ndarray, *, first: bool) -> None:
    """``acc`` = x for the first term, else ``acc`` += x."""
    if first:
        np.copyto(acc, x)
    else:
        np.add(acc, x, out=acc)


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
