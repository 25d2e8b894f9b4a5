"""The run log: header, append-only records, torn-tail repair, resume rules, locking, merge."""

from __future__ import annotations

import json
import os

import pytest

from disca_edge.errors import DiscaError
from disca_edge.evals import runlog
from disca_edge.evals.runlog import (
    RESULTS_FILE,
    RUN_FILE,
    SAMPLES_FILE,
    RunLog,
    RunLogError,
    config_differences,
    fingerprint,
    merge_runs,
    read_header,
    read_samples,
    repair_samples,
)
from disca_edge.maths import categories


def header(seed: int = 42, panels: dict | None = None, shard: str | None = None, **scope) -> dict:
    return {
        "config": {
            "model": {"name": "m", "sha256": "abc"},
            "is_seed": seed,
            "panels": panels if panels is not None else {"USA": "p1", "JPN": "p2"},
        },
        "scope": {"countries": ["USA", "JPN"], "limit": 4, "shard": shard, **scope},
        "model": {"name": "m", "path": "/x/m.gguf"},
    }


def rec(country: str, i: int, value: float = 0.5) -> dict:
    return {"country": country, "scenario_id": f"mtp-{i:03d}", "pool_position": i, "v": value}


def test_new_run_header_and_append(tmp_path):
    with RunLog.open(tmp_path / "r", header(), invocation={"argv": ["x"]}) as run:
        assert run.keys == set()
        assert run.append([rec("USA", 0), rec("USA", 1)]) == 2
        assert run.append([rec("USA", 1), rec("JPN", 0)]) == 1  # duplicate key skipped
        on_disk = read_header(tmp_path / "r")
        assert on_disk["status"] == "started" and on_disk["format"] == runlog.FORMAT
        assert on_disk["fingerprint"] == fingerprint(header()["config"])
        run.finish("success")
    h = read_header(tmp_path / "r")
    assert h["status"] == "success" and h["finished"] >= h["created"]
    entry = h["invocations"][-1]
    assert entry["argv"] == ["x"] and entry["records_added"] == 3 and entry["status"] == "success"
    assert [r["scenario_id"] for r in read_samples(tmp_path / "r")] == [
        "mtp-000",
        "mtp-001",
        "mtp-000",
    ]
    lines = (tmp_path / "r" / SAMPLES_FILE).read_bytes().splitlines(keepends=True)
    assert len(lines) == 3 and all(line.endswith(b"\n") for line in lines)


def test_resume_skips_and_keeps_history(tmp_path):
    with RunLog.open(tmp_path, header()) as run:
        run.append([rec("USA", 0)])
        run.finish("cancelled")
    with RunLog.open(tmp_path, header(limit=8)) as run:  # scope may change
        assert run.keys == {("USA", "mtp-000")}
        assert run.append([rec("USA", 0), rec("USA", 1)]) == 1
        run.finish("success")
    h = read_header(tmp_path)
    assert [e["status"] for e in h["invocations"]] == ["cancelled", "success"]
    assert h["invocations"][1]["records_before"] == 1 and h["scope"]["limit"] == 8
    assert len(read_samples(tmp_path)) == 2


def test_torn_last_line_is_dropped(tmp_path):
    with RunLog.open(tmp_path, header()) as run:
        run.append([rec("USA", 0), rec("USA", 1)])
    path = tmp_path / SAMPLES_FILE
    intact = path.read_bytes()
    with path.open("ab") as handle:  # what kill -9 in the middle of a write leaves
        handle.write(b'{"country":"USA","scenario_id":"mtp-0')
    assert len(read_samples(tmp_path)) == 2  # readers ignore it without touching the file
    assert path.read_bytes() != intact
    with RunLog.open(tmp_path, header()) as run:  # the first writer died without a status
        assert path.read_bytes() == intact  # truncated back to the last newline
        assert run.keys == {("USA", "mtp-000"), ("USA", "mtp-001")}
        run.append([rec("USA", 2)])
    assert [r["scenario_id"] for r in read_samples(tmp_path)] == ["mtp-000", "mtp-001", "mtp-002"]
    h = read_header(tmp_path)
    assert h["invocations"][-1]["torn_bytes_dropped"] == 37
    assert h["invocations"][0]["status"] == "error" and "killed" in h["invocations"][0]["error"]


