"""The baselines that change the model's computation: activation steering, emulated MC-dropout.

Both run through the engine's hooked context (`engine.Engine.hooks`), every prompt alone
from an empty cache, never through the shared-prefix context DISCA's prompts use.

* ``steer:released`` / ``steer:paper`` (BASELINES.md §6): per country, the last-token
  output of the steering layer (`engine.interventions.steering_layer`) for each pair
  sentence sent as a bare user turn (`engine.Engine.query_suffix`); v = the unit mean
  difference (country pole − opposite pole); α·v added to that layer's output at every
  position of the scenario's vanilla prompt (base system prompt, orig order). One
  (z_A, z_B) per scenario.
* ``mc_dropout:emulated`` (§7): `DROPOUT_PASSES` decodes per scenario with inverted-dropout
  masks (rate `DROPOUT_RATE`) on every ``attn_out`` and ``ffn_out``, seeded per (run seed,
  scenario, pass); the (z_A, z_B) of every pass is stored, `maths.baselines.mean_pass_p_b`
  averages their read-outs.

Where the model cannot do it (a graph without the named tensors, layers on a GPU, too few
layers to steer) `ModelCalls.refusal` gives the one line that says why, found once per
model with zero prompts, and the run records it instead of logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import pipeline
from ..content import baselines as texts
from ..engine import ChatPrompt
from ..engine.interventions import steering_layer, unit_mean_difference
from ..errors import DiscaError

__all__ = ["DROPOUT_PASSES", "DROPOUT_RATE", "STEERING_ALPHA", "ModelCalls"]

#: The steering strength (an absolute norm: v is a unit vector).
STEERING_ALPHA = 1.5
#: The dropout rate and the stochastic passes of MC-dropout.
DROPOUT_RATE = 0.1
DROPOUT_PASSES = 8


class ModelCalls:
    """One worker's model-call baselines: refusals and steering vectors cached per model.

    Args:
        seed: the run's seed (the dropout masks' first key).
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._refusals: dict[str, str | None] = {}
        self._vectors: dict[tuple[str, str], np.ndarray] = {}
        self._norms: dict[tuple[str, str], float] = {}

    def refusal(self, engine: Any, label: str) -> str | None:
        """Why `label` cannot run on this engine's model, in one line; None when it can."""
        if label not in self._refusals:
            self._refusals[label] = self._find_refusal(engine, label)
        return self._refusals[label]

    @staticmethod
    def _find_refusal(engine: Any, label: str) -> str | None:
        try:
            if label.startswith("steer:"):
                layer = steering_layer(engine.n_layer, label.split(":")[1]).layer
                engine.hooks.capture([], layer)
            else:
                engine.hooks.logits_ab_dropout(
                    [], rate=DROPOUT_RATE, seed=0, scenarios=[], pass_index=0
                )
        except (DiscaError, ValueError) as exc:
            return str(exc)
        return None

    def info(self, engine: Any, label: str) -> dict[str, Any]:
        """What a record says about how `label` ran (layer, α, passes; or the refusal)."""
        why = self.refusal(engine, label)
        if why is not None:
            return {"refused": why}
        if label == "mc_dropout:emulated":
            note = (f"{DROPOUT_PASSES} passes, rate {DROPOUT_RATE} on attn_out and ffn_out of "
                    f"all {engine.n_layer} layers")  # fmt: skip
            return {"rate": DROPOUT_RATE, "passes": DROPOUT_PASSES, "note": note}
        choice = steering_layer(engine.n_layer, label.split(":")[1])
        note = f"steered at layer {choice.layer} of {engine.n_layer}, alpha = {STEERING_ALPHA}"
        if choice.note:
            note += f" ({choice.note})"
        return {"layer": choice.layer, "alpha": STEERING_ALPHA, "note": note}

    def state_norms(self, label: str, iso3: str) -> dict[str, float]:
        """The mean norm of the captured pair states of a country (α's scale); {} before any."""
        norm = self._norms.get((label, iso3))
        return (
            {} if norm is None else {"state_norm": norm, "alpha_over_norm": STEERING_ALPHA / norm}
        )

    def logits(
        self,
        engine: Any,
        label: str,
        country: texts.CountryPrompts,
        dilemmas: Sequence[pipeline.Dilemma],
    ) -> np.ndarray:
        """The stored logits of `label` for a chunk: ndarray[S, 2] (steering) or [S, T, 2].

        Raises:
            DiscaError: the label is refused on this model (`refusal`).
        """
        why = self.refusal(engine, label)
        if why is not None:
            raise DiscaError(why)
        prompts = [ChatPrompt(country.base_system, d.user_orig) for d in dilemmas]
        if label == "mc_dropout:emulated":
            return self._dropout(engine, prompts, [d.index for d in dilemmas])
        variant = label.split(":")[1]
        layer = steering_layer(engine.n_layer, variant).layer
        vector = self.vector(engine, label, country, layer)
        result = engine.hooks.logits_ab_steered(prompts, STEERING_ALPHA * vector, layer)
        return np.stack([result.logit_a, result.logit_b], axis=-1)

    def vector(
        self, engine: Any, label: str, country: texts.CountryPrompts, layer: int
    ) -> np.ndarray:
        """A country's unit steering direction at `layer` (ndarray[n_embd]; cached)."""
        key = (label, country.iso3)
        if key not in self._vectors:
            positive, negative = country.steering[label]
            states = engine.hooks.capture(
                [engine.query_suffix(s) for s in (*positive, *negative)], layer
            )
            self._norms[key] = float(np.linalg.norm(states.astype(np.float64), axis=1).mean())
            self._vectors[key] = unit_mean_difference(
                states[: len(positive)], states[len(positive) :]
            )
        return self._vectors[key]

    def _dropout(
        self, engine: Any, prompts: Sequence[ChatPrompt], scenarios: Sequence[int]
    ) -> np.ndarray:
        """(z_A, z_B) of every pass: ndarray[S, DROPOUT_PASSES, 2]."""
        out = np.empty((len(prompts), DROPOUT_PASSES, 2), dtype=np.float64)
        for k in range(DROPOUT_PASSES):
            result = engine.hooks.logits_ab_dropout(
                prompts, rate=DROPOUT_RATE, seed=self.seed, scenarios=scenarios, pass_index=k
            )
            out[:, k, 0], out[:, k, 1] = result.logit_a, result.logit_b
        return out
