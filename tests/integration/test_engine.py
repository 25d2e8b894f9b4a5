"""The shared-prefix engine on real GGUF weights (SmolLM2-135M, Gemma-3-270M)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from disca_edge.content import personas, scenarios
from disca_edge.engine import ChatPrompt, Engine, EngineOptions, PromptTooLongError
from disca_edge.errors import DiscaError
from disca_edge.pipeline import panel_system_prompts

pytestmark = pytest.mark.model


def _panel_prompts(n_scenarios: int, country: str = "USA") -> list[ChatPrompt]:
    """The 10 DISCA prompts (5 agents x 2 orders) for the first scenarios of the pool."""
    systems = panel_system_prompts(personas.load_panel(country).texts())
    prompts = []
    for vignette in scenarios.disca_pool()[:n_scenarios]:
        orig, swap = scenarios.disca_user_prompts(vignette)
        for user in (orig, swap):
            prompts += [ChatPrompt(system, user) for system in systems]
    return prompts


def test_shared_prefix_logits_equal_isolated_evaluation(smollm2_engine):
    """Exactness: shared + batched A/B logits == each prompt alone from an empty cache."""
    engine = smollm2_engine
    engine.clear()
    prompts = _panel_prompts(2)
    before = engine.stats.tokens_evaluated
    shared = engine.logits_ab(prompts)
    evaluated = engine.stats.tokens_evaluated - before
    isolated = engine.logits_ab_isolated(prompts)
    np.testing.assert_array_equal(shared.logit_a, isolated.logit_a)
    np.testing.assert_array_equal(shared.logit_b, isolated.logit_b)
    assert shared.texts == isolated.texts
    # sharing really happened: far fewer tokens decoded than the prompts hold
    assert evaluated < 0.5 * int(shared.n_tokens.sum())


# Issue 9: two different system prompts whose rendered prefixes are 22 tokens each on SmolLM2.
_KIND = "You are a very kind and gentle person from Japan who values harmony."
_HARSH = "You are a very harsh and selfish person from Norway who values money."


def test_different_prefixes_of_equal_length_never_share_suffix_tokens(smollm2_engine):
    """Regression: tries keyed by (position, token) let these prompts share nodes (1.2 logits off)."""
    engine = smollm2_engine
    assert engine.prefix_len(_KIND) == engine.prefix_len(_HARSH) == 22
    orig, swap = scenarios.disca_user_prompts(scenarios.disca_pool()[0])
    prompts = [ChatPrompt(system, user) for system in (_KIND, _HARSH) for user in (orig, swap)]
    engine.clear()
    shared = engine.logits_ab(prompts)
    isolated = engine.logits_ab_isolated(prompts)
    np.testing.assert_array_equal(shared.logit_a, isolated.logit_a)
    np.testing.assert_array_equal(shared.logit_b, isolated.logit_b)


def test_prompt_longer_than_a_group_gets_a_group_of_its_own(smollm2_path, n_threads):
    """Regression (CI): a 1,126-token native prompt over GROUP_CELLS=1024 raised ValueError."""
    prompts = _panel_prompts(1)
    with Engine(smollm2_path, EngineOptions(n_threads=n_threads, group_cells=64)) as engine:
        assert max(engine.logits_ab(prompts[:1]).n_tokens) > engine.group_cells
        shared = engine.logits_ab(prompts)
        isolated = engine.logits_ab_isolated(prompts)
    np.testing.assert_array_equal(shared.logit_a, isolated.logit_a)
    np.testing.assert_array_equal(shared.logit_b, isolated.logit_b)


def test_results_do_not_depend_on_prompt_order(smollm2_engine):
    engine = smollm2_engine
    prompts = _panel_prompts(2)
    order = np.random.default_rng(0).permutation(len(prompts))
    first = engine.logits_ab(prompts)
    shuffled = engine.logits_ab([prompts[k] for k in order])
    np.testing.assert_array_equal(shuffled.logit_a, first.logit_a[order])
    np.testing.assert_array_equal(shuffled.logit_b, first.logit_b[order])


def test_pinned_prefixes_are_reused_across_calls_and_survive_eviction(smollm2_path, n_threads):
    engine = Engine(
        smollm2_path, EngineOptions(n_ctx=2048, n_threads=n_threads)
    )  # small cache forces eviction
    try:
        usa, jpn = _panel_prompts(2, "USA"), _panel_prompts(2, "JPN")
        first = engine.logits_ab(usa)
        cost_first = engine.stats.tokens_evaluated
        again = engine.logits_ab(usa)
        cost_again = engine.stats.tokens_evaluated - cost_first
        assert cost_again < cost_first  # the five system prefixes were not re-evaluated
        np.testing.assert_array_equal(first.logit_a, again.logit_a)
        engine.logits_ab(jpn)  # new personas: USA prefixes get evicted as needed
        third = engine.logits_ab(usa)
        np.testing.assert_array_equal(third.logit_b, first.logit_b)
    finally:
        engine.close()


def test_decision_tokens_are_the_letters(smollm2_engine):
    engine = smollm2_engine
    text = engine.render(_panel_prompts(1)[0])
    id_a, id_b = engine.decision_tokens(text)
    assert id_a != id_b
    assert engine._model.token_to_piece(id_a).rstrip(b"\0") == b"A"
    assert engine._model.token_to_piece(id_b).rstrip(b"\0") == b"B"


def test_prompt_longer_than_context_is_a_clear_error(smollm2_path, n_threads):
    engine = Engine(smollm2_path, EngineOptions(n_ctx=256, n_threads=n_threads))
    try:
        with pytest.raises(PromptTooLongError, match=r"tokens long; the context holds 256"):
            engine.logits_ab([ChatPrompt("You are a helpful assistant.", "word " * 400)])
    finally:
        engine.close()


def test_a_context_llama_cpp_cannot_make_is_one_error_not_an_abort(smollm2_path, tmp_path):
    """llama.cpp caps its batch at n_ctx and aborted the process (GGML_ASSERT, exit 134)
    when that batch could not hold n_seq_max outputs: `Session(n_ctx=100)` died silently."""
    repo = Path(__file__).resolve().parents[2]
    code = f"from disca_edge.session import Session; Session({str(smollm2_path)!r}, n_ctx=100)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(repo), "DISCA_HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "disca_edge.errors.DiscaError: n_ctx=100 is too small: llama.cpp needs at least 128 "
        "(n_seq_max) and a DISCA prompt several hundred tokens; use a context of 512 or more"
    )
    with pytest.raises(DiscaError, match="n_batch=64 is too small"):
        Engine(smollm2_path, EngineOptions(n_batch=64, n_threads=1))


_NO_SYSTEM_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_template_without_system_role_prepends_system_text(smollm2_path, n_threads):
    engine = Engine(
        smollm2_path, EngineOptions(n_threads=n_threads, chat_template=_NO_SYSTEM_TEMPLATE)
    )
    try:
        assert engine.system_role is False
        text = engine.render(ChatPrompt("SYSTEM TEXT", "USER TEXT"))
        assert (
            text == "<|im_start|>user\nSYSTEM TEXT\n\nUSER TEXT<|im_end|>\n<|im_start|>assistant\n"
        )
        result = engine.logits_ab([ChatPrompt("SYSTEM TEXT", "Pick A or B. Choice: ")])
        assert np.isfinite(result.logit_a).all()
    finally:
        engine.close()


def test_gemma_template_gets_exactly_one_bos(gemma_path, n_threads):
    from disca_edge.models import registry as models

    template = models.get_model("gemma3-270m").chat_template
    engine = Engine(gemma_path, EngineOptions(n_threads=n_threads, chat_template=template))
    try:
        text = engine.render(ChatPrompt("You are a persona.", "Choose A or B.\n\nChoice: "))
        assert text.startswith("<bos><start_of_turn>user\nYou are a persona.\n\n")
        tokens = engine.tokenize(text)
        bos = engine._model.token_bos()
        assert tokens[0] == bos and tokens[1] != bos
        result = engine.logits_ab([ChatPrompt("You are a persona.", "Choose A or B.\n\nChoice: ")])
        assert result.token_a[0] != result.token_b[0]
    finally:
        engine.close()


def test_gguf_without_chat_template_is_refused(gemma_path, n_threads):
    with pytest.raises(DiscaError, match="no chat template"):
        Engine(gemma_path, EngineOptions(n_threads=n_threads))


def test_engine_matches_llama_cpp_high_level_api_at_the_same_kernel_settings(
    smollm2_engine, n_threads
):
    """An independent code path (llama_cpp.Llama.eval) gives the engine's exact logits."""
    import llama_cpp
    from llama_cpp import Llama

    engine = smollm2_engine
    prompts = _panel_prompts(1)[:4]
    shared = engine.logits_ab(prompts)
    kv_type = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0}[
        engine.settings["kv_type"]
    ]
    llm = Llama(
        str(engine.model_path),
        n_ctx=engine.n_ctx,
        n_batch=engine.settings["n_batch"],
        n_ubatch=engine.settings["n_ubatch"],
        flash_attn=True,
        type_k=kv_type,
        type_v=kv_type,
        n_threads=n_threads,
        verbose=False,
    )
    try:
        for k, text in enumerate(shared.texts):
            llm.reset()
            llm.eval(engine.tokenize(text))
            row = np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),)
            )
            assert abs(row[shared.token_a[k]] - shared.logit_a[k]) <= 1e-3
            assert abs(row[shared.token_b[k]] - shared.logit_b[k]) <= 1e-3
    finally:
        llm.close()


