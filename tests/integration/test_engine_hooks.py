"""Graph hooks on real GGUF weights: pass-through, capture, control vectors, emulated dropout."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from disca_edge.content import personas, scenarios
from disca_edge.engine import ChatPrompt, Engine
from disca_edge.engine.interventions import control_vector_data, unit_mean_difference
from disca_edge.errors import DiscaError
from disca_edge.pipeline import panel_system_prompts

pytestmark = pytest.mark.model

_SENTENCES = (
    "I am a person from Japan who is deeply religious.",
    "I am a person from Japan who is highly secular.",
)


def _prompts(n_scenarios: int = 1) -> list[ChatPrompt]:
    """Base-prompt DISCA prompts (both orders) of the first scenarios of the pool."""
    base = panel_system_prompts(personas.load_panel("USA").texts())[0]
    return [
        ChatPrompt(base, user)
        for vignette in scenarios.disca_pool()[:n_scenarios]
        for user in scenarios.disca_user_prompts(vignette)
    ]


def _assert_same(result, reference) -> None:
    np.testing.assert_array_equal(result.logit_a, reference.logit_a)
    np.testing.assert_array_equal(result.logit_b, reference.logit_b)


class _ReadWriteEverything:
    """Asks for every graph node; reads each f32 one and writes the same bytes back."""

    def __init__(self, ggml) -> None:
        self.ggml = ggml
        self.asked = self.rewritten = 0

    def wants(self, name: str) -> bool:
        self.asked += 1
        return True

    def on_tensor(self, tensor: int, name: str) -> None:
        try:
            rows = self.ggml.read_rows(tensor, 1)
        except ValueError:  # not contiguous f32 (quantised KV views, ids, ...)
            return
        self.ggml.write(tensor, rows)
        self.rewritten += 1


def _check_pass_through(engine: Engine) -> None:
    prompts = _prompts()
    reference = engine.logits_ab_isolated(prompts)  # the engine's context: no callback at all
    hook = _ReadWriteEverything(engine.hooks.ggml)
    _assert_same(engine.hooks.logits_ab(prompts, hook), reference)
    # it really split the graph at every node and rewrote every layer's outputs
    assert hook.rewritten >= 3 * engine.n_layer * len(prompts)
    assert hook.asked > hook.rewritten


def test_pass_through_callback_leaves_logits_bit_identical(smollm2_engine):
    """Issue 19's Done-when: a callback that asks for tensors and changes nothing."""
    _check_pass_through(smollm2_engine)


def test_pass_through_is_bit_identical_on_gemma3_too(gemma_engine):
    assert gemma_engine.architecture == "gemma3"
    _check_pass_through(gemma_engine)


def test_gemma3_graph_has_no_attn_out_so_dropout_is_refused_in_one_line(gemma_engine):
    names = gemma_engine.hooks.tensor_names()
    layers = range(gemma_engine.n_layer)
    assert {f"l_out-{il}" for il in layers} | {f"ffn_out-{il}" for il in layers} <= names
    assert not any(name.startswith("attn_out") for name in names)
    with pytest.raises(DiscaError) as refused:
        gemma_engine.hooks.logits_ab_dropout(
            _prompts()[:1], rate=0.1, seed=42, scenarios=[0], pass_index=0
        )
    message = str(refused.value)
    assert "\n" not in message
    assert "gemma3" in message and f"attn_out-0…{gemma_engine.n_layer - 1}" in message
    assert "ffn_out" not in message


def test_smollm2_graph_names_every_hooked_tensor(smollm2_engine):
    engine = smollm2_engine
    assert (engine.architecture, engine.n_layer, engine.n_embd) == ("llama", 30, 576)
    names = engine.hooks.tensor_names()
    for kind in ("attn_out", "ffn_out", "l_out"):
        assert {f"{kind}-{il}" for il in range(engine.n_layer)} <= names


def test_query_suffix_is_user_text_end_of_turn_and_assistant_header(smollm2_engine):
    engine = smollm2_engine
    tokens = engine.query_suffix(_SENTENCES[0])
    text = engine._model.detokenize(tokens, special=True).decode()
    assert text == _SENTENCES[0] + "<|im_end|>\n<|im_start|>assistant\n"
    assert tokens[0] != engine._model.token_bos()
    # it is how a full prompt ends
    for prompt in _prompts():
        assert engine.chat.encode(prompt)[-len(engine.query_suffix(prompt.user)) :] == (
            engine.query_suffix(prompt.user)
        )


class _AllRows:
    def __init__(self, ggml, name: str, width: int) -> None:
        self.ggml, self.name, self.width, self.rows = ggml, name, width, None

    def wants(self, name: str) -> bool:
        return name == self.name

    def on_tensor(self, tensor: int, name: str) -> None:
        self.rows = self.ggml.read_rows(tensor, self.width)


def test_capture_is_the_last_tokens_layer_output(smollm2_engine):
    engine, layer = smollm2_engine, 15
    tokens = [engine.query_suffix(s) for s in _SENTENCES]
    captured = engine.hooks.capture(tokens, layer)
    assert captured.shape == (2, engine.n_embd) and captured.dtype == np.float32
    assert np.isfinite(captured).all() and not np.array_equal(captured[0], captured[1])
    every = _AllRows(engine.hooks.ggml, f"l_out-{layer}", engine.n_embd)
    engine.hooks.logits(tokens[0], every)
    assert every.rows.shape == (len(tokens[0]), engine.n_embd)
    # causal: a prefix's last hidden state is the full sequence's row at that position
    for k in (5, 11, len(tokens[0])):
        np.testing.assert_array_equal(
            engine.hooks.capture([tokens[0][:k]], layer)[0], every.rows[k - 1]
        )


