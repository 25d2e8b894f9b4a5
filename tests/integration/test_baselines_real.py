"""`disca eval multitp --baselines all` on SmolLM2-135M: every baseline's logits are stored, and
they are exactly what the same prompt gives when evaluated alone; on Gemma-3 the emulated
MC-dropout is refused in one recorded line while the other baselines run.

One scenario of USA, run as a user would (CLI in a subprocess); the stored logits of a
chat prompt baseline (B4), of the raw ``prism:suffix`` string, of a static-bias corpus
sentence and of a persona-count anchor are compared with an isolated evaluation by the
shared test engine, at the same context size and threads (SmolLM2 is bit-exact there).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from disca_edge.content import baselines, i18n
from disca_edge.content.personas import load_panel
from disca_edge.content.scenarios import disca_user_prompts
from disca_edge.content.variants import pool
from disca_edge.engine import ChatPrompt
from disca_edge.engine.interventions import unit_mean_difference
from disca_edge.evals.baselines import BaselineRunner, select
from disca_edge.evals.runlog import read_header, read_samples
from disca_edge.pipeline import panel_prompts

pytestmark = [pytest.mark.model, pytest.mark.slow]

PER_SCENARIO = {"wvs_prompt:released", "wvs_prompt:paper", "prism:short", "prism:long",
                "prism:suffix", "b1", "b4"}  # fmt: skip
HOOKED = {"steer:released", "steer:paper", "mc_dropout:emulated"}


def disca(environ, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from disca_edge.cli import main; main()", *args]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def run(user_env, smollm2_path, n_threads, tmp_path_factory):
    env = user_env("baselines_home", columns=200)
    out = tmp_path_factory.mktemp("runs") / "all"
    done = disca(env, "eval", "multitp", "--model", str(smollm2_path), "--out", str(out),
                 "--country", "USA", "--limit", "1", "--threads", str(n_threads), "--n-ctx",
                 "4096", "--baselines", "all", "--display", "none")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, env


def test_records_hold_every_baselines_logits(run):
    out, _ = run
    assert read_header(out)["config"]["baselines"]["labels"] == list(select("all"))
    (record,) = read_samples(out)
    assert set(record["baseline_logits"]) == PER_SCENARIO | HOOKED
    assert set(record["baseline_prompt_sha256"]) == PER_SCENARIO
    shapes = {k: np.shape(v) for k, v in record["baseline_logits"].items()}
    assert shapes == {**{k: (2,) for k in PER_SCENARIO | HOOKED}, "mc_dropout:emulated": (8, 2)}
    assert all(np.isfinite(v).all() for v in record["baseline_logits"].values())
    corpus = record["baseline_corpus_logits"]
    assert len(corpus["static_bias:released"]) == 10 and len(corpus["static_bias:as_run"]) == 1
    assert np.array(record["anchor_logits"]).shape == (2, 2, 2)
    # every baseline is scored (or says why not) in results.json
    section = json.loads((out / "results.json").read_text())["baselines"]
    scored = set(section["rows"]) | {f"{s}" for s in section["sweeps"]}
    assert set(select("all")) - {"persona_count", "tcat_scale", "global_tcat"} <= scored
    assert section["rows"]["b4"]["countries"]["USA"]["mis"] is not None


def test_stored_logits_equal_an_isolated_evaluation(run, smollm2_engine):
    out, _ = run
    (record,) = read_samples(out)
    english = i18n.language("en")
    usa = baselines.country_prompts(load_panel("USA"), english.base_assistant, english)
    user, swap = disca_user_prompts(pool()[0], 42, "en")
    engine = smollm2_engine

    b4 = engine.logits_ab_isolated([ChatPrompt(*usa.turn("b4", user))])
    assert_array_equal([b4.logit_a[0], b4.logit_b[0]], record["baseline_logits"]["b4"])
    sha = hashlib.sha256(b4.texts[0].encode("utf-8")).hexdigest()
    assert record["baseline_prompt_sha256"]["b4"] == sha

    text = usa.raw_user("prism:suffix", user) + engine.chat.generation_suffix()
    raw = engine.logits_ab_raw([text], isolated=True)
    assert_array_equal([raw.logit_a[0], raw.logit_b[0]], record["baseline_logits"]["prism:suffix"])

    sentence = usa.corpora["static_bias:released"][0]
    corpus = engine.logits_ab_isolated([ChatPrompt(usa.base_system, english.user_turn(sentence))])
    stored = record["baseline_corpus_logits"]["static_bias:released"][0]
    assert_array_equal([corpus.logit_a[0], corpus.logit_b[0]], stored)

    anchor = engine.logits_ab_isolated([ChatPrompt(usa.anchors[1], swap or user)])
    assert_array_equal([anchor.logit_a[0], anchor.logit_b[0]], record["anchor_logits"][1][1])


def test_report_shows_table1(run):
    out, env = run
    done = disca(env, "report", str(out))
    assert done.returncode == 0, done.stderr
    assert "Table 1: baselines against disca_paper" in done.stdout
    assert "Sensitivity of disca_paper" in done.stdout


def test_steering_and_dropout_equal_the_hooks_step_by_step(run, smollm2_engine):
    out, _ = run
    (record,) = read_samples(out)
    english = i18n.language("en")
    usa = baselines.country_prompts(load_panel("USA"), english.base_assistant, english)
    user, _ = disca_user_prompts(pool()[0], 42, "en")
    engine, prompt = smollm2_engine, ChatPrompt(usa.base_system, user)
    assert engine.n_layer == 30  # no layer 32: released steering falls back to 15, and says so
    info = record["baseline_info"]["steer:released"]
    assert info["layer"] == 15 and "floor(L/2)" in info["note"]
    positive, negative = usa.steering["steer:released"]
    states = engine.hooks.capture([engine.query_suffix(s) for s in (*positive, *negative)], 15)
    vector = unit_mean_difference(states[:5], states[5:])
    steered = engine.hooks.logits_ab_steered([prompt], 1.5 * vector, 15)
    stored = record["baseline_logits"]["steer:released"]
    assert_array_equal([steered.logit_a[0], steered.logit_b[0]], stored)
    passes = []
    for k in range(8):
        result = engine.hooks.logits_ab_dropout(
            [prompt], rate=0.1, seed=42, scenarios=[pool()[0].vignette_index], pass_index=k
        )
        passes.append([result.logit_a[0], result.logit_b[0]])
    assert_array_equal(passes, record["baseline_logits"]["mc_dropout:emulated"])
    assert len({tuple(p) for p in passes}) == 8  # the passes' masks differ


def test_gemma3_records_the_dropout_refusal_and_runs_the_rest(gemma_engine):
    runner = BaselineRunner(("b1", "steer:released", "mc_dropout:emulated"))
    prompts = panel_prompts(load_panel("USA"), "native")
    records: list[dict] = [{}]
    runner.add_to(records, gemma_engine, prompts, [prompts.vignette(pool()[0])])
    (record,) = records
    why = record["baseline_info"]["mc_dropout:emulated"]["refused"]
    assert "\n" not in why and why.startswith("MC-dropout emulation is not available for the "
                                               "gemma3 architecture")  # fmt: skip
    assert set(record["baseline_logits"]) == {"b1", "steer:released"}
    assert record["baseline_info"]["steer:released"]["layer"] == gemma_engine.n_layer // 2
    assert np.isfinite(record["baseline_logits"]["steer:released"]).all()
