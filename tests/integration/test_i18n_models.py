"""Native-language prompts on the real PyPI models (I18N.md §7): decision tokens, exactness."""

from __future__ import annotations

import numpy as np
import pytest

from disca_edge import pipeline
from disca_edge.content import i18n, personas, scenarios
from disca_edge.engine import ChatPrompt, Engine, EngineOptions

pytestmark = pytest.mark.model

#: One country per language of the tables (the first in PAPER20 order).
COUNTRY_OF: dict[str, str] = {}
for _iso in personas.PAPER20:
    COUNTRY_OF.setdefault(i18n.tables().country_lang[_iso], _iso)


@pytest.fixture(
    scope="module", params=[("smollm2_path", "smollm2-135m"), ("gemma_path", "gemma3-270m")]
)
def tokenizer_engine(request):
    """A small-context engine per PyPI model (registry template): only its template and
    tokenizer are used."""
    from disca_edge.models.registry import get_model

    fixture, name = request.param
    options = EngineOptions(n_ctx=512, n_threads=1, chat_template=get_model(name).chat_template)
    engine = Engine(request.getfixturevalue(fixture), options)
    yield engine
    engine.close()


@pytest.mark.parametrize("code", sorted(COUNTRY_OF))
def test_a_and_b_are_two_distinct_single_tokens_in_every_language(tokenizer_engine, code):
    """Spec §2.4 resolution on the full chat-templated prompt, both label orders."""
    engine = tokenizer_engine
    prompts = pipeline.panel_prompts(personas.load_panel(COUNTRY_OF[code]), "native")
    assert prompts.rendering.persona_language == code
    dilemma = prompts.vignette(scenarios.disca_pool()[0])
    for system in (prompts.systems[0], prompts.systems[1]):
        for user in (dilemma.user_orig, dilemma.user_swap):
            text = engine.render(ChatPrompt(system, user))
            tokens = engine.tokenize(text)
            token_a, token_b = engine.decision_tokens(text, tokens)
            assert token_a != token_b
            # each letter is exactly one new token after the unchanged prompt
            assert engine.tokenize(text + "A") == [*tokens, token_a]
            assert engine.tokenize(text + "B") == [*tokens, token_b]


def _native_prompts(country: str, n_scenarios: int) -> list[ChatPrompt]:
    prompts = pipeline.panel_prompts(personas.load_panel(country), "native")
    out = []
    for vignette in scenarios.disca_pool()[:n_scenarios]:
        dilemma = prompts.vignette(vignette)
        for user in (dilemma.user_orig, dilemma.user_swap):
            out += [ChatPrompt(system, user) for system in prompts.systems]
    return out


@pytest.mark.slow
def test_shared_prefix_equals_isolated_on_a_native_panel(smollm2_path):
    """DEU in German: two different persona prompts share a token length on SmolLM2
    (../shared/notes/engine-exactness.md), so this also guards the trie keying."""
    prompts = _native_prompts("DEU", 1)
    engine = Engine(smollm2_path, EngineOptions(n_ctx=4096, n_threads=2))
    try:
        lengths = [
            len(engine.tokenize(engine.render(ChatPrompt(s, "\x02"))))
            for s in {p.system for p in prompts}
        ]
        assert len(lengths) != len(set(lengths))  # the collision this test is about
        shared = engine.logits_ab(prompts)
        isolated = engine.logits_ab_isolated(prompts)
    finally:
        engine.close()
    assert shared.texts == isolated.texts
    np.testing.assert_array_equal(shared.logit_a, isolated.logit_a)
    np.testing.assert_array_equal(shared.logit_b, isolated.logit_b)
