"""Evaluation methods: every vanilla read-out, DISCA variant and ablation from one set of logits.

Pure NumPy (no I/O). One evaluation run stores the 10 raw (z_A, z_B) pairs of each
scenario (DISCA.md §2.5); every method of the spec is a post-processing of them:

=================  =====================================================================
name               what it is
=================  =====================================================================
vanilla_raw        the paper's baseline (§7): base prompt, original order, no T_cat
vanilla_lfl        like-for-like vanilla (§7): δ_base with T_cat and debiasing
disca_paper        DISCA, ``paper`` variant (§5): α_ess from the mean ESS, no prior
disca_reference    DISCA, ``reference`` variant: α_ess from the smaller ESS, country prior
no_personas        ablation (§6): δ_i := δ_base ("Without persona")
no_is              ablation: δ* ≡ 0, ESS = 1 ("No-IS", the consensus δ̄)
always_on          ablation: r ≡ 1 ("Always-on PT-IS")
no_debias          ablation: original ordering only ("No debiasing")
no_prior           ablation, only when the ablation base has a prior: prior off
=================  =====================================================================

The ablations switch one thing off in the *ablation base*, the DISCA variant chosen for
the run (``--variant``, default ``paper``). With ``reference`` as base the ablations keep
the country prior on, as in the released ablation table (DISCA.md §9.3), and
``no_prior`` is added.

Two stages, so that stored results stay correct under resume and sharding:

* `compute_methods` is per scenario and order-independent: for every method it gives
  δ_micro (the gap before any country prior) and, for DISCA methods, the diagnostics.
* `finalize` is per country, over the scenarios in pool order: it applies the
  `reference` variant's sequential country prior (`core.country_prior`, with its
  replays) where a method has the prior on, and returns δ_out and p_spare.

A method whose prior is off is final after the first stage (``sequential`` False).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import core

__all__ = [
    "METHOD_ORDER",
    "VANILLA",
    "ABLATIONS",
    "Method",
    "method_suite",
    "PanelReadout",
    "compute_methods",
    "panel_gaps",
    "read_panel",
    "diagnostics_of",
    "record_fields",
    "finalize",
    "primary_method",
    "suite_from_config",
]

#: Every method name, in reporting order.
METHOD_ORDER: tuple[str, ...] = (
    "vanilla_raw",
    "vanilla_lfl",
    "disca_paper",
    "disca_reference",
    "no_personas",
    "no_is",
    "always_on",
    "no_debias",
    "no_prior",
)

#: The two vanilla read-outs.
VANILLA: tuple[str, ...] = ("vanilla_raw", "vanilla_lfl")

#: Ablation name -> the switch it turns off in the ablation base.
ABLATIONS: dict[str, dict[str, bool]] = {
    "no_personas": {"use_personas": False},
    "no_is": {"use_is": False},
    "always_on": {"use_gate": False},
    "no_debias": {"use_debias": False},
    "no_prior": {"use_prior": False},
}

_LABELS = {
    "vanilla_raw": "Vanilla (raw read-out)",
    "vanilla_lfl": "Vanilla (like-for-like: T_cat + debias)",
    "disca_paper": "DISCA (paper)",
    "disca_reference": "DISCA (reference)",
    "no_personas": "Without persona",
    "no_is": "No-IS (consensus)",
    "always_on": "Always-on PT-IS (r = 1)",
    "no_debias": "No debiasing",
    "no_prior": "No country prior",
}

# Diagnostics kept per scenario for the two full DISCA variants (name -> Correction field).
_DIAGNOSTICS = (
    "delta_base",
    "delta_personas",
    "bias",
    "delta_bar",
    "disagreement",
    "sigma",
    "ess_ratio",
    "delta_star_passes",
    "reliability",
    "delta_star",
    "alpha_ess",
    "delta_micro",
)


@dataclass(frozen=True)
class Method:
    """One way of turning a scenario's logits into p_spare.

    Attributes:
        name: key in `METHOD_ORDER`.
        label: human-readable name for reports.
        kind: ``"vanilla_raw"``, ``"vanilla_lfl"`` or ``"disca"``.
        params (core.DiscaParams): temperatures and switches (vanilla read-outs use
            ``t_dec``; ``vanilla_lfl`` also T_cat and debiasing).
        ablation_of: the full method an ablation modifies, else None.
    """

    name: str
    label: str
    kind: str
    params: core.DiscaParams
    ablation_of: str | None = None

    @property
    def sequential(self) -> bool:
        """True when the final p_spare depends on the scenario order (country prior on)."""
        return self.kind == "disca" and self.params.prior_enabled

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: label, kind, ablation base, prior, parameters."""
        return {
            "label": self.label,
            "kind": self.kind,
            "ablation_of": self.ablation_of,
            "sequential": self.sequential,
            "params": self.params.to_dict(),
        }


