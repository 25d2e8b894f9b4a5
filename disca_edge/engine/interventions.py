"""Pure NumPy parts of activation steering and emulated MC-dropout (BASELINES.md §6, §7).

No llama import: the layer choice, the steering direction, the control-vector buffer
llama.cpp reads and the dropout masks are tested here without a model; `hooks` applies
them to a running graph.

Layers are numbered as llama.cpp names its graph tensors: ``l_out-il`` is the output of
block ``il`` (0-based, = HF ``model.layers[il]``), the residual stream a control vector
is added to. Layer 0 cannot be steered (llama.cpp keeps no control-vector row for it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DROPOUT_KINDS",
    "RELEASED_STEERING_LAYER",
    "DropoutMasks",
    "LayerChoice",
    "control_vector_data",
    "dropout_tensor_names",
    "layer_tensor",
    "steering_layer",
    "unit_mean_difference",
]

#: The layer the released steering code reads (`R2_AS_LAYER`, BASELINES.md §6).
RELEASED_STEERING_LAYER = 32

#: Graph tensors emulated MC-dropout masks, in the order of their kind index in the seed:
#: the attention output after its projection and the FFN output, before each residual add
#: (HF Phi-3's ``resid_attn_dropout`` and ``resid_mlp_dropout``).
DROPOUT_KINDS = ("attn_out", "ffn_out")

_LAYER_TENSOR = re.compile(r"^([a-z_]+)-(\d+)$")


@dataclass(frozen=True)
class LayerChoice:
    """The steering layer of a variant on one model.

    Attributes:
        layer: 0-based block index whose output (``l_out-layer``) is steered.
        note: why the variant's own layer was not used (None when it was).
    """

    layer: int
    note: str | None = None


def steering_layer(n_layer: int, variant: str) -> LayerChoice:
    """The steering layer of `variant` on a model with `n_layer` blocks.

    ``paper`` takes ⌊L/2⌋. ``released`` takes layer 32, which needs more than 32 blocks;
    on smaller models it falls back to ⌊L/2⌋ and says so in the note.

    Raises:
        ValueError: an unknown variant, or a model too small to steer (⌊L/2⌋ = 0).
    """
    if variant not in ("paper", "released"):
        raise ValueError(f"steering variant must be 'paper' or 'released', got {variant!r}")
    half = n_layer // 2
    if half < 1:
        raise ValueError(f"a model with {n_layer} layer(s) has no steerable middle layer")
    if variant == "paper":
        return LayerChoice(half)
    if n_layer > RELEASED_STEERING_LAYER:
        return LayerChoice(RELEASED_STEERING_LAYER)
    return LayerChoice(
        half,
        f"the model has {n_layer} layers, so released layer {RELEASED_STEERING_LAYER} does "
        f"not exist; steering layer {half} = floor(L/2) instead",
    )


def unit_mean_difference(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """The steering direction: mean(positive) − mean(negative), scaled to unit length.

    Args:
        positive (ndarray[P, E]): hidden states of the country-pole sentences.
        negative (ndarray[Q, E]): hidden states of the opposite-pole sentences.

    Returns:
        ndarray[E] float64 of norm 1.

    Raises:
        ValueError: the arrays are not 2-D with the same width and at least one row, hold
            NaN or inf, or their means coincide (no direction).
    """
    positive, negative = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    for name, rows in (("positive", positive), ("negative", negative)):
        if rows.ndim != 2 or rows.shape[0] == 0:
            raise ValueError(f"{name} must be ndarray[P, E] with P >= 1, got shape {rows.shape}")
        if not np.isfinite(rows).all():
            raise ValueError(f"{name} holds NaN or inf")
    if positive.shape[1] != negative.shape[1]:
        raise ValueError(f"widths differ: {positive.shape[1]} and {negative.shape[1]}")
    direction = positive.mean(axis=0) - negative.mean(axis=0)
    norm = float(np.linalg.norm(direction))
    if norm == 0.0:
        raise ValueError("the positive and negative means coincide: no steering direction")
    return direction / norm


def control_vector_data(vector: np.ndarray, layer: int, n_layer: int) -> np.ndarray:
    """The buffer ``llama_set_adapter_cvec`` reads to add `vector` to block `layer`'s output.

    llama.cpp's layout starts at layer 1: layer il's row is at offset n_embd·(il − 1); all
    other rows are zero.

    Args:
        vector (ndarray[E]): what to add at every position (α·v, not normalised here).
        layer: 1 ≤ layer < n_layer.
        n_layer: blocks in the model.

    Returns:
        ndarray[n_layer · E] float32, contiguous.

    Raises:
        ValueError: layer 0 or out of range, or a vector that is not finite 1-D.
    """
    if layer == 0:
        raise ValueError("layer 0 cannot be steered: llama.cpp's control vectors start at layer 1")
    if not 0 < layer < n_layer:
        raise ValueError(f"steering layer must be in [1, {n_layer - 1}], got {layer}")
    vector = np.asarray(vector, dtype=np.float64)
    if vector.ndim != 1 or not vector.size or not np.isfinite(vector).all():
        raise ValueError(f"the steering vector must be finite ndarray[E], got shape {vector.shape}")
    width = vector.size
    data = np.zeros(n_layer * width, dtype=np.float32)
    data[width * (layer - 1) : width * layer] = vector
    return data


def layer_tensor(name: str) -> tuple[str, int] | None:
    """``("attn_out", 12)`` for the graph tensor name ``attn_out-12``; None for other names."""
    match = _LAYER_TENSOR.match(name)
    return (match[1], int(match[2])) if match else None


def dropout_tensor_names(n_layer: int) -> list[str]:
    """The graph tensors emulated MC-dropout masks: every `DROPOUT_KINDS` tensor of every layer."""
    return [f"{kind}-{il}" for il in range(n_layer) for kind in DROPOUT_KINDS]


class DropoutMasks:
    """Inverted-dropout masks for one pass over one prompt: kept entries 1/(1−p), dropped 0.

    Each (layer, kind) draws from its own generator,
    ``np.random.default_rng([seed, scenario, pass_index, layer, kind_index])`` with
    kind_index the position in `DROPOUT_KINDS`, one uniform per entry in row-major order
    (entry kept when the uniform is below 1 − p). Rows continue where the previous call
    left off, so a mask does not depend on how llama.cpp splits the prompt into
    micro-batches, and p = 0 gives exact ones.

    Args:
        rate: dropout probability p, 0 ≤ p < 1.
        seed: the run's seed (DISCA.md §4: 42, 101, 2026).
        scenario: canonical index of the scenario.
        pass_index: which of the stochastic passes (0-based).
    """

    def __init__(self, rate: float, seed: int, scenario: int, pass_index: int) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        for name, value in (("seed", seed), ("scenario", scenario), ("pass_index", pass_index)):
            if int(value) != value or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        self.rate = float(rate)
        self.key = (int(seed), int(scenario), int(pass_index))
        self._streams: dict[tuple[int, int], np.random.Generator] = {}

    def scale(self, kind: str, layer: int, rows: int, width: int) -> np.ndarray:
        """The next `rows` mask rows of (kind, layer).

        Returns:
            ndarray[rows, width] float32 of 0 and 1/(1−p).
        """
        kind_index = DROPOUT_KINDS.index(kind)
        stream = self._streams.get((layer, kind_index))
        if stream is None:
            stream = np.random.default_rng([*self.key, int(layer), kind_index])
            self._streams[(layer, kind_index)] = stream
        keep = 1.0 - self.rate
        kept = stream.random((rows, width)) < keep
        return kept.astype(np.float32) * np.float32(1.0 / keep)
