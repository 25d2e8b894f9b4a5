"""Persona effects of a run: how far each persona moves the model from the base prompt.

For every scenario the full DISCA variant records δ_base (the base prompt's debiased,
T_cat-scaled gap) and δ_i for each persona (``diagnostics``, `maths.methods`). The
effect of persona i on a scenario is δ_i − δ_base, turned towards the scenario's
preferred group (the group the dimension's human preference counts, MULTITP.md §8): a
positive effect means the persona spares the preferred group more readily than the base
prompt does. `persona_effects` averages it per country, persona and dimension.

These numbers come from the samples, not from ``results.json`` (whose format stays as
it is); `read_persona_effects` reads a run folder's samples.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..content.personas import COHORTS
from ..maths import categories
from . import runlog

__all__ = ["PersonaEffects", "persona_effects", "read_persona_effects"]


@dataclass(frozen=True)
class PersonaEffects:
    """Mean persona effects δ_i − δ_base per country, persona and dimension.

    Attributes:
        method: the DISCA variant whose diagnostics they come from.
        personas: the persona agents, in panel order (`content.personas.COHORTS`).
        dimensions: `categories.DIMENSIONS`.
        countries: ISO3 -> persona -> mean effect per dimension (None: no scenario of
            that dimension with a finite effect).
        n: ISO3 -> dimension -> scenarios averaged.
    """

    method: str
    personas: tuple[str, ...]
    dimensions: tuple[str, ...]
    countries: dict[str, dict[str, list[float | None]]]
    n: dict[str, dict[str, int]]


def persona_effects(records: Sequence[Mapping[str, Any]], method: str) -> PersonaEffects:
    """Mean persona effects of a run's records (see the module docstring).

    Args:
        records: the run's sample records, any order.
        method: the full DISCA variant that recorded the diagnostics (the run's primary).

    Returns:
        The effects of every country with records, in record order.
    """
    dims = tuple(categories.DIMENSIONS)
    sums: dict[str, np.ndarray] = {}  # ISO3 -> [persona, dimension] sums
    counts: dict[str, np.ndarray] = {}
    for record in records:
        diag = (record.get("diagnostics") or {}).get(method) or {}
        base, personas = diag.get("delta_base"), diag.get("delta_personas")
        if base is None or not personas:
            continue
        iso = record["country"]
        d = dims.index(categories.DIMENSION_OF_CATEGORY[record["category"]])
        sign = 1.0 if record["preferred_right"] else -1.0
        total = sums.setdefault(iso, np.zeros((len(COHORTS), len(dims))))
        count = counts.setdefault(iso, np.zeros((len(COHORTS), len(dims)), dtype=np.int64))
        for i, gap in enumerate(personas[: len(COHORTS)]):
            if gap is not None:
                total[i, d] += sign * (gap - base)
                count[i, d] += 1
    countries = {
        iso: {
            persona: [
                float(total[i, d] / counts[iso][i, d]) if counts[iso][i, d] else None
                for d in range(len(dims))
            ]
            for i, persona in enumerate(COHORTS)
        }
        for iso, total in sums.items()
    }
    n = {iso: {dim: int(c[:, d].max()) for d, dim in enumerate(dims)} for iso, c in counts.items()}
    return PersonaEffects(method, tuple(COHORTS), dims, countries, n)


def read_persona_effects(run_dir: str | os.PathLike, method: str) -> PersonaEffects:
    """`persona_effects` of a run folder's samples.

    Raises:
        DiscaError: not a run folder, or corrupt samples.
    """
    return persona_effects(runlog.read_samples(run_dir), method)
