"""``disca ask --noise-floor``: a dilemma's prompts again under a second kernel setting.

A `NoiseProbe` is a second copy of the model under another valid kernel setting (an f16
KV cache, or attention without flash attention; `engine.options.alternate_options`).
`run.answer_countries` evaluates every chunk through it as well, and `with_noise` gives
each `result.AskResult` its `NoiseCheck`: how far the persona effects δ_i − δ_base moved
(`maths.noise`), and whether the panel's disagreement and shift are below that.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import pipeline
from ..engine import Engine
from ..engine.options import LOGIT_SETTINGS, NOISE_SETTINGS
from ..errors import DiscaError
from ..maths import core, methods
from ..maths.noise import abs_median_p95, effect_differences

if TYPE_CHECKING:
    from .result import AskResult

__all__ = ["NoiseCheck", "NoiseProbe", "noise_probe", "with_noise"]


@dataclass(frozen=True)
class NoiseCheck:
    """The same prompts under a second kernel setting (``noise``, ``disca ask --noise-floor``).

    The floor is how far the persona effects δ_i − δ_base move (debiased, T_cat-scaled)
    when nothing but the kernel setting changes; a panel whose disagreement or shift is
    below it asks for a correction the model's rounding could make.
    """

    setting: str
    """``f16`` (an f16 KV cache), ``no-flash-attn`` or ``same`` (a control)."""
    engine: Mapping[str, Any]
    """The second setting's logit-relevant llama.cpp settings."""
    logits: tuple[tuple[float, float], ...]
    """(z_A, z_B) of each evaluation under it, in ``evaluations`` order."""
    max_logit_diff: float
    """The largest |Δ logit| over the evaluations."""
    effect_diffs: Mapping[str, float]
    """Δ(δ_i − δ_base) per persona agent (young, middle, older, all)."""
    floor_median: float
    """Median |Δ(δ_i − δ_base)| over the personas."""
    floor_max: float
    """Largest |Δ(δ_i − δ_base)|: the floor the panel is compared with."""
    delta_micro: float
    """DISCA's δ_micro from the second setting's logits (before any country prior)."""
    disagreement_below_floor: bool
    """The panel's spread D = √D² is below ``floor_max``."""
    shift_below_floor: bool
    """The panel's shift |Δ| = |δ̄ − δ_base| is below ``floor_max``."""


@dataclass(frozen=True)
class NoiseProbe:
    """A second engine: every dilemma's prompts again, under another kernel setting.

    Attributes:
        engine: the same model under the second setting (`noise_probe`).
        setting: its name (`engine.options.NOISE_SETTINGS`).
    """

    engine: Engine
    setting: str

    @property
    def settings(self) -> dict[str, Any]:
        """The second setting's logit-relevant engine settings."""
        return {k: self.engine.settings.get(k) for k in LOGIT_SETTINGS}


def noise_probe(engine: Engine, other: Engine, setting: str) -> NoiseProbe:
    """`other` as the noise probe of `engine` (``disca ask --noise-floor``).

    Raises:
        DiscaError: `other` runs `engine`'s own kernel settings, unless `setting` is
            ``same`` (the control).
    """
    probe = NoiseProbe(other, setting)
    same = probe.settings == {k: engine.settings.get(k) for k in LOGIT_SETTINGS}
    if same and setting != "same":
        raise DiscaError(
            f"the model already runs with the {setting} setting; choose another "
            f"--noise-setting ({', '.join(s for s in NOISE_SETTINGS if s != setting)})"
        )
    return probe


def with_noise(
    results: Sequence[AskResult],
    panel_logits: pipeline.PanelLogits,
    other: pipeline.PanelLogits,
    *,
    setting: str,
    engine: Mapping[str, Any],
) -> list[AskResult]:
    """The results with the check of their prompts under a second kernel setting.

    Args:
        results: S results, in the order of `panel_logits` (`answers_from_logits`).
        panel_logits: their logits.
        other: the same prompts' logits under the second setting.
        setting: its name (`engine.options.NOISE_SETTINGS`).
        engine: its logit-relevant settings.

    Returns:
        list[AskResult]: new results with ``noise`` set.

    Raises:
        DiscaError: `other` is not of the same prompts.
    """
    if other.texts != panel_logits.texts:
        raise DiscaError("the second evaluation's prompts differ from the first's")
    if not results:
        return []
    params, seed = results[0].params, results[0].seed
    categories = [r.dilemma.category for r in results]
    diffs = effect_differences(
        panel_logits.logits, other.logits, panel_logits.has_swap, categories, params
    )
    readout = methods.read_panel(
        other.logits, other.has_swap, categories,
        core.draws(seed, [r.index for r in results], params.k_half), params,
    )  # fmt: skip
    out = []
    for s, result in enumerate(results):
        floor_median, _ = abs_median_p95(diffs[s])
        floor_max = float(np.abs(diffs[s]).max())
        corr = result.correction
        n_orders = 2 if panel_logits.has_swap[s] else 1
        pairs = other.logits[s, :n_orders].reshape(-1, 2)
        check = NoiseCheck(
            setting=setting,
            engine=dict(engine),
            logits=tuple((float(a), float(b)) for a, b in pairs),
            max_logit_diff=float(np.abs(other.logits[s] - panel_logits.logits[s]).max()),
            effect_diffs={agent: float(diffs[s, i]) for i, agent in enumerate(pipeline.AGENTS[1:])},
            floor_median=floor_median,
            floor_max=floor_max,
            delta_micro=float(readout.correction.delta_final[s]),
            disagreement_below_floor=math.sqrt(corr.disagreement) < floor_max,
            shift_below_floor=abs(corr.shift) < floor_max,
        )
        out.append(dataclasses.replace(result, noise=check))
    return out
