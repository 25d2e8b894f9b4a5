"""`disca eval multitp` end to end on SmolLM2-135M: results, resume after SIGINT and SIGKILL,
config clashes, shards + merge == one run, and `disca report` on the outcome.

Every run covers the same scope (USA and JPN, the first 2 pool scenarios) so that each
interrupted, resumed or sharded run can be compared with one uninterrupted run. The CLI
runs in subprocesses, as a user would run it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from disca_edge.evals.runlog import read_header, read_samples

pytestmark = [pytest.mark.model, pytest.mark.slow]

# one thread: predictable on a shared 2-core machine (two spinning thread pools collide)
# English prompts: the native default is covered by its own one-scenario run below
SCOPE = ["--countries", "USA,JPN", "--limit", "2", "--chunk", "1", "--threads", "2", "--lang", "en"]
N_RECORDS = 4
COMPARED = ("countries", "macro", "vs_vanilla", "ablations", "sequential")


@pytest.fixture(scope="module")
def env(user_env, smollm2_path):
    return user_env("eval_home")


def command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from disca_edge.cli import main; main()", *args]


def disca(environ, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*args), env=environ, capture_output=True, text=True, timeout=timeout
    )


def eval_args(model: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "multitp", "--model", str(model), "--out", str(out), *SCOPE, *extra]


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def logits(out: Path) -> dict:
    return {(r["country"], r["scenario_id"]): r["logits"] for r in read_samples(out)}


@pytest.fixture(scope="module")
def single(env, smollm2_path, tmp_path_factory):
    """One uninterrupted run: the reference for every other test."""
    out = tmp_path_factory.mktemp("runs") / "single"
    done = disca(env, *eval_args(smollm2_path, out, "--display", "none"))
    assert done.returncode == 0, done.stderr
    return out, done


def test_single_run_outputs(single, smollm2_path):
    out, done = single
    assert "MultiTP MIS per country" in done.stdout and "4 new, 4 records" in done.stdout
    header = read_header(out)
    assert header["status"] == "success" and header["finished"] >= header["created"]
    assert header["model"]["sha256"] == header["config"]["model"]["sha256"]
    assert header["model"]["path"] == str(smollm2_path)
    assert header["config"]["is_seed"] == 42 and header["config"]["variant"] == "paper"
    assert set(header["panels"]) == {"USA", "JPN"}
    assert header["panels"]["USA"]["provenance"] == "authored-estimate"
    assert header["versions"]["llama_cpp_python"] and header["machine"]["cpu_count"]
    records = read_samples(out)
    keys = [(r["country"], r["pool_position"]) for r in records]
    assert keys == [("USA", 0), ("USA", 1), ("JPN", 0), ("JPN", 1)]
    first = records[0]
    assert len(first["prompt_sha256"]) == 10 and len(first["logits"]) == 2
    assert first["token_ids"][0][0] == first["token_ids"][1][4]  # one A/B pair per model
    res = results(out)
    assert res["coverage"]["complete"] and res["coverage"]["present"] == N_RECORDS
    usa = res["countries"]["USA"]["methods"]
    assert set(usa) >= {"vanilla_raw", "vanilla_lfl", "disca_paper", "disca_reference",
                        "no_personas", "no_is", "always_on", "no_debias"}  # fmt: skip
    assert 0 < usa["disca_paper"]["mis"] < 2.45


def test_rerun_is_a_no_op(env, single, smollm2_path):
    out, _ = single
    before = (out / "samples.jsonl").read_bytes()
    done = disca(env, *eval_args(smollm2_path, out, "--display", "none"))
    assert done.returncode == 0, done.stderr
    assert "0 new, 4 records" in done.stdout
    assert (out / "samples.jsonl").read_bytes() == before
    header = read_header(out)
    assert [e["status"] for e in header["invocations"]][-2:] == ["success", "success"]


def test_changed_config_is_refused(env, single, smollm2_path):
    out, _ = single
    before = (out / "run.json").read_bytes()
    done = disca(env, *eval_args(smollm2_path, out, "--seed", "7"))
    assert done.returncode == 1
    assert "different config (is_seed: 42 -> 7)" in done.stderr and "--force" in done.stderr
    assert "Traceback" not in done.stderr
    assert (out / "run.json").read_bytes() == before


def test_native_is_the_default_recorded_and_part_of_the_fingerprint(env, smollm2_path, tmp_path):
    """The paper's protocol (each country in its own language) is the default; a German
    run records its languages in run.json, every sample and results.json, and an English
    rerun into the same folder is refused, never resumed."""
    out = tmp_path / "native"
    args = ["eval", "multitp", "--model", str(smollm2_path), "--out", str(out),
            "--countries", "DEU", "--limit", "1", "--threads", "2"]  # fmt: skip
    done = disca(env, *args, "--display", "none")
    assert done.returncode == 0, done.stderr
    header = read_header(out)
    assert header["config"]["lang"] == header["lang"] == "native"
    deu = header["config"]["languages"]["DEU"]
    assert (deu["persona_language"], deu["frame_language"]) == ("de", "de")
    assert len(deu["systems_sha256"]) == 64
    (record,) = read_samples(out)
    assert record["lang"]["frame_language"] == "de"
    assert results(out)["run"]["lang"] == "native"
    assert results(out)["countries"]["DEU"]["language"]["persona_language"] == "de"
    before = (out / "run.json").read_bytes()
    again = disca(env, *args, "--lang", "en")
    assert again.returncode == 1
    assert "different config" in again.stderr and 'lang: "native" -> "en"' in again.stderr
    assert (out / "run.json").read_bytes() == before


def test_report_on_the_run(env, single):
    out, _ = single
    done = disca(env, "report", str(out))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "vanilla read-out vanilla_raw" in text and "Ablations of DISCA (paper)" in text
    assert "personas: authored estimates from published country aggregates" in text
    done = disca(env, "report", str(out), "--country", "JPN", "--format", "json")
    table = json.loads(done.stdout)["tables"][0]
    assert table["name"] == "dimensions" and len(table["rows"]) == 6


def interrupted_run(env, model: Path, out: Path, sig: int) -> subprocess.Popen:
    """Start a run and send `sig` once at least one record is on disk."""
    proc = subprocess.Popen(
        command(*eval_args(model, out, "--display", "none")),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if samples.is_file() and samples.read_bytes().count(b"\n") >= 1:
            break
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    return proc


def assert_same_as_single(out: Path, single_out: Path) -> None:
    records = read_samples(out)
    keys = [(r["country"], r["scenario_id"]) for r in records]
    assert len(keys) == len(set(keys)) == N_RECORDS  # no duplicates, no gaps
    assert logits(out) == logits(single_out)
    a, b = results(out), results(single_out)
    for key in COMPARED:
        assert a[key] == b[key], key
    assert read_header(out)["status"] == "success"


def test_resume_after_ctrl_c(env, single, smollm2_path, tmp_path):
    out = tmp_path / "run"
    proc = interrupted_run(env, smollm2_path, out, signal.SIGINT)
    stderr = proc.stderr.read()
    assert proc.returncode == 130, stderr
    assert "rerun" in stderr.lower() or "run the same command again" in stderr.lower()
    header = read_header(out)
    assert header["status"] == "cancelled"
    partial = results(out)  # partial results are written on the way out
    assert not partial["coverage"]["complete"] and partial["coverage"]["present"] >= 1
    n_done = len(read_samples(out))
    assert 1 <= n_done < N_RECORDS
    done = disca(env, *eval_args(smollm2_path, out, "--display", "none"))
    assert done.returncode == 0, done.stderr
    assert f"{N_RECORDS - n_done} new, {N_RECORDS} records" in done.stdout
    assert [e["status"] for e in read_header(out)["invocations"]] == ["cancelled", "success"]
    assert_same_as_single(out, single[0])


def test_resume_after_kill_9(env, single, smollm2_path, tmp_path):
    out = tmp_path / "run"
    proc = interrupted_run(env, smollm2_path, out, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert read_header(out)["status"] == "started"  # nobody could record the end
    samples = out / "samples.jsonl"
    n_done = samples.read_bytes().count(b"\n")
    # a kill in the middle of a write leaves a torn last line; make sure there is one
    whole = samples.read_bytes()
    with samples.open("ab") as handle:
        handle.write(whole[: len(whole) // (2 * n_done)])
    done = disca(env, *eval_args(smollm2_path, out, "--display", "none"))
    assert done.returncode == 0, done.stderr
    assert f"{N_RECORDS - n_done} new, {N_RECORDS} records" in done.stdout
    first, entry = read_header(out)["invocations"]
    assert first["status"] == "error" and "killed" in first["error"]
    assert entry["torn_bytes_dropped"] > 0 and entry["records_before"] == n_done
    assert_same_as_single(out, single[0])


def test_shards_merge_to_the_single_run(env, single, smollm2_path, tmp_path):
    for i in range(2):
        done = disca(
            env,
            *eval_args(smollm2_path, tmp_path / f"s{i}", "--shard", f"{i}/2", "--display", "none"),
        )
        assert done.returncode == 0, done.stderr
        part = results(tmp_path / f"s{i}")
        assert part["coverage"]["shard"] == f"{i}/2" and part["coverage"]["present"] == 2
    done = disca(env, "eval", "merge", str(tmp_path / "s0"), str(tmp_path / "s1"),
                 "--out", str(tmp_path / "merged"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "4 of 4 scenarios" in done.stdout
    merged = tmp_path / "merged"
    assert [(r["country"], r["pool_position"]) for r in read_samples(merged)] == [
        ("USA", 0), ("USA", 1), ("JPN", 0), ("JPN", 1)
    ]  # fmt: skip
    assert_same_as_single(merged, single[0])
    assert [m["shard"] for m in read_header(merged)["merged_from"]] == ["0/2", "1/2"]
