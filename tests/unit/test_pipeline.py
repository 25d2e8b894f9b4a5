"""pipeline without a model: dilemmas, panel prompts, where each logit lands, context sizing.

The engine here is a recorder that returns one known logit pair per prompt, so the
tests can check which (dilemma, order, agent) slot each evaluated prompt fills. Real
logits through the real engine are tested in tests/integration/.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from disca_edge import pipeline
from disca_edge.content import i18n, scenarios
from disca_edge.content.personas import load_panel
from disca_edge.engine import CONTEXT_RESERVE, ChatPrompt
from disca_edge.errors import DiscaError


class RecordingEngine:
    """Returns logit_a = k and logit_b = -k for the k-th prompt of a call, and keeps them."""

    def __init__(self) -> None:
        self.prompts: list[ChatPrompt] = []

    def logits_ab(self, prompts):
        self.prompts = list(prompts)
        k = np.arange(len(prompts), dtype=np.float64)
        return SimpleNamespace(
            logit_a=k,
            logit_b=-k,
            token_a=np.full(len(prompts), 65),
            token_b=np.full(len(prompts), 66),
            texts=[f"{p.system}|{p.user}" for p in prompts],
            n_tokens=np.arange(len(prompts)) + 1000,
        )


def test_a_dilemma_from_a_scenario_has_both_label_orders():
    scenario = scenarios.render_disca_scenario("Context.", "a boy", "a girl")
    dilemma = pipeline.Dilemma.from_scenario(scenario, category="Age", index=7)
    assert (dilemma.user_orig, dilemma.user_swap) == scenarios.user_turns(scenario)
    assert "Group A: a boy" in dilemma.user_orig and "Group B: a boy" in dilemma.user_swap
    assert (dilemma.category, dilemma.index) == ("Age", 7)
    german = pipeline.Dilemma.from_scenario(scenario, language=i18n.language("de"))
    assert (german.user_orig, german.user_swap) == i18n.language("de").user_turns(scenario)


def test_a_dilemma_without_labels_has_no_swap():
    dilemma = pipeline.Dilemma.from_scenario("Tea or coffee?")
    assert dilemma.user_swap is None
    # nor where the frame's question names the labels: only the scenario is swapped
    for code in ("zh", "ja", "fa"):
        language = i18n.language(code)
        assert language.scenario_frame["left_lane"] in language.prompt_frame
        assert pipeline.Dilemma.from_scenario("Tea or coffee?", language=language).user_swap is None


def test_a_dilemma_from_a_vignette_keeps_its_category_and_noise_index():
    vignette = scenarios.disca_pool()[3]
    dilemma = pipeline.Dilemma.from_vignette(vignette, data_seed=42, lang="de")
    assert (dilemma.user_orig, dilemma.user_swap) == scenarios.disca_user_prompts(
        vignette, 42, "de"
    )
    assert (dilemma.category, dilemma.index) == (vignette.category, vignette.vignette_index)


def test_system_prompts_put_the_base_prompt_first():
    assert pipeline.panel_system_prompts(["p1", "p2"]) == [scenarios.BASE_SYSTEM_PROMPT, "p1", "p2"]
    assert pipeline.panel_system_prompts(["p1"], base="Sei hilfreich.") == ["Sei hilfreich.", "p1"]


def test_panel_prompts_hash_follows_the_system_prompts():
    prompts = pipeline.panel_prompts(load_panel("JPN"), "en")
    assert len(prompts.systems) == len(pipeline.AGENTS)
    assert prompts.systems[0] == prompts.frame.base_assistant
    assert (
        prompts.systems_sha256() == pipeline.panel_prompts(load_panel("JPN"), "en").systems_sha256()
    )
    changed = pipeline.PanelPrompts(
        prompts.iso3, prompts.rendering, prompts.frame, (*prompts.persona_texts[:3], "other")
    )
    assert changed.systems_sha256() != prompts.systems_sha256()
    native = pipeline.panel_prompts(load_panel("JPN"), "native")
    assert native.systems_sha256() != prompts.systems_sha256()


def test_each_logit_lands_in_its_dilemma_order_and_agent_slot():
    systems = ["base", "young", "middle", "older", "all"]
    with_swap = pipeline.Dilemma.from_scenario(
        scenarios.render_disca_scenario("C.", "a boy", "a girl"), index=0
    )
    without_swap = pipeline.Dilemma("plain question", None, index=1)
    engine = RecordingEngine()
    out = pipeline.evaluate_panel(engine, systems, [with_swap, without_swap, with_swap])
    assert len(engine.prompts) == 10 + 5 + 10  # no swapped prompts for the second dilemma
    assert out.logits.shape == out.token_ids.shape == (3, 2, 5, 2)
    assert out.has_swap.tolist() == [True, False, True]
    for s, dilemma in enumerate([with_swap, without_swap, with_swap]):
        for o, user in enumerate([dilemma.user_orig, dilemma.user_swap or dilemma.user_orig]):
            for j, system in enumerate(systems):
                k = int(out.logits[s, o, j, 0])
                assert engine.prompts[k] == ChatPrompt(system=system, user=user)
                assert out.logits[s, o, j, 1] == -k
                assert out.token_ids[s, o, j].tolist() == [65, 66]
    assert out.texts[1] == [f"{system}|plain question" for system in systems]
    assert len(out.texts[0]) == 10
    # the engine's prompt lengths travel with their texts: prompt k of the call was 1000 + k
    assert out.n_tokens[1] == [1010 + j for j in range(5)]
    assert out.n_tokens[2] == [1015 + k for k in range(10)]


def test_non_finite_logits_are_refused():
    engine = RecordingEngine()
    engine.model_path = "/models/broken.gguf"
    real = engine.logits_ab
    engine.logits_ab = lambda prompts: SimpleNamespace(
        **{**vars(real(prompts)), "logit_b": np.full(len(prompts), np.inf)}
    )
    with pytest.raises(DiscaError, match="broken.gguf: the model returned non-finite logits"):
        pipeline.evaluate_panel(engine, ["s"], [pipeline.Dilemma("q", None)])


class WordEngine:
    """A tokenizer that counts words; a system prefix is its rendered words."""

    def render(self, prompt: ChatPrompt) -> str:
        return f"<sys> {prompt.system} <user> {prompt.user} <go>"

    def tokenize(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]

    def prefix_len(self, system: str) -> int:
        return len(f"<sys> {system} <user>".split())


def test_context_needed_is_the_resident_prefixes_plus_the_longest_suffix():
    systems = ["one two", "three four five", "six"]
    users = ["a b c", "a b c d e f g", "a"]
    prefixes = 4 + 5 + 3  # "<sys>", the words, "<user>"
    longest_suffix = 7 + 1  # the longest user turn, then "<go>"
    need = pipeline.context_needed(WordEngine(), systems, users)
    assert need == prefixes + longest_suffix + CONTEXT_RESERVE


def test_context_demand_keeps_the_longest_turns_of_each_language():
    from disca_edge.content.scenarios import disca_pool

    panels = [pipeline.panel_prompts(load_panel(c), "native") for c in ("ARG", "MEX", "JPN")]
    pool = disca_pool()[:6]
    demand = pipeline.context_demand(panels, pool, reserve=100, longest=2)
    assert demand.reserve == 100 and len(demand.panels) == 3
    assert [systems for systems, _ in demand.panels] == [tuple(p.systems) for p in panels]
    for prompts, (_, users) in zip(panels, demand.panels, strict=True):
        turns = [
            t for v in pool for t in (prompts.vignette(v).user_orig, prompts.vignette(v).user_swap)
        ]
        assert users == tuple(sorted(turns, key=len, reverse=True)[:2])
    assert demand.panels[0][1] == demand.panels[1][1] != demand.panels[2][1]  # es, es, ja
    words = WordEngine()
    needs = [pipeline.context_needed(words, s, u) for s, u in demand.panels]
    assert demand.tokens(words) == max(needs) and len(set(needs)) > 1
    assert pipeline.ContextDemand().tokens(words) == 0