def test_repair_edge_cases(tmp_path):
    path = tmp_path / "s.jsonl"
    assert repair_samples(path) == 0
    path.write_bytes(b"no newline at all")
    assert repair_samples(path) == 17 and path.read_bytes() == b""
    big = b'{"a":1}\n' * 20000 + b"x" * 70000  # torn tail longer than one scan block
    path.write_bytes(big)
    assert repair_samples(path) == 70000 and path.read_bytes() == b'{"a":1}\n' * 20000


def test_corrupt_line_is_an_error(tmp_path):
    (tmp_path / SAMPLES_FILE).write_text('{"country":"USA","scenario_id":"a"}\nnot json\n')
    with pytest.raises(RunLogError, match=r"samples.jsonl:2"):
        read_samples(tmp_path)


def test_changed_config_is_refused_unless_force(tmp_path):
    with RunLog.open(tmp_path, header()) as run:
        run.append([rec("USA", 0)])
        run.finish("success")
    with pytest.raises(RunLogError, match=r"different config \(is_seed: 42 -> 7\).*--force"):
        RunLog.open(tmp_path, header(seed=7))
    with pytest.raises(RunLogError, match=r"panels.USA: \"p1\" -> \"changed\""):
        RunLog.open(tmp_path, header(panels={"USA": "changed"}))
    # a new country's panel is fine (the open mapping grows)
    with RunLog.open(tmp_path, header(panels={"USA": "p1", "DEU": "p3"})) as run:
        assert run.header["config"]["panels"] == {"USA": "p1", "JPN": "p2", "DEU": "p3"}
    with RunLog.open(tmp_path, header(seed=7), force=True) as run:
        assert run.keys == set()
    old = [p for p in tmp_path.iterdir() if p.name.startswith("superseded-")]
    assert len(old) == 1 and (old[0] / SAMPLES_FILE).is_file() and (old[0] / RUN_FILE).is_file()
    assert read_header(tmp_path)["config"]["is_seed"] == 7


def test_samples_without_header_are_refused(tmp_path):
    (tmp_path / SAMPLES_FILE).write_text(json.dumps(rec("USA", 0)) + "\n")
    with pytest.raises(RunLogError, match="no run.json"):
        RunLog.open(tmp_path, header())


def test_lock_keeps_a_second_writer_out(tmp_path):
    with RunLog.open(tmp_path, header()), pytest.raises(RunLogError, match="another disca"):
        RunLog.open(tmp_path, header())
    with RunLog.open(tmp_path, header()):  # released on close
        pass


def test_fingerprint_and_differences():
    a = header()["config"]
    b = json.loads(json.dumps(a))
    b["panels"]["DEU"] = "p3"
    assert fingerprint(a) == fingerprint(b)  # panels are compared per country instead
    assert config_differences(a, b) == []
    b["model"]["sha256"] = "def"
    assert config_differences(a, b) == ['model.sha256: "abc" -> "def"']
    assert fingerprint(a) != fingerprint(b)


