"""The noise floor on SmolLM2-135M: a second kernel setting moves the logits, the same does not.

`disca eval multitp --noise-floor 1` on one country and one scenario (English prompts, so
the test stays short) must find nonzero differences under an f16 KV cache and without
flash attention, and the control (the run's own q8_0 settings, re-evaluated in another
process) exactly zero: the measurement is of the setting, not of run-to-run noise.
`disca ask --noise-floor` must report the logits an f16 engine gives alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from disca_edge.ask.inputs import make_input
from disca_edge.ask.run import answer
from disca_edge.content.personas import load_panel
from disca_edge.engine.options import EngineOptions, alternate_options
from disca_edge.evals import runlog
from disca_edge.evals.noise import read_noise
from disca_edge.maths.core import DiscaParams
from disca_edge.models.open import open_engine

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def env(user_env, smollm2_path):
    return user_env("noise_home")


def disca(environ, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from disca_edge.cli import main; main()", *args]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def run(env, smollm2_path, n_threads, tmp_path_factory):
    """USA, the first pool scenario, --noise-floor 1 (f16) in the same command."""
    out = tmp_path_factory.mktemp("noise") / "run"
    done = disca(env, "eval", "multitp", "--model", str(smollm2_path), "--country", "USA",
                 "--limit", "1", "--lang", "en", "--threads", str(n_threads), "--display", "none",
                 "--out", str(out), "--noise-floor", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, done


def copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in (runlog.RUN_FILE, runlog.SAMPLES_FILE):
        shutil.copy(src / name, dst / name)
    return dst


def test_f16_moves_the_logits_and_the_report_says_so(run):
    out, done = run
    (record,) = read_noise(out)
    assert record["setting"] == "f16" and record["engine"]["kv_type"] == "f16"
    assert record["engine"]["n_ubatch"] == 63  # the engine's micro-batch for an f16 cache
    (sample,) = runlog.read_samples(out)
    diff = np.subtract(record["logits"], sample["logits"])
    np.testing.assert_array_equal(record["diff"], diff)
    assert np.abs(diff).max() > 0 and record["max_abs_diff"] == np.abs(diff).max()
    results = json.loads((out / runlog.RESULTS_FILE).read_text())
    usa = results["noise"]["countries"]["USA"]
    assert usa["n"] == 1 and usa["floor_p95"] > 0 and usa["max_logit_diff"] == np.abs(diff).max()
    assert "noise p95" in done.stdout and "noise floor: the first 1 scenarios" in done.stdout


def test_the_runs_own_setting_gives_exactly_zero(run, env, n_threads, tmp_path):
    control = copy_run(run[0], tmp_path / "control")
    done = disca(env, "eval", "noise-floor", str(control), "-n", "1", "--setting", "same",
                 "--threads", str(n_threads), "--display", "none")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (record,) = read_noise(control)
    (sample,) = runlog.read_samples(control)
    assert record["engine"]["kv_type"] == "q8_0" and record["max_abs_diff"] == 0.0
    assert record["logits"] == sample["logits"]  # bit for bit, in another process


def test_attention_without_flash_attention_moves_the_logits(run, env, n_threads, tmp_path):
    other = copy_run(run[0], tmp_path / "no_flash")
    done = disca(env, "eval", "noise-floor", str(other), "-n", "1", "--setting",
                 "no-flash-attn", "--threads", str(n_threads), "--display", "none")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (record,) = read_noise(other)
    assert record["engine"]["flash_attn"] == 0 and record["engine"]["kv_type"] == "f16"
    assert record["max_abs_diff"] > 0


def test_ask_noise_floor_reports_what_an_f16_engine_gives_alone(env, smollm2_path, n_threads):
    done = disca(env, "ask", "--model", str(smollm2_path), "-c", "USA", "--lang", "en",
                 "--threads", str(n_threads), "--category", "age", "--json", "--noise-floor",
                 "a boy", "two elderly women")  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    check = data["noise"]
    assert check["setting"] == "f16" and check["engine"]["kv_type"] == "f16"
    assert data["engine"]["kv_type"] == "q8_0" and check["max_logit_diff"] > 0
    options = alternate_options(EngineOptions(model=str(smollm2_path), n_threads=n_threads), "f16")
    engine, info = open_engine(options)
    with engine:
        alone = answer(engine, info, load_panel("USA"),
                       make_input("a boy", "two elderly women", category="age"),
                       DiscaParams(), lang="en")  # fmt: skip
    assert check["logits"] == [[e.logit_a, e.logit_b] for e in alone.evaluations]
    assert check["delta_micro"] == alone.correction.delta_micro
