"""Steering and emulated-dropout arithmetic, without a model (BASELINES.md §6, §7)."""

from __future__ import annotations

import numpy as np
import pytest

from disca_edge.engine.hooks import _name_ranges
from disca_edge.engine.interventions import (
    DropoutMasks,
    control_vector_data,
    dropout_tensor_names,
    layer_tensor,
    steering_layer,
    unit_mean_difference,
)


@pytest.mark.parametrize(
    ("n_layer", "variant", "layer", "noted"),
    [
        (40, "paper", 20, False),  # Phi-4: floor(L/2) = 20 (paper text)
        (40, "released", 32, False),  # the released code's R2_AS_LAYER
        (33, "released", 32, False),  # the smallest model with a block 32
        (32, "released", 16, True),
        (28, "released", 14, True),  # Qwen2.5-7B (BASELINES.md §6)
        (30, "paper", 15, False),  # SmolLM2-135M
        (18, "released", 9, True),  # Gemma-3-270M
    ],
)
def test_steering_layer(n_layer, variant, layer, noted):
    choice = steering_layer(n_layer, variant)
    assert choice.layer == layer
    assert (choice.note is not None) == noted
    if noted:
        assert f"{n_layer} layers" in choice.note and "32" in choice.note


def test_steering_layer_refuses_unknown_variants_and_tiny_models():
    with pytest.raises(ValueError, match="'paper' or 'released'"):
        steering_layer(40, "midpoint")
    with pytest.raises(ValueError, match="no steerable middle layer"):
        steering_layer(1, "paper")


def test_unit_mean_difference_known_answer():
    positive = np.array([[2.0, 0.0, 1.0], [4.0, 0.0, 1.0]])  # mean (3, 0, 1)
    negative = np.array([[0.0, 4.0, 1.0]])  # mean (0, 4, 1)
    direction = unit_mean_difference(positive, negative)
    np.testing.assert_allclose(direction, [0.6, -0.8, 0.0])
    assert np.linalg.norm(direction) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("positive", "negative", "message"),
    [
        (np.ones(3), np.ones((1, 3)), "positive must be ndarray"),
        (np.ones((1, 3)), np.ones((0, 3)), "negative must be ndarray"),
        (np.ones((1, 3)), np.ones((1, 4)), "widths differ"),
        (np.full((1, 3), np.nan), np.ones((1, 3)), "NaN or inf"),
        (np.ones((2, 3)), np.ones((1, 3)), "means coincide"),
    ],
)
def test_unit_mean_difference_refuses_bad_input(positive, negative, message):
    with pytest.raises(ValueError, match=message):
        unit_mean_difference(positive, negative)


def test_control_vector_layout_starts_at_layer_one():
    vector = np.array([1.0, -2.0, 0.5])
    for layer in (1, 2, 4):
        data = control_vector_data(vector, layer, n_layer=5)
        assert data.dtype == np.float32 and data.shape == (15,) and data.flags.c_contiguous
        rows = data.reshape(5, 3)
        np.testing.assert_array_equal(rows[layer - 1], vector)
        assert np.count_nonzero(np.delete(rows, layer - 1, axis=0)) == 0


def test_control_vector_refuses_layer_zero_and_bad_vectors():
    with pytest.raises(ValueError, match="layer 0 cannot be steered"):
        control_vector_data(np.ones(3), 0, n_layer=5)
    with pytest.raises(ValueError, match=r"in \[1, 4\], got 5"):
        control_vector_data(np.ones(3), 5, n_layer=5)
    with pytest.raises(ValueError, match="finite"):
        control_vector_data(np.array([1.0, np.inf]), 1, n_layer=5)
    with pytest.raises(ValueError, match="finite"):
        control_vector_data(np.ones((2, 3)), 1, n_layer=5)


def test_layer_tensor_names():
    assert layer_tensor("attn_out-12") == ("attn_out", 12)
    assert layer_tensor("l_out-0") == ("l_out", 0)
    for other in ("node_17", "kqv_out-3 (reshaped)", "result_norm", "attn_out"):
        assert layer_tensor(other) is None
    assert dropout_tensor_names(2) == ["attn_out-0", "ffn_out-0", "attn_out-1", "ffn_out-1"]


def test_missing_names_summary_is_one_short_phrase():
    names = [f"attn_out-{il}" for il in range(18)] + ["ffn_out-4", "result_norm"]
    assert _name_ranges(names) == "attn_out-0…17, ffn_out-4, result_norm"


def test_dropout_at_rate_zero_keeps_every_entry_exactly():
    mask = DropoutMasks(0.0, seed=42, scenario=3, pass_index=0).scale("attn_out", 5, 7, 11)
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, np.ones((7, 11), dtype=np.float32))


def test_dropout_masks_are_inverted_bernoulli():
    mask = DropoutMasks(0.1, seed=42, scenario=0, pass_index=0).scale("ffn_out", 0, 400, 500)
    assert set(np.unique(mask)) == {np.float32(0.0), np.float32(1 / 0.9)}
    kept = np.count_nonzero(mask) / mask.size
    assert abs(kept - 0.9) < 5 * np.sqrt(0.9 * 0.1 / mask.size)  # 5 sigma of Binomial(n, 0.9)


def test_dropout_masks_follow_the_documented_seed():
    """rng([seed, scenario, pass, layer, kind]) with kind 0 = attn_out, 1 = ffn_out."""
    mask = DropoutMasks(0.25, seed=42, scenario=9, pass_index=2).scale("ffn_out", 6, 3, 4)
    uniforms = np.random.default_rng([42, 9, 2, 6, 1]).random((3, 4))
    np.testing.assert_array_equal(mask, np.where(uniforms < 0.75, np.float32(1 / 0.75), 0))


def test_dropout_masks_do_not_depend_on_micro_batches():
    whole = DropoutMasks(0.1, 42, 5, 1).scale("attn_out", 3, 10, 8)
    split = DropoutMasks(0.1, 42, 5, 1)
    parts = [split.scale("attn_out", 3, rows, 8) for rows in (4, 1, 0, 5)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_dropout_masks_differ_by_every_part_of_the_key():
    def mask(seed=42, scenario=0, pass_index=0, kind="attn_out", layer=0):
        return DropoutMasks(0.5, seed, scenario, pass_index).scale(kind, layer, 4, 64)

    first = mask()
    np.testing.assert_array_equal(mask(), first)
    for other in (mask(seed=101), mask(scenario=1), mask(pass_index=1), mask(kind="ffn_out"),
                  mask(layer=1)):  # fmt: skip
        assert not np.array_equal(other, first)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1.0, 42, 0, 0), r"rate must be in \[0, 1\)"),
        ((-0.1, 42, 0, 0), r"rate must be in \[0, 1\)"),
        ((0.1, -1, 0, 0), "seed must be a non-negative integer"),
        ((0.1, 42, 1.5, 0), "scenario must be a non-negative integer"),
        ((0.1, 42, 0, -2), "pass_index must be a non-negative integer"),
    ],
)
def test_dropout_masks_refuse_bad_keys(args, message):
    with pytest.raises(ValueError, match=message):
        DropoutMasks(*args)