def test_results_are_written_atomically(tmp_path):
    assert runlog.read_results(tmp_path) is None
    runlog.write_results(tmp_path, {"x": [1, 2]})
    assert runlog.read_results(tmp_path) == {"x": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == [RESULTS_FILE]  # no temp file left
    with pytest.raises(ValueError):
        runlog.write_results(tmp_path, {"x": float("nan")})  # strict JSON only


def make_shards(tmp_path):
    for i, rows in enumerate(([rec("USA", 0), rec("JPN", 0)], [rec("JPN", 1), rec("USA", 1)])):
        with RunLog.open(tmp_path / f"s{i}", header(shard=f"{i}/2")) as run:
            run.append(rows)
            run.finish("success")
    return [tmp_path / "s0", tmp_path / "s1"]


def test_merge(tmp_path):
    sources = make_shards(tmp_path)
    merged, records = merge_runs(sources, tmp_path / "m", order={"USA": 0, "JPN": 1})
    assert [(r["country"], r["pool_position"]) for r in records] == [
        ("USA", 0), ("USA", 1), ("JPN", 0), ("JPN", 1)
    ]  # fmt: skip
    h = read_header(tmp_path / "m")
    assert h["status"] == "success" and h["scope"]["shard"] is None
    assert [m["shard"] for m in h["merged_from"]] == ["0/2", "1/2"]
    assert read_samples(tmp_path / "m") == records
    with pytest.raises(RunLogError, match="already holds a run"):
        merge_runs(sources, tmp_path / "m")
    merge_runs(sources, tmp_path / "m", force=True)
    with pytest.raises(RunLogError, match="new directory"):
        merge_runs(sources, sources[0])


def test_merge_refuses_mismatches(tmp_path):
    sources = make_shards(tmp_path)
    with RunLog.open(tmp_path / "other", header(seed=1)) as run:
        run.append([rec("USA", 2)])
    with pytest.raises(RunLogError, match="configs differ"):
        merge_runs([sources[0], tmp_path / "other"], tmp_path / "m")
    with RunLog.open(tmp_path / "wide", header(limit=9)) as run:
        run.append([rec("USA", 2)])
    with pytest.raises(RunLogError, match="different scopes"):
        merge_runs([sources[0], tmp_path / "wide"], tmp_path / "m")
    with RunLog.open(tmp_path / "clash", header(shard="1/2")) as run:
        run.append([rec("USA", 0, value=0.9)])
    with pytest.raises(RunLogError, match="USA/mtp-000 differs"):
        merge_runs([sources[0], tmp_path / "clash"], tmp_path / "m")
    with pytest.raises(RunLogError, match="at least one"):
        merge_runs([], tmp_path / "m")
    assert not os.path.exists(tmp_path / "m" / SAMPLES_FILE)


# --------------------------------------------------------------------------- run_eval resume


class ScriptedEngine:
    """Stands in for `engine.Engine` at the `logits_ab` boundary: logits from a text hash.

    ``fail_on`` (call number, exception or signal) makes one call interrupt the run.
    """

    def __init__(self, fail_on=None):
        from disca_edge.engine import EngineStats

        self.stats = EngineStats()
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def clear(self):
        pass

    def logits_ab(self, prompts):
        import hashlib

        import numpy as np

        from disca_edge.engine import LogitsAB

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
    import numpy as np
    import pandas as pd

    from disca_edge.content import human_targets as data

    frame = pd.DataFrame(
        np.full((2, 6), 0.7), index=["JPN", "USA"], columns=list(categories.DIMENSIONS)
    )
    monkeypatch.setattr(data, "load_human_targets", lambda path=None: frame.copy())


def eval_config(out, **kw):
    from disca_edge.evals.loop import EvalConfig

    return EvalConfig(out=out, countries=("USA", "JPN"), limit=5, chunk=2, **kw)


INFO = {"name": "fake", "path": "/x.gguf", "sha256": "0" * 64, "settings": {"n_threads": 1}}


def test_run_eval_resumes_after_an_interrupt(tmp_path, fake_targets):
    import signal as sig

    from disca_edge.evals.loop import run_eval

    reference = run_eval(eval_config(tmp_path / "ref"), engine=ScriptedEngine(), model_info=INFO)
    assert reference.status == "success" and reference.n_new == 10
    for fail in ((3, KeyboardInterrupt()), (2, sig.SIGTERM)):
        out = tmp_path / f"run{fail[0]}"
        with pytest.raises(KeyboardInterrupt):
            run_eval(eval_config(out), engine=ScriptedEngine(fail), model_info=INFO)
        header = read_header(out)
        assert header["status"] == "cancelled"
        done = (fail[0] - 1) * 2  # whole chunks before the interrupted call
        assert len(read_samples(out)) == done
        assert runlog.read_results(out)["coverage"]["present"] == done
        engine = ScriptedEngine()
        again = run_eval(eval_config(out), engine=engine, model_info=INFO)
        assert (again.n_new, again.n_present, again.status) == (10 - done, 10, "success")
        assert sum(len(c) for c in engine.calls) == (10 - done) * 10  # only the missing work
        assert read_samples(out) == read_samples(tmp_path / "ref")
        a, b = runlog.read_results(out), runlog.read_results(tmp_path / "ref")
        assert a["countries"] == b["countries"] and a["macro"] == b["macro"]
        assert [e["status"] for e in read_header(out)["invocations"]] == ["cancelled", "success"]
    assert sig.getsignal(sig.SIGTERM) is sig.SIG_DFL  # the handler is restored


def test_run_eval_records_errors(tmp_path, fake_targets):
    from disca_edge.evals.loop import run_eval

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