def test_corrupt_prefix_state_file_is_replaced_not_skipped(smollm2_path, tmp_path, n_threads):
    """Issue 10: flipped bytes inside a saved state fail its checksum; a fresh state replaces it."""
    prompts = _panel_prompts(1)[:5]
    with Engine(
        smollm2_path, EngineOptions(n_threads=n_threads), prefix_cache_dir=tmp_path
    ) as engine:
        first = engine.logits_ab(prompts)
        assert engine.stats.prefixes_decoded == 5
    files = sorted(tmp_path.glob("*.kv"))
    assert len(files) == 5
    victim = files[0]
    data = bytearray(victim.read_bytes())
    for k in (100, len(data) // 2, len(data) - 7):  # header-adjacent, middle, tail of the KV data
        data[k] ^= 0xFF
    victim.write_bytes(bytes(data))
    with Engine(
        smollm2_path, EngineOptions(n_threads=n_threads), prefix_cache_dir=tmp_path
    ) as engine:
        again = engine.logits_ab(prompts)
        assert (engine.stats.prefixes_loaded, engine.stats.prefixes_decoded) == (4, 1)
    assert victim.read_bytes() != bytes(data)  # rewritten with a good state
    with Engine(
        smollm2_path, EngineOptions(n_threads=n_threads), prefix_cache_dir=tmp_path
    ) as engine:
        third = engine.logits_ab(prompts)
        assert (engine.stats.prefixes_loaded, engine.stats.prefixes_decoded) == (5, 0)
    for result in (again, third):
        np.testing.assert_array_equal(result.logit_a, first.logit_a)
        np.testing.assert_array_equal(result.logit_b, first.logit_b)
