"""`disca ask`: input forms, bad input, result assembly and the rich report (no model calls).

Results here are built from injected logits (the spec §8.1 test vector) with
`ask.build_results`; the cases that load the real GGUF are in
`tests/integration/test_ask_input_errors.py`.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

from disca_edge import pipeline
from disca_edge.ask import run as ask
from disca_edge.cli import cli
from disca_edge.content.personas import load_panel
from disca_edge.errors import UnknownNameError
from disca_edge.maths import core
from disca_edge.models.open import ModelInfo
from disca_edge.views import explain

FAKE_MODEL = ModelInfo(name="fake", path="/models/fake.gguf", sha256="0" * 64, settings={})

# spec §8.1: raw gaps z_B - z_A for j = 0..4, Age (T_cat 1.5)
ORIG = [0.60, 1.65, 1.35, -0.30, 0.90]
SWAP = [0.30, -1.05, -0.75, 0.60, -0.30]


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["ask", *args], input=input)


def panel_logits(orig, swap, texts=None) -> pipeline.PanelLogits:
    """PanelLogits of one dilemma whose A logits are 0 and B logits are the given gaps."""
    logits = np.zeros((1, 2, 5, 2))
    logits[0, 0, :, 1] = orig
    logits[0, 1, :, 1] = swap
    ids = np.broadcast_to(np.array([49, 50]), (1, 2, 5, 2)).copy()
    texts = texts or [[f"prompt {o} {a}" for o in pipeline.ORDERS for a in pipeline.AGENTS]]
    return pipeline.PanelLogits(logits, np.array([True]), ids, texts)


def build(orig=ORIG, swap=SWAP, *, category="Age", index=0, variant="paper", seed=42):
    item = ask.make_input("a boy", "two elderly women", category=category, index=index)
    params = core.DiscaParams(variant)
    (result,) = ask.build_results(
        [item],
        panel_logits(orig, swap),
        model_info=FAKE_MODEL,
        panel=load_panel("JPN"),
        params=params,
        seed=seed,
    )
    return result


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "JP", "a boy"], "expected two groups (A and B), got 1"),
        (["-c", "JP", "a boy", "  "], "group B is empty"),
        (["-c", "JP", "a boy", "A  Boy"], "the two options are identical ('a boy')"),
        (["-c", "JP", "--dilemma", "Q?", "--option-a", "", "--option-b", "x"], "option A is empty"),
        (["-c", "JP", "--dilemma", " ", "--option-a", "x", "--option-b", "y"], "dilemma text is empty"),
        (["-c", "JP", "--dilemma", "Q?", "--option-a", "x"], "needs both --option-a and --option-b"),
        (["-c", "JP", "--option-a", "x", "--option-b", "y"], "need --dilemma"),
        (["-c", "JP", "--dilemma", "Q?", "a", "b"], "give one of"),
        (["-c", "JP"], "nothing to ask"),
        (["-c", "Atlantis", "a", "b"], "unknown country 'Atlantis'"),
        (["-c", "JP", "--category", "speed", "a", "b"], "unknown category 'speed'"),
        (["-c", "JP", "--input", "/no/such/file.jsonl"], "cannot read /no/such/file.jsonl"),
        (["-c", "JP", "--model", "no-such-model", "a", "b"], "unknown model 'no-such-model'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_1(args, message):
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1, result.output  # one line, no traceback
    assert result.output.startswith("Error: ") and message in result.output


def test_unknown_country_suggests_close_names():
    result = run("-c", "Japn", "a", "b")
    assert result.exit_code == 1 and "did you mean JPN (Japan)?" in result.output


def test_help_documents_the_input_forms():
    result = run("--help")
    assert result.exit_code == 0
    for text in ('"a boy" "two elderly women"', '{"left", "right"}', '"option_a"', "--prior"):
        assert text in result.output


# --------------------------------------------------------------------------- library input


def test_parse_line_forms_and_noise_index():
    trolley = ask.parse_line('{"left": " a boy ", "right": "a girl", "id": 7}', 3, "age")
    assert (trolley.form, trolley.option_a, trolley.category) == ("trolley", "a boy", "Age")
    assert (trolley.index, trolley.line, trolley.id) == (2, 3, 7)
    custom = ask.parse_line(
        '{"dilemma": "Q?", "option_a": "x", "option_b": "y", "category": "Social Value"}', 1
    )
    assert (custom.form, custom.dilemma, custom.category, custom.index) == (
        "custom", "Q?", "SocialValue", 0
    )  # fmt: skip
    assert custom.scenario() == "Q?\n\nOption A — x\nOption B — y"
    assert trolley.scenario().startswith(ask.TROLLEY_CONTEXT + "\n\nOption A — Group A: a boy\n")


def test_read_inputs_keeps_line_numbers_and_skips_blank_lines():
    data = io.BytesIO(b'{"left": "a", "right": "b"}\n\n\xff\xfe\n{"left": "c", "right": "d"}\n')
    out = list(ask.read_inputs(data))
    assert [type(x).__name__ for x in out] == ["AskInput", "AskInputError", "AskInput"]
    assert str(out[1]) == "line 3: not valid UTF-8 text"
    assert [out[0].index, out[2].index] == [0, 3]


def test_make_input_rejects_non_text_and_unknown_category():
    with pytest.raises(ask.AskInputError, match="group A must be text, got int"):
        ask.make_input(1, "b")
    with pytest.raises(UnknownNameError, match="did you mean species"):
        ask.make_input("a", "b", category="specie")


# --------------------------------------------------------------------------- results


def test_result_follows_the_spec_test_vector():
    r = build()
    assert r["schema"] == "ask-result/1" and r["country"] == "JPN" and r["t_cat"] == 1.5
    assert r["base_gap"] == pytest.approx(0.1)
    assert list(r["persona_gaps"].values()) == pytest.approx([0.9, 0.7, -0.3, 0.4])
    assert r["correction"]["delta_bar"] == pytest.approx(0.425)
    assert r["correction"]["disagreement"] == pytest.approx(0.275833, abs=1e-6)
    assert r["correction"]["sigma"] == pytest.approx(0.525198, abs=1e-6)
    assert r["vanilla"]["p_b"] == pytest.approx(0.768525, abs=1e-6)
    assert r["vanilla_matched"]["p_b"] == pytest.approx(0.549834, abs=1e-6)
    assert r["position_bias"]["base"] == pytest.approx(0.3)
    # the correction is core.correct with draws(seed, index)
    corr = core.correct(
        0.1, [0.9, 0.7, -0.3, 0.4], core.draws(42, [0], 64)[0], core.DiscaParams("paper")
    )
    assert r["correction"]["delta_final"] == pytest.approx(corr.delta_final[0], abs=1e-12)
    assert r["disca"]["p_b"] == pytest.approx(corr.p_b[0], abs=1e-12)
    assert r["disca"]["choice"] == "B" and r["disca"]["option"] == "two elderly women"
    assert [(e["agent"], e["order"]) for e in r["evaluations"]][:6] == [
        ("base", "orig"), ("young", "orig"), ("middle", "orig"), ("older", "orig"),
        ("all", "orig"), ("base", "swap"),
    ]  # fmt: skip
    assert r["evaluations"][7]["logit_b"] == SWAP[2] and r["evaluations"][7]["prompt"].endswith(
        "swap middle"
    )
    assert "Country prior OFF" in r["variant_notes"]
    json.dumps(r, allow_nan=False)  # plain JSON: no NaN, no NumPy types


def test_noise_index_and_seed_select_the_draws():
    a, b, c = build(index=0), build(index=1), build(index=0, seed=7)
    assert a["correction"]["delta_star_passes"] != b["correction"]["delta_star_passes"]
    assert a["correction"]["delta_star_passes"] != c["correction"]["delta_star_passes"]
    assert a["base_gap"] == b["base_gap"] == c["base_gap"]


def test_reference_variant_and_prior_over_a_sequence():
    params = core.DiscaParams("reference", use_prior=True)
    items = [ask.make_input("a", "b", category="age", index=i) for i in range(60)]
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (60, 2, 5, 2))
    pl = pipeline.PanelLogits(
        logits, np.ones(60, bool), np.zeros((60, 2, 5, 2), int), [["p"] * 10] * 60
    )
    results = ask.build_results(
        items, pl, model_info=FAKE_MODEL, panel=load_panel("JP"), params=params, seed=1
    )
    micro = [r["correction"]["delta_micro"] for r in results]
    assert [r["correction"]["delta_final"] for r in results] == micro  # not applied yet
    ask.apply_prior(results, params)
    final = [r["correction"]["delta_final"] for r in results]
    assert final == pytest.approx(core.country_prior(np.array(micro), params), abs=1e-12)
    assert final[:48] == micro[:48] and final[48:] != micro[48:]  # warm-up, then the prior
    assert results[55]["disca"]["p_b"] == pytest.approx(float(core.sigmoid(final[55] / 0.5)))
    notes = results[0]["variant_notes"]
    assert "Country prior ON" in notes and "no effect on the first 48 dilemmas" in notes
    e1, e2 = results[0]["correction"]["ess_ratio"]
    assert results[0]["correction"]["alpha_ess"] == pytest.approx(min(1, max(0.1, min(e1, e2))))


# --------------------------------------------------------------------------- report


def render(result, **kwargs) -> str:
    buffer = io.StringIO()
    explain.render(result, Console(file=buffer, width=80, highlight=False), **kwargs)
    return buffer.getvalue()


def test_report_shows_the_answers_bars_and_statistics():
    r = build()
    text = render(r, elapsed_s=1.25)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert all(line == line.rstrip() for line in lines)
    assert "\x1b[" not in text  # plain when not a terminal
    for expected in (
        "DISCA · Japan (JPN) · fake · paper · seed 42 · T_cat 1.5 (Age)",
        "  A  a boy",
        "  B  two elderly women",
        "vanilla (model alone)   A  23%  B  77%   → B two elderly women",
        "vanilla, debiased       A  45%  B  55%   → B",
        "disagreement D²",
        "0.2758",
        "reliability r",
        "blend α_ess",
        "ESS ratio e₁ e₂",
        "answered in 1.2 s",
        "personas: authored estimates",
    ):
        assert expected in text, expected
    rows = {line.split()[0]: line for line in lines if line.startswith("  ") and "│" in line}
    assert set(rows) >= {"young", "middle", "older", "all", "base", "consensus", "DISCA"}
    assert "+0.900 B 86%" in rows["young"] and "-0.300 A 65%" in rows["older"]
    # the persona bars carry the base (○) and consensus (◆) marks
    assert all("○" in rows[p] and "◆" in rows[p] for p in ("young", "middle", "older", "all"))
    assert "flips" not in text
    assert "Persona system prompts" not in text and "Raw logits" not in text


def test_report_flags_a_flip_and_verbose_adds_texts_and_logits():
    # the base prompt prefers A in both orders of its labels; every persona prefers B
    r = build(orig=[-1.5, 3, 3, 3, 3], swap=[1.5, -3, -3, -3, -3])
    assert r["vanilla"]["choice"] == "A" and r["disca"]["choice"] == "B"
    assert r["disca"]["flips_vanilla"] and r["disca"]["flips_vanilla_matched"]
    panel = load_panel("JP")
    text = render(r, verbose=True, persona_texts=panel.texts())
    assert "⚑ DISCA flips the vanilla answer (A → B)" in text
    assert "all four personas lean B" in text
    assert "Persona system prompts" in text and "You are a senior citizen from Japan" in text
    assert "Raw logits" in text and "  older   swap       49     50" in text


def test_bar_is_fixed_width_and_clips():
    assert explain.bar(0.5, 4, 1.0).plain == "    │██  "
    assert explain.bar(-9.0, 4, 1.0).plain == "████│    "
    assert explain.bar(0.01, 4, 1.0).plain == "    │▌   "  # a sliver for a tiny gap
    assert explain.bar(0.0, 4, 1.0, marks=[(-0.5, "○"), (1.0, "◆")]).plain == "  ○ │   ◆"
    assert [explain.strength(p) for p in (0.5, 0.55, 0.7, 0.85, 0.99)] == [
        "indifferent", "slight", "moderate", "strong", "very strong",
    ]  # fmt: skip


def test_json_output_of_a_bad_single_ask_is_an_error_not_json():
    result = run("-c", "JP", "--json", "a", "a")
    assert result.exit_code == 1 and result.stdout == "" and "identical" in result.output
