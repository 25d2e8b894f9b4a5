"""`disca ask` end to end on real SmolLM2-135M weights, through the click CLI.

One ``--json`` answer is computed once per module and checked three ways: its fields,
its correction recomputed from its own logits with the core, and two of its prompts
re-evaluated from an empty cache. Then the rich report and ``--input`` are run once each.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from disca_edge import pipeline
from disca_edge.cli import cli
from disca_edge.content import i18n, scenarios
from disca_edge.content.personas import load_panel
from disca_edge.engine import ChatPrompt, Engine, EngineOptions
from disca_edge.maths import core

pytestmark = pytest.mark.model

QUESTION = ["--category", "age", "a boy", "two elderly women"]


def ask(model, *args, input=None):
    """`disca ask -c JP --lang en`: English prompts, which these checks read (default: native)."""
    return CliRunner().invoke(
        cli,
        ["ask", "-c", "JP", "--lang", "en", "--model", str(model), "--threads", "2", *args],
        input=input,
    )


@pytest.fixture(scope="module")
def answer(smollm2_path):
    result = ask(smollm2_path, "--json", "--seed", "42", *QUESTION)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_json_answer_records_everything(answer, smollm2_path):
    r = answer
    assert r["schema"] == "ask-result/1" and (r["index"], r["input_line"]) == (0, None)
    assert r["model"]["name"] == smollm2_path.name and r["model"]["path"] == str(smollm2_path)
    assert r["model"]["sha256"] == (
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    )
    assert r["engine"]["n_threads"] == 2 and r["engine"]["n_ctx"] == 4096
    assert r["versions"]["llama_cpp_python"] not in ("", "not installed")
    assert (r["country"], r["variant"], r["seed"], r["t_cat"]) == ("JPN", "paper", 42, 1.5)
    panel = load_panel("JP")
    assert r["panel"]["sha256"] == panel.sha256()
    assert r["panel"]["provenance_statement"] == panel.provenance_statement
    assert r["dilemma"] == {
        "form": "trolley",
        "text": i18n.language("en").trolley_opener,
        "option_a": "a boy",
        "option_b": "two elderly women",
        "category": "Age",
        "scenario": scenarios.render_disca_scenario(
            i18n.language("en").trolley_opener, "a boy", "two elderly women"
        ),
    }
    evaluations = r["evaluations"]
    assert [(e["agent"], e["order"]) for e in evaluations] == [
        (agent, order) for order in pipeline.ORDERS for agent in pipeline.AGENTS
    ]
    for e in evaluations:
        assert e["prompt"].startswith("<|im_start|>system\n")
        assert e["prompt"].endswith("Choice: <|im_end|>\n<|im_start|>assistant\n")
        assert (e["token_a"], e["token_b"]) == (49, 50) and e["n_tokens"] > 100
        assert np.isfinite([e["logit_a"], e["logit_b"]]).all()
    assert "Option A — Group A: a boy" in evaluations[0]["prompt"]
    assert "Option B — Group B: a boy" in evaluations[5]["prompt"]  # swapped labels
    assert set(r["persona_gaps"]) == {"young", "middle", "older", "all"}
    for read in ("vanilla", "vanilla_matched", "disca"):
        p = r[read]
        assert p["p_a"] + p["p_b"] == pytest.approx(1.0)
        assert p["choice"] == ("B" if p["p_b"] > 0.5 else "A")


def test_correction_recomputes_from_the_json_logits(answer):
    r = answer
    z = np.zeros((1, 2, 5, 2))
    for e in r["evaluations"]:
        o, j = pipeline.ORDERS.index(e["order"]), pipeline.AGENTS.index(e["agent"])
        z[0, o, j] = e["logit_a"], e["logit_b"]
    params = core.DiscaParams(**r["params"])
    base, personas = core.scenario_gaps(z, r["t_cat"], params)
    assert base[0] == pytest.approx(r["base_gap"], abs=1e-12)
    assert personas[0] == pytest.approx(list(r["persona_gaps"].values()), abs=1e-12)
    corr = core.correct(base, personas, core.draws(r["seed"], [r["index"]], params.k_half), params)
    c = r["correction"]
    for name in ("delta_bar", "disagreement", "sigma", "reliability", "delta_star", "alpha_ess"):
        assert c[name] == pytest.approx(getattr(corr, name)[0], abs=1e-12), name
    assert c["delta_star_passes"] == pytest.approx(corr.delta_star_passes[0], abs=1e-12)
    assert c["ess_ratio"] == pytest.approx(corr.ess_ratio[0], abs=1e-12)
    assert c["delta_final"] == pytest.approx(corr.delta_final[0], abs=1e-12)
    assert r["disca"]["p_b"] == pytest.approx(corr.p_b[0], abs=1e-12)
    assert r["vanilla"]["p_b"] == pytest.approx(
        core.vanilla_raw_p_b(z[0, 0, 0, 0], z[0, 0, 0, 1]), abs=1e-12
    )
    assert r["vanilla_matched"]["p_b"] == pytest.approx(core.vanilla_lfl_p_b(base[0]), abs=1e-12)


def test_two_prompts_reevaluate_from_an_empty_cache(answer, smollm2_path):
    """The recorded prompt texts are exact: rebuilt and evaluated alone, the logits agree."""
    r = answer
    systems = pipeline.panel_system_prompts(load_panel(r["country"]).texts())
    scenario = r["dilemma"]["scenario"]
    users = {
        "orig": scenarios.render_disca_user(scenario),
        "swap": scenarios.render_disca_user(scenarios.swap_labels(scenario)),
    }
    picked = [e for e in r["evaluations"] if (e["agent"], e["order"]) in {("base", "orig"), ("older", "swap")}]  # fmt: skip
    prompts = [
        ChatPrompt(systems[pipeline.AGENTS.index(e["agent"])], users[e["order"]]) for e in picked
    ]
    with Engine(
        smollm2_path, EngineOptions(n_ctx=4096, n_threads=2)
    ) as engine:  # fresh: empty cache
        for prompt, e in zip(prompts, picked, strict=True):
            assert engine.render(prompt) == e["prompt"]
            assert len(engine.tokenize(e["prompt"])) == e["n_tokens"]
        fresh = engine.logits_ab_isolated(prompts)
    assert fresh.texts == [e["prompt"] for e in picked]
    assert fresh.logit_a == pytest.approx([e["logit_a"] for e in picked], abs=1e-3)
    assert fresh.logit_b == pytest.approx([e["logit_b"] for e in picked], abs=1e-3)


def test_rich_report_matches_the_json(answer, smollm2_path):
    result = ask(smollm2_path, "--verbose", *QUESTION)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "\x1b[" not in text and max(len(line) for line in text.splitlines()) <= 80
    c, r = answer["correction"], answer
    for expected in (
        f"DISCA · Japan (JPN) · {r['model']['name']} · paper · seed 42 · T_cat",
        f"A {100 * r['vanilla']['p_a']:>3.0f}%  B {100 * r['vanilla']['p_b']:>3.0f}%",
        f"DISCA for JPN           A {100 * r['disca']['p_a']:>3.0f}%",
        f"{c['disagreement']:.4f}",
        f"{c['reliability']:.3f}",
        f"δ = {c['delta_final']:+.3f}",
        "You are a senior citizen from Japan",  # --verbose: persona texts
        f"{r['evaluations'][9]['logit_b']:.4f}",  # --verbose: raw logits
    ):
        assert expected in text, expected


def test_input_file_keeps_good_lines_and_numbers_bad_ones(answer, smollm2_path, tmp_path):
    source = tmp_path / "dilemmas.jsonl"
    good = {"left": "a boy", "right": "two elderly women", "category": "age", "id": "q"}
    source.write_text(
        "\n".join(['{"left": "a boy", "right": "a boy"}', "", json.dumps(good)]) + "\n"
    )
    result = ask(smollm2_path, "--input", str(source))
    assert result.exit_code == 1
    assert "Error: line 1: the two options are identical" in result.stderr
    (line,) = result.stdout.splitlines()
    r = json.loads(line)
    assert (r["index"], r["input_line"], r["id"]) == (2, 3, "q")
    # same prompts as the single ask, so the same logits; noise index 2 instead of 0
    for mine, single in zip(r["evaluations"], answer["evaluations"], strict=True):
        assert mine["prompt"] == single["prompt"]
        assert mine["logit_b"] == pytest.approx(single["logit_b"], abs=1e-3)
    params = core.DiscaParams("paper")
    corr = core.correct(
        r["base_gap"], list(r["persona_gaps"].values()), core.draws(42, [2], 64)[0], params
    )
    assert r["correction"]["delta_final"] == pytest.approx(corr.delta_final[0], abs=1e-12)
    assert r["correction"]["delta_star_passes"] != answer["correction"]["delta_star_passes"]
