"""Executors on SmolLM2-135M: `--jobs 2` and `--executor ray` give the records of one job.

* ``--jobs 2``: a killed worker process is replaced and its chunk redone; Ctrl-C exits
  130 and leaves a run that resumes with one job.
* ``--executor ray`` on a local Ray instance (the driver sizes it to the jobs, here
  ``ray.init(num_cpus=2)``): it resumes a folder a local run started (resume across
  executors) and survives a killed actor. One Ray start only (CI time).

The CLI runs in subprocesses, as a user would run it; every run covers USA and JPN, the
first 2 pool scenarios, one thread per job.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from disca_edge.evals.runlog import read_header, read_samples

pytestmark = [pytest.mark.model, pytest.mark.slow]

# English prompts: these tests are about executors/rescoring, not language, and native
# JPN prompts cost ~3.5x the tokens (test_i18n_models and test_eval cover native runs).
SCOPE = ["--countries", "USA,JPN", "--limit", "2", "--chunk", "1", "--threads", "1", "--lang", "en"]
N_RECORDS = 4
ray_missing = importlib.util.find_spec("ray") is None
COMPARED = ("countries", "macro", "vs_vanilla", "ablations", "sequential")


@pytest.fixture(scope="module")
def env(user_env, smollm2_path):
    return user_env("jobs_home")


def command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from disca_edge.cli import main; main()", *args]


def eval_command(model: Path, out: Path, *extra: str) -> list[str]:
    return command("eval", "multitp", "--model", str(model), "--out", str(out), *SCOPE,
                   "--display", "none", *extra)  # fmt: skip


def run(env, model: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        eval_command(model, out, *extra), env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr
    return done


def by_key(out: Path) -> dict:
    return {(r["country"], r["scenario_id"]): r for r in read_samples(out)}


def assert_same_as(out: Path, reference: Path) -> None:
    """Every record identical (logits and every method), and the same results."""
    a, b = by_key(out), by_key(reference)
    assert sorted(a) == sorted(b) and len(a) == N_RECORDS
    for key in b:
        assert a[key] == b[key], key
    ra = json.loads((out / "results.json").read_text())
    rb = json.loads((reference / "results.json").read_text())
    for key in COMPARED:
        assert ra[key] == rb[key], key


@pytest.fixture(scope="module")
def single(env, smollm2_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "single"
    run(env, smollm2_path, out)
    return out


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of a process's children (Linux /proc)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            out.append((int(child), cmdline.decode(errors="replace")))
    return out


def workers(pid: int) -> list[int]:
    return [c for c, cmd in children(pid) if "spawn_main" in cmd and "resource_tracker" not in cmd]


def wait_for(predicate, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def n_lines(out: Path) -> int:
    path = out / "samples.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_two_jobs_with_a_killed_worker_equal_one_job(env, single, smollm2_path, tmp_path):
    out = tmp_path / "jobs2"
    proc = subprocess.Popen(eval_command(smollm2_path, out, "--jobs", "2"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for(lambda: n_lines(out) >= 1 or proc.poll() is not None)
        pids = workers(proc.pid)
        assert proc.poll() is None and len(pids) == 2, pids
        os.kill(pids[0], signal.SIGKILL)  # a worker dies mid-run: replaced, chunk requeued
        stdout, stderr = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert f"{N_RECORDS} new, {N_RECORDS} records" in stdout
    header = read_header(out)
    assert header["run_settings"]["jobs"] == 2 and header["run_settings"]["executor"] == "local"
    entry = header["invocations"][-1]
    assert entry["jobs"] == 2 and entry["executor"] == "process" and entry["status"] == "success"
    assert entry["worker_deaths"] == 1
    assert header["config"] == read_header(single)["config"]
    assert_same_as(out, single)


def test_ctrl_c_with_two_jobs_resumes_with_one(env, single, smollm2_path, tmp_path):
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(eval_command(smollm2_path, out, "--jobs", "2"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for(lambda: n_lines(out) >= 1 or proc.poll() is not None)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert read_header(out)["status"] == "cancelled"
    n_done = len(read_samples(out))
    assert 1 <= n_done < N_RECORDS or n_done == N_RECORDS  # a fast box may finish first
    done = run(env, smollm2_path, out)  # resume with one job (another layout)
    assert f"{N_RECORDS - n_done} new, {N_RECORDS} records" in done.stdout
    assert [e["status"] for e in read_header(out)["invocations"]] == ["cancelled", "success"]
    assert_same_as(out, single)


def ray_actors() -> list[int]:
    """Pids of live disca worker actors (Ray names their processes ray::_RayWorker…)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::_RayWorker"):
                pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
@pytest.mark.skipif(ray_missing, reason="Ray is not installed (pip install 'disca-edge[ray]')")
def test_ray_resumes_a_local_run_and_survives_a_killed_actor(env, single, smollm2_path, tmp_path):
    out = tmp_path / "ray"
    out.mkdir()
    (out / "run.json").write_bytes((single / "run.json").read_bytes())
    first = (single / "samples.jsonl").read_bytes().split(b"\n")[0] + b"\n"
    (out / "samples.jsonl").write_bytes(first)  # a local run got one record done
    extra = ["--executor", "ray", "--jobs", "2"]
    before = set(ray_actors())
    proc = subprocess.Popen(eval_command(smollm2_path, out, *extra), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for(lambda: len(read_samples(out)) >= 2 or proc.poll() is not None)
        actors = [p for p in ray_actors() if p not in before]
        assert proc.poll() is None and len(actors) == 2, actors
        os.kill(actors[0], signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert f"{N_RECORDS - 1} new, {N_RECORDS} records" in stdout
    header = read_header(out)
    entry = header["invocations"][-1]
    assert entry["executor"] == "ray" and entry["jobs"] == 2
    assert entry["worker_deaths"] == 1
    assert_same_as(out, single)
    assert not set(ray_actors()) - before  # the actors are gone with the run
    run(env, smollm2_path, out)  # and a local rerun finds nothing left to do


def test_prompt_variants_are_in_the_run_config(env, smollm2_path, tmp_path):
    out = tmp_path / "variant"
    variant = ["--fourth", "utilitarian", "--drop-dims", "religiosity", "--cap", "40",
               "--min-per-category", "36"]  # fmt: skip
    base = command("eval", "multitp", "--model", str(smollm2_path), "--out", str(out),
                   "--countries", "USA", "--limit", "1", "--threads", "1", "--display", "none")  # fmt: skip
    done = subprocess.run([*base, *variant], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    config = read_header(out)["config"]
    assert config["pool"] == {"cap": 40, "min_per_category": 36}
    assert config["personas"] == {
        "fourth": "utilitarian", "anchor_text": "fixed", "drop_dims": ["religiosity"]
    }  # fmt: skip
    assert config["pool_size"] == 36 + 40 + 40 + 40 + 40 + 36
    assert len(read_samples(out)) == 1
    # the default prompts are another config: refused, the folder untouched
    before = (out / "samples.jsonl").read_bytes()
    done = subprocess.run(base, env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "holds a run with a different config" in done.stderr
    assert 'personas.anchor_text: "fixed" -> null' in done.stderr  # the first 4 differences
    assert (out / "samples.jsonl").read_bytes() == before