def primary_method(variant: str) -> str:
    """Name of the full DISCA method of a variant (``disca_paper`` / ``disca_reference``)."""
    if variant not in ("paper", "reference"):
        raise ValueError(f"variant must be 'paper' or 'reference', got {variant!r}")
    return f"disca_{variant}"


def method_suite(
    variant: str = "paper", overrides: Mapping[str, Any] | None = None
) -> dict[str, Method]:
    """Every method of one run, in `METHOD_ORDER`.

    Args:
        variant: the ablation base, ``"paper"`` or ``"reference"``. Both full variants
            are always included.
        overrides: DISCA parameter overrides (`core.DiscaParams` field names) applied to
            both variants, their ablations and the vanilla read-outs' ``t_dec``/T_cat.

    Returns:
        dict name -> Method. ``no_prior`` is present only when the base has the prior on.

    Raises:
        ValueError: unknown variant or bad override (from `core.DiscaParams`).
    """
    base_name = primary_method(variant)
    extra = dict(overrides or {})
    full = {v: core.DiscaParams(v, **extra) for v in ("paper", "reference")}
    suite = {
        "vanilla_raw": Method("vanilla_raw", _LABELS["vanilla_raw"], "vanilla_raw", full["paper"]),
        "vanilla_lfl": Method("vanilla_lfl", _LABELS["vanilla_lfl"], "vanilla_lfl", full["paper"]),
        "disca_paper": Method("disca_paper", _LABELS["disca_paper"], "disca", full["paper"]),
        "disca_reference": Method(
            "disca_reference", _LABELS["disca_reference"], "disca", full["reference"]
        ),
    }
    base = full[variant]
    for name, switch in ABLATIONS.items():
        if name == "no_prior" and not base.prior_enabled:
            continue
        suite[name] = Method(name, _LABELS[name], "disca", base.replace(**switch), base_name)
    return suite


# --------------------------------------------------------------------------- stage 1