def test_control_vector_adds_exactly_at_its_layer_and_clears(smollm2_engine):
    engine, layer = smollm2_engine, 10
    hooks, tokens = engine.hooks, engine.query_suffix(_SENTENCES[0])
    before = {il: hooks.capture([tokens], il)[0] for il in (layer - 1, layer)}
    vector = np.random.default_rng(0).standard_normal(engine.n_embd).astype(np.float32)
    hooks._set_control_vector(control_vector_data(vector, layer, engine.n_layer), layer)
    try:
        during = {il: hooks.capture([tokens], il)[0] for il in (layer - 1, layer)}
    finally:
        hooks._set_control_vector(None, -1)
    np.testing.assert_array_equal(during[layer - 1], before[layer - 1])  # below: untouched
    np.testing.assert_array_equal(during[layer], before[layer] + vector)  # the offset (il-1)
    np.testing.assert_array_equal(hooks.capture([tokens], layer)[0], before[layer])


def test_steering_changes_logits_and_clearing_restores_them_bit_for_bit(smollm2_engine):
    engine, layer = smollm2_engine, 15
    prompts = _prompts()
    shared_before = engine.logits_ab(prompts)
    isolated = engine.logits_ab_isolated(prompts)
    captured = engine.hooks.capture([engine.query_suffix(s) for s in _SENTENCES], layer)
    direction = unit_mean_difference(captured[:1], captured[1:])
    steered = engine.hooks.logits_ab_steered(prompts, 1.5 * direction, layer)
    assert np.all(steered.logit_a != isolated.logit_a)
    again = engine.hooks.logits_ab_steered(prompts, 1.5 * direction, layer)
    _assert_same(again, steered)
    _assert_same(engine.hooks.logits_ab(prompts), isolated)  # vector cleared
    _assert_same(engine.logits_ab(prompts), shared_before)  # the engine's own context untouched
    with pytest.raises(ValueError, match="layer 0 cannot be steered"):
        engine.hooks.logits_ab_steered(prompts, direction, 0)


def test_control_vector_is_cleared_when_the_evaluation_fails(smollm2_engine, monkeypatch):
    engine, prompts = smollm2_engine, _prompts()[:1]
    hooks = engine.hooks
    plain = hooks.logits_ab(prompts)

    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    with monkeypatch.context() as patch:
        patch.setattr(hooks, "logits_ab", fail)
        with pytest.raises(RuntimeError, match="interrupted"):
            hooks.logits_ab_steered(prompts, np.full(engine.n_embd, 3.0), 12)
    _assert_same(hooks.logits_ab(prompts), plain)


def test_an_exception_in_a_hook_is_raised_after_the_decode(smollm2_engine):
    engine, prompts = smollm2_engine, _prompts()[:1]

    class Broken:
        def wants(self, name):
            return name == "ffn_out-3"

        def on_tensor(self, tensor, name):
            raise KeyError("hook failed")

    with pytest.raises(KeyError, match="hook failed"):
        engine.hooks.logits_ab(prompts, Broken())
    _assert_same(engine.hooks.logits_ab(prompts), engine.logits_ab_isolated(prompts))


def test_ctrl_c_during_a_hooked_decode_is_raised_after_it_not_lost(smollm2_engine, capfd):
    engine, prompts = smollm2_engine, _prompts()[:1]
    seen: list[str] = []

    class Interrupting:  # the signal arrives while llama.cpp runs the callback
        def wants(self, name):
            return name == "ffn_out-3"

        def on_tensor(self, tensor, name):
            seen.append(name)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        engine.hooks.logits_ab(prompts, Interrupting())
    assert seen == ["ffn_out-3"]  # the decode ran through; Ctrl-C came after it
    assert "Exception ignored" not in capfd.readouterr().err
    _assert_same(engine.hooks.logits_ab(prompts), engine.logits_ab_isolated(prompts))


def test_emulated_dropout_is_seeded_and_exact_at_rate_zero(smollm2_engine):
    engine, prompts = smollm2_engine, _prompts()
    hooks = engine.hooks

    def dropout(rate=0.1, seed=42, scenario=0, pass_index=0):
        return hooks.logits_ab_dropout(
            prompts, rate=rate, seed=seed, scenarios=[scenario] * len(prompts),
            pass_index=pass_index,
        )  # fmt: skip

    _assert_same(dropout(rate=0.0), engine.logits_ab_isolated(prompts))
    first = dropout()
    assert np.all(first.logit_a != engine.logits_ab_isolated(prompts).logit_a)
    _assert_same(dropout(), first)
    for other in (dropout(pass_index=1), dropout(scenario=7), dropout(seed=101)):
        assert np.all(other.logit_a != first.logit_a)


def test_dropout_refuses_gpu_layers_in_one_line(smollm2_engine, monkeypatch):
    engine = smollm2_engine
    monkeypatch.setitem(engine.settings, "n_gpu_layers", -1)
    with pytest.raises(DiscaError, match=r"^MC-dropout emulation runs on the CPU only; .*$"):
        engine.hooks.logits_ab_dropout(
            _prompts()[:1], rate=0.1, seed=42, scenarios=[0], pass_index=0
        )
