"""The MultiTP run loop (`evals.loop`): option parsing, the header, and `run_eval` with a
scripted engine (logits from a text hash, no model): resume, interrupts, errors."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal

import numpy as np
import pandas as pd
import pytest
from test_report import MODEL_INFO

from disca_edge.content import human_targets as data
from disca_edge.content.personas import load_panel
from disca_edge.engine import EngineStats, LogitsAB
from disca_edge.errors import DiscaError
from disca_edge.evals import runlog
from disca_edge.evals.loop import LOGIT_SETTINGS, EvalConfig, build_header, parse_params, run_eval
from disca_edge.evals.results import Results
from disca_edge.evals.runlog import read_header, read_samples
from disca_edge.evals.scoring import read_run_results
from disca_edge.maths import categories
from disca_edge.maths.methods import method_suite

# --------------------------------------------------------------------------- pure parts


def test_parse_params():
    assert parse_params(["eta=0.4", "use_gate=false", "t_dec=0.5"]) == {
        "eta": 0.4, "use_gate": False, "t_dec": 0.5
    }  # fmt: skip
    assert parse_params([]) == {}
    with pytest.raises(DiscaError, match="--param must be NAME=VALUE"):
        parse_params(["eta"])
    with pytest.raises(DiscaError, match="unknown DISCA parameter 'nope'"):
        parse_params(["nope=1"])


def test_header_config_holds_what_decides_a_record():
    cfg = EvalConfig(out=None, countries=("USA", "JPN"), limit=5, shard=(1, 3), seed=7, jobs=2)
    panels = {iso: load_panel(iso) for iso in cfg.countries}
    header = build_header(cfg, MODEL_INFO, method_suite("paper"), panels, 310)
    config = header["config"]
    assert config["is_seed"] == 7 and config["pool_size"] == 310
    assert config["model"] == {"name": "fake-model", "sha256": "f" * 64}
    assert set(config["engine"]) == set(LOGIT_SETTINGS)  # n_threads only changes speed
    assert config["panels"] == {iso: p.sha256() for iso, p in panels.items()}
    assert header["scope"] == {"countries": ["USA", "JPN"], "limit": 5, "shard": "1/3"}
    assert header["run_settings"] == {"chunk": 4, "n_threads": 2, "jobs": 2, "executor": "local"}
    assert header["panels"]["USA"]["provenance_statement"].startswith("personas:")
    # the scope and the run settings are outside the fingerprinted config
    other = build_header(
        EvalConfig(out=None, countries=("USA",), seed=7, jobs=1), MODEL_INFO,
        method_suite("paper"), {"USA": panels["USA"]}, 310,
    )  # fmt: skip
    assert runlog.config_differences(config, other["config"]) == []
    assert runlog.fingerprint(config) == runlog.fingerprint(other["config"])


# --------------------------------------------------------------------------- run_eval


class ScriptedEngine:
    """Stands in for `engine.Engine` at the `logits_ab` boundary: logits from a text hash.

    ``fail_on`` (call number, exception or signal) makes one call interrupt the run.
    """

    def __init__(self, fail_on=None):
        self.stats = EngineStats()
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def clear(self):
        pass

    def logits_ab(self, prompts):
        self.calls.append([p.user for p in prompts])
        if self.fail_on and len(self.calls) == self.fail_on[0]:
            what = self.fail_on[1]
            if isinstance(what, int):
                os.kill(os.getpid(), what)
            else:
                raise what
        seeds = [
            int(hashlib.sha256((p.system + p.user).encode()).hexdigest()[:8], 16) for p in prompts
        ]
        a = np.array([20 + (s % 1000) / 300 for s in seeds])
        b = np.array([20 + (s // 1000 % 1000) / 300 for s in seeds])
        n = len(prompts)
        ids = np.full(n, 49), np.full(n, 50)
        self.stats.prompts += n
        return LogitsAB(a, b, ids[0], ids[1], [p.system + p.user for p in prompts], np.full(n, 9))


@pytest.fixture
def fake_targets(monkeypatch):
    frame = pd.DataFrame(
        np.full((2, 6), 0.7), index=["JPN", "USA"], columns=list(categories.DIMENSIONS)
    )
    monkeypatch.setattr(data, "load_human_targets", lambda path=None: frame.copy())


def eval_config(out, **kw):
    return EvalConfig(out=out, countries=("USA", "JPN"), limit=5, chunk=2, **kw)


INFO = {"name": "fake", "path": "/x.gguf", "sha256": "0" * 64, "settings": {"n_threads": 1}}


def test_run_eval_resumes_after_an_interrupt(tmp_path, fake_targets):
    reference = run_eval(eval_config(tmp_path / "ref"), engine=ScriptedEngine(), model_info=INFO)
    assert reference.status == "success" and reference.n_new == 10
    assert isinstance(reference.results, Results) and reference.results.coverage.complete
    assert read_run_results(tmp_path / "ref") == reference.results  # as written
    for fail in ((5, KeyboardInterrupt()), (4, signal.SIGTERM)):  # engine calls: one a scenario
        out = tmp_path / f"run{fail[0]}"
        with pytest.raises(KeyboardInterrupt):
            run_eval(eval_config(out), engine=ScriptedEngine(fail), model_info=INFO)
        header = read_header(out)
        assert header["status"] == "cancelled"
        done = (fail[0] - 1) // 2 * 2  # whole chunks (of 2) before the interrupted call
        assert len(read_samples(out)) == done
        partial = Results.from_dict(runlog.read_results(out))  # written on the way out
        assert partial.coverage.present == done and not partial.coverage.complete
        engine = ScriptedEngine()
        again = run_eval(eval_config(out), engine=engine, model_info=INFO)
        assert (again.n_new, again.n_present, again.status) == (10 - done, 10, "success")
        assert sum(len(c) for c in engine.calls) == (10 - done) * 10  # only the missing work
        assert read_samples(out) == read_samples(tmp_path / "ref")
        assert again.results is not None
        assert again.results.countries == reference.results.countries
        assert again.results.macro == reference.results.macro
        assert [e["status"] for e in read_header(out)["invocations"]] == ["cancelled", "success"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is restored


def test_run_eval_records_errors(tmp_path, fake_targets):
    with pytest.raises(RuntimeError, match="boom"):
        run_eval(eval_config(tmp_path), engine=ScriptedEngine((2, RuntimeError("boom"))),
                 model_info=INFO)  # fmt: skip
    header = read_header(tmp_path)
    assert header["status"] == "error"
    assert header["invocations"][-1]["error"] == "RuntimeError: boom"
    with pytest.raises(ValueError, match="model_info"):
        run_eval(eval_config(tmp_path), engine=ScriptedEngine())
    with pytest.raises(DiscaError, match="different config"):
        run_eval(eval_config(tmp_path, seed=1), engine=ScriptedEngine(), model_info=INFO)


def test_a_full_disk_stops_the_run_with_one_line_and_keeps_the_records(tmp_path, fake_targets):
    """The disk fills at the third chunk: records, run.json and results.json all fail."""
    import errno

    from disca_edge.paths import PlaceError

    real_write, real_fdopen, full = os.write, os.fdopen, []

    class Full:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write(fd, data):
        if full or len(read_samples(tmp_path)) == 4:
            full.append(True)
            real_write(fd, bytes(data)[:100])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(PlaceError) as stopped:
        patch.setattr(os, "write", write)
        patch.setattr(os, "fdopen", lambda fd, *a: Full(real_fdopen(fd, *a)) if full
                      else real_fdopen(fd, *a))  # fmt: skip
        run_eval(eval_config(tmp_path), engine=ScriptedEngine(), model_info=INFO)
    assert str(stopped.value) == (
        f"{tmp_path}/samples.jsonl: cannot write there: the disk is full; the 4 records "
        "written before it are kept: free space and run the same command again to resume"
    )
    assert len(read_samples(tmp_path)) == 4
    assert (tmp_path / "samples.jsonl").read_bytes().endswith(b"\n")
    assert read_header(tmp_path)["status"] == "started"  # the disk refused the error status
    again = run_eval(eval_config(tmp_path), engine=ScriptedEngine(), model_info=INFO)
    assert (again.n_new, again.status) == (6, "success")  # resume after freeing space
    assert read_header(tmp_path)["invocations"][0]["status"] == "error"


def test_jobs_beyond_the_work_left_are_not_started(tmp_path, fake_targets, caplog):
    """--jobs 64 for one chunk: one worker (here the loaded engine) and a warning."""
    cfg = EvalConfig(out=tmp_path, countries=("USA",), limit=2, chunk=4, jobs=64)
    outcome = run_eval(cfg, engine=ScriptedEngine(), model_info=INFO)
    assert outcome.status == "success" and outcome.n_new == 2
    assert read_header(tmp_path)["invocations"][-1]["jobs"] == 1
    assert "--jobs 64 but only 1 work item(s)" in caplog.text


class RecordingProgress:
    def __init__(self):
        self.calls = []

    def start(self, total, done=0):
        self.calls.append(("start", total, done))

    def stage(self, label, total, done):
        self.calls.append(("stage", label, total, done))

    def update(self, n):
        self.calls.append(("update", n))

    def close(self):
        self.calls.append(("close",))


def test_the_display_moves_per_scenario_not_per_chunk(tmp_path, fake_targets):
    """One chunk of 3: the bar used to sit at 0/3 until the end."""
    cfg = EvalConfig(out=tmp_path, countries=("USA",), limit=3, chunk=4)
    shown = RecordingProgress()
    run_eval(cfg, engine=ScriptedEngine(), model_info=INFO, progress=shown)
    assert shown.calls == [("start", 3, 0), ("stage", "USA", 3, 0), ("update", 1),
                           ("update", 1), ("update", 1), ("update", 0), ("close",)]  # fmt: skip
    resumed = RecordingProgress()  # 2 more: the display starts at 3 of 5
    run_eval(dataclasses.replace(cfg, limit=5), engine=ScriptedEngine(), model_info=INFO,
             progress=resumed)  # fmt: skip
    assert resumed.calls[:2] == [("start", 5, 3), ("stage", "USA", 5, 3)]
    assert sum(call[1] for call in resumed.calls if call[0] == "update") == 2
