"""The ``noise`` section of ``results.json``: the model's noise floor per country.

`evals.noise` computes it from a run's ``noise.jsonl``; `results.Results` carries it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["CountryNoise", "NoiseFloor"]

_T = TypeVar("_T")


def _known(cls: type[_T], data: Mapping[str, Any]) -> _T:
    """A dataclass from a mapping: known fields only."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class CountryNoise:
    """One country's noise floor beside its persona effects and DISCA's shift.

    The floor is the change Δ(δ_i − δ_base) of the persona effects when the same prompts
    are evaluated under another valid kernel setting (`NoiseFloor.setting`); every gap is
    debiased and T_cat-scaled as the core does (logit / T_cat).

    Attributes:
        n: scenarios re-evaluated under the other setting.
        floor_median: median of |Δ(δ_i − δ_base)| over those scenarios and the personas.
        floor_p95: 95th percentile of the same values (the floor the flags compare with).
        max_logit_diff: the largest |Δ logit| over their prompts.
        persona_effect: median |δ_i − δ_base| over all the country's scenarios and personas.
        shift: median |δ_out − δ_base| of the primary DISCA method over all the country's
            scenarios: how far DISCA moves the base prompt's gap.
        shift_below_floor: ``shift`` < ``floor_p95``.
        effects_below_floor: ``persona_effect`` < ``floor_p95``.
    """

    n: int
    floor_median: float
    floor_p95: float
    max_logit_diff: float
    persona_effect: float
    shift: float
    shift_below_floor: bool
    effects_below_floor: bool


@dataclass(frozen=True)
class NoiseFloor:
    """The model's numerical noise in persona effects, per country (``evals.noise``).

    Measured by re-evaluating the first scenarios of each country under a second valid
    kernel setting (``disca eval noise-floor``, or ``eval multitp --noise-floor``); the
    per-prompt logits and differences are in the run's ``noise.jsonl``.

    Attributes:
        setting: the second setting, ``f16``, ``no-flash-attn`` or ``same`` (a control).
        engine: its logit-relevant engine settings.
        run_engine: the run's logit-relevant engine settings.
        method: the DISCA method whose shift is shown (the run's primary).
        n_records: noise records read from ``noise.jsonl`` (a record of another run or
            setting is not used; each country's ``n`` counts those used).
        countries: ISO3 -> the country's floor, in run order.
    """

    setting: str
    engine: dict[str, Any]
    run_engine: dict[str, Any]
    method: str
    n_records: int
    countries: dict[str, CountryNoise]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoiseFloor:
        """Read the ``noise`` mapping of ``results.json``."""
        countries = {iso: _known(CountryNoise, c) for iso, c in data["countries"].items()}
        return _known(cls, {**data, "countries": countries})
