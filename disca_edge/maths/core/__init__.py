"""DISCA core: persona-disagreement correction of two-option decision gaps (pure NumPy).

Implements spec §3-§7 (DISCA.md) as array-to-array functions: gap construction
(`gaps`, `debias`, `scenario_gaps`), the per-scenario correction (`correct`: panel
statistics, loss-averse importance sampling in two passes, reliability gate,
ESS-anchor blend), the `reference` variant's sequential country prior
(`country_prior`, `prior_alpha`), the vanilla read-outs, and the deterministic IS
noise convention (`draws`). No I/O, no logging, no global state.

Sign convention: a gap ``delta > 0`` favours option B (the right-hand option).

This package is the one public name of these functions; its private modules hold them
by job: `_params` (`DiscaParams`), `_gaps` (steps 1-2), `_sampling` (the draws and the
PT-IS kernel), `_correction` (steps 3-6), `_readouts` (step 7, §5.2, §7) and
`_arrays` (argument checks, `sigmoid`).
"""

from __future__ import annotations

from ._arrays import sigmoid
from ._correction import Correction, correct, utilities
from ._gaps import debias, gaps, scenario_gaps
from ._params import DiscaParams
from ._readouts import country_prior, p_spare, prior_alpha, vanilla_lfl_p_b, vanilla_raw_p_b
from ._sampling import draws

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