def _check(
    logits: Any, has_swap: Any, categories: Sequence[str | None], preferred_right: Any, z: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arr = np.asarray(logits, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[1] != 2 or arr.shape[2] < 3 or arr.shape[3] != 2:
        raise ValueError(f"logits must have shape (S, 2, J >= 3, 2), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("logits must be finite")
    n_s = arr.shape[0]
    swap = np.asarray(has_swap)
    if swap.dtype != np.bool_ or swap.shape != (n_s,):
        raise ValueError(f"has_swap must be a bool array of shape ({n_s},), got {swap.shape}")
    if len(categories) != n_s:
        raise ValueError(f"categories must have {n_s} entries, got {len(categories)}")
    right = np.asarray(preferred_right)
    if right.dtype != np.bool_ or right.shape != (n_s,):
        raise ValueError(f"preferred_right must be a bool array of shape ({n_s},)")
    zz = np.asarray(z, dtype=np.float64)
    if zz.ndim != 3 or zz.shape[0] != n_s or zz.shape[1] != 2:
        raise ValueError(f"z must have shape ({n_s}, 2, K_half), got {zz.shape}")
    return arr, swap, right, zz


@dataclass(frozen=True)
class PanelReadout:
    """What one batch of panel logits says before any country prior (DISCA.md §3-§7).

    The one post-processing path: `compute_methods` (``disca eval``) and
    `ask.build_results` (``disca ask``) both read their numbers from here.

    Attributes:
        t_cat (ndarray[S]): logit temperature per dilemma (T_cat of its category).
        delta_base (ndarray[S]): debiased, T_cat-scaled base gap δ_base.
        delta_personas (ndarray[S, N]): the same for each persona.
        bias (ndarray[S, J]): position bias b_j = ½(δ_j^orig + δ_j^swap) per agent,
            NaN without a swap.
        correction: `core.correct` of the gaps (δ_micro, diagnostics).
        p_b_vanilla_raw (ndarray[S]): the paper's vanilla p_B (base prompt, original order,
            raw gap, no T_cat).
        p_b_vanilla_lfl (ndarray[S]): like-for-like vanilla p_B = sigmoid(δ_base / T_dec).
    """

    t_cat: np.ndarray
    delta_base: np.ndarray
    delta_personas: np.ndarray
    bias: np.ndarray
    correction: core.Correction
    p_b_vanilla_raw: np.ndarray
    p_b_vanilla_lfl: np.ndarray


def panel_gaps(
    logits: np.ndarray,
    has_swap: np.ndarray,
    categories: Sequence[str | None],
    params: core.DiscaParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaps of a batch: δ_base [S], δ_personas [S, N] and the position bias [S, J].

    Args:
        logits (ndarray[S, 2, J, 2]): raw logits (order, agent, token A/B).
        has_swap (ndarray[S] of bool): whether the swapped order was evaluated.
        categories (Sequence[str | None] of length S): category per dilemma (T_cat).
        params: DISCA parameters (T_cat, debiasing).

    Returns:
        (delta_base, delta_personas, bias).
    """
    base, personas = core.scenario_gaps(logits, list(categories), params, has_swap=has_swap)
    return np.asarray(base), np.asarray(personas), _bias(logits, has_swap, categories, params)


def read_panel(
    logits: Any,
    has_swap: Any,
    categories: Sequence[str | None],
    z: Any,
    params: core.DiscaParams,
) -> PanelReadout:
    """Gaps, position bias, DISCA correction and both vanilla read-outs of a batch.

    Args:
        logits (ndarray[S, 2, J, 2]): raw logits, as `pipeline.PanelLogits.logits`.
        has_swap (ndarray[S] of bool): whether the swapped order was evaluated.
        categories (Sequence[str | None] of length S): category per dilemma (T_cat).
        z (ndarray[S, 2, K_half]): IS draws (`core.draws`).
        params: DISCA parameters.

    Returns:
        The readout (no country prior).

    Raises:
        ValueError: a wrong shape or non-finite logits.
    """
    arr, swap, _, zz = _check(logits, has_swap, categories, np.ones(len(categories), bool), z)
    base, personas, bias = panel_gaps(arr, swap, categories, params)
    return PanelReadout(
        t_cat=np.array([params.t_cat(c) for c in categories], dtype=np.float64),
        delta_base=base,
        delta_personas=personas,
        bias=bias,
        correction=core.correct(base, personas, zz, params),
        p_b_vanilla_raw=np.atleast_1d(
            core.vanilla_raw_p_b(arr[:, 0, 0, 0], arr[:, 0, 0, 1], params.t_dec)
        ),
        p_b_vanilla_lfl=np.atleast_1d(core.vanilla_lfl_p_b(base, params.t_dec)),
    )


def compute_methods(
    logits: Any,
    has_swap: Any,
    categories: Sequence[str | None],
    preferred_right: Any,
    z: Any,
    suite: Mapping[str, Method],
) -> dict[str, dict[str, np.ndarray]]:
    """Per-scenario, order-independent outputs of every method (no country prior yet).

    Args:
        logits (ndarray[S, 2, J, 2]): raw logits [order (orig, swap), agent (base,
            personas), token (A, B)], as `pipeline.PanelLogits.logits`.
        has_swap (ndarray[S] of bool): whether the swapped order was evaluated.
        categories (Sequence[str] of length S): MultiTP category per scenario (T_cat).
        preferred_right (ndarray[S] of bool): preferred group on the right (B in orig).
        z (ndarray[S, 2, K_half]): IS draws (`core.draws`), shared by all methods.
        suite: the methods to compute (`method_suite`).

    Returns:
        dict name -> dict of arrays, all with leading axis S:

        * every method: ``delta_micro`` (gap before the prior; for ``vanilla_raw`` the raw
          gap z_B - z_A, for ``vanilla_lfl`` δ_base) and ``p_spare_micro`` =
          p_spare(sigmoid(δ_micro / T_dec)), the final p_spare unless the method is
          `Method.sequential`;
        * DISCA methods: also ``delta_bar`` (for the flip rate) and, for the two full
          variants, the diagnostics ``delta_base``, ``delta_personas`` [S, N], ``bias``
          [S, J] (b_j = ½(δ^orig + δ^swap), NaN without a swap), ``disagreement``,
          ``sigma``, ``ess_ratio`` [S, 2], ``delta_star_passes`` [S, 2], ``reliability``,
          ``delta_star``, ``alpha_ess``.

    Raises:
        ValueError: a wrong shape or non-finite logits.
    """
    arr, swap, right, zz = _check(logits, has_swap, categories, preferred_right, z)
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, method in suite.items():
        prm = method.params
        if method.kind == "vanilla_raw":
            delta = arr[:, 0, 0, 1] - arr[:, 0, 0, 0]
            fields: dict[str, np.ndarray] = {"delta_micro": delta}
        elif method.kind == "vanilla_lfl":
            base, _, _ = panel_gaps(arr, swap, categories, prm)
            fields = {"delta_micro": base}
        elif method.kind == "disca":
            readout = read_panel(arr, swap, categories, zz, prm)
            fields = _disca_fields(readout, full=method.ablation_of is None)
        else:
            raise ValueError(f"unknown method kind {method.kind!r}")
        p_b = np.asarray(core.sigmoid(fields["delta_micro"] / prm.t_dec), dtype=np.float64)
        fields["p_spare_micro"] = np.asarray(core.p_spare(p_b, right), dtype=np.float64)
        out[name] = fields
    return out


def _disca_fields(readout: PanelReadout, *, full: bool) -> dict[str, np.ndarray]:
    """A DISCA method's outputs: δ_micro and δ̄; with ``full`` the diagnostics too."""
    corr = readout.correction
    fields = {"delta_micro": np.array(corr.delta_micro), "delta_bar": np.array(corr.delta_bar)}
    if full:
        fields.update(
            delta_base=np.array(corr.delta_base),
            delta_personas=readout.delta_personas,
            bias=readout.bias,
            disagreement=np.array(corr.disagreement),
            sigma=np.array(corr.sigma),
            ess_ratio=np.array(corr.ess_ratio),
            delta_star_passes=np.array(corr.delta_star_passes),
            reliability=np.array(corr.reliability),
            delta_star=np.array(corr.delta_star),
            alpha_ess=np.array(corr.alpha_ess),
        )
    return fields


def _bias(
    arr: np.ndarray, swap: np.ndarray, categories: Sequence[str | None], prm: core.DiscaParams
) -> np.ndarray:
    """Position bias b_j = ½(δ_j^orig + δ_j^swap) per agent (NaN where there is no swap)."""
    t = np.array([prm.t_cat(c) for c in categories], dtype=np.float64)
    raw = (arr[..., 1] - arr[..., 0]) / t[:, None, None]  # (S, 2, J)
    bias = 0.5 * (raw[:, 0] + raw[:, 1])
    bias[~swap] = np.nan
    return bias


def diagnostics_of(fields: Mapping[str, np.ndarray], row: int) -> dict[str, Any]:
    """One scenario's diagnostics of a full DISCA variant as JSON-ready values."""
    out: dict[str, Any] = {}
    for key in _DIAGNOSTICS:
        if key in fields:
            value = np.asarray(fields[key][row])
            out[key] = _plain(value)
    return out


def record_fields(
    outputs: Mapping[str, Mapping[str, np.ndarray]], suite: Mapping[str, Method], row: int
) -> dict[str, Any]:
    """One scenario's method outputs as the JSON-ready fields of its run record.

    Args:
        outputs: `compute_methods` output for a batch of scenarios.
        suite: the methods it was computed for.
        row: the scenario's row in the batch.

    Returns:
        ``p_spare`` (non-sequential methods), ``delta_micro`` (every method),
        ``delta_bar`` (DISCA methods) and ``diagnostics`` (the full DISCA variants),
        each keyed by method name; non-finite values become None.
    """
    return {
        "p_spare": {
            name: _plain(np.asarray(outputs[name]["p_spare_micro"][row]))
            for name, m in suite.items()
            if not m.sequential
        },
        "delta_micro": {
            name: _plain(np.asarray(outputs[name]["delta_micro"][row])) for name in suite
        },
        "delta_bar": {
            name: _plain(np.asarray(outputs[name]["delta_bar"][row]))
            for name in suite
            if "delta_bar" in outputs[name]
        },
        "diagnostics": {
            name: diagnostics_of(outputs[name], row)
            for name, m in suite.items()
            if m.kind == "disca" and m.ablation_of is None
        },
    }


def _plain(value: np.ndarray) -> Any:
    """JSON-ready floats (nested lists), non-finite values as None."""
    if value.ndim == 0:
        x = float(value)
        return None if not np.isfinite(x) else x
    if np.isfinite(value).all():  # the common case, without a Python call per value
        return np.asarray(value, dtype=np.float64).tolist()
    return [_plain(v) for v in value]


# --------------------------------------------------------------------------- stage 2


def finalize(
    delta_micro: Any, preferred_right: Any, method: Method
) -> tuple[np.ndarray, np.ndarray]:
    """Final gaps and p_spare of one method for one country's scenarios, in pool order.

    Args:
        delta_micro (ndarray[S]): per-scenario δ_micro from `compute_methods`, sorted by
            pool position (the prior is sequential in that order, with its replays on the
            first scenarios).
        preferred_right (ndarray[S] of bool): preferred group on the right.
        method: the method (its params decide the prior and T_dec).

    Returns:
        tuple[ndarray[S], ndarray[S]]: δ_out and p_spare.
    """
    delta = np.asarray(delta_micro, dtype=np.float64)
    if delta.ndim != 1:
        raise ValueError(f"delta_micro must have shape (S,), got {delta.shape}")
    right = np.asarray(preferred_right, dtype=bool)
    if method.sequential and delta.size:
        delta_out = core.country_prior(delta, method.params)
    else:
        delta_out = delta.copy()
    p_b = np.asarray(core.sigmoid(delta_out / method.params.t_dec), dtype=np.float64)
    return delta_out, np.asarray(core.p_spare(p_b, right), dtype=np.float64)


def suite_from_config(config: Mapping[str, Any]) -> dict[str, Method]:
    """The methods exactly as recorded in a run's config (parameters included)."""
    suite = {}
    for name, desc in config["methods"].items():
        suite[name] = Method(
            name=name,
            label=desc["label"],
            kind=desc["kind"],
            params=core.DiscaParams(**desc["params"]),
            ablation_of=desc.get("ablation_of"),
        )
    return suite
