"""`DiscaParams`: every DISCA hyperparameter and switch, validated and immutable."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..categories import TCAT_FIELD, find_category
from ._arrays import is_bool

__all__ = ["DiscaParams", "check_params"]

_VARIANTS = ("paper", "reference")


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


def _check_field(name: str, value: Any) -> Any:
    """Validate one non-variant field and return it as a plain Python value."""
    if name in _BOOL_FIELDS or name == "use_prior":
        if name == "use_prior" and value is None:
            return None
        if not is_bool(value):
            allowed = "a bool or None" if name == "use_prior" else "a bool"
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
        return bool(value)
    if name in _INT_FIELDS:
        if is_bool(value) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an int, got {value!r}")
        if value < _INT_FIELDS[name]:
            raise ValueError(f"{name} must be >= {_INT_FIELDS[name]}, got {value}")
        return int(value)
    low, high, low_ok = _FLOAT_FIELDS[name]
    if is_bool(value) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < low or (value == low and not low_ok):
        raise ValueError(f"{name} must be {'>=' if low_ok else '>'} {low:g}, got {value:g}")
    if value > high:
        raise ValueError(f"{name} must be <= {high:g}, got {value:g}")
    return value


def check_params(params: Any) -> DiscaParams:
    """``params`` itself when it is a `DiscaParams`; else ValueError."""
    if not isinstance(params, DiscaParams):
        raise ValueError(f"params must be a DiscaParams, got {type(params).__name__}")
    return params
