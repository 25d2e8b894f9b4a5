"""The run log: header, append-only records, torn-tail repair, resume rules, locking."""

from __future__ import annotations

import json

import pytest

from disca_edge.evals import runlog
from disca_edge.evals.runlog import (
    RESULTS_FILE,
    RUN_FILE,
    SAMPLES_FILE,
    RunLog,
    RunLogError,
    config_differences,
    fingerprint,
    read_header,
    read_samples,
    repair_samples,
)


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


def test_a_full_disk_cuts_the_failed_append_back_off(tmp_path):
    """ENOSPC half-way through a chunk: one line naming the file, nothing of the chunk kept."""
    import errno
    import os

    from disca_edge.paths import PlaceError

    with RunLog.open(tmp_path / "r", header()) as run:
        run.append([rec("USA", 0)])
        before = (tmp_path / "r" / SAMPLES_FILE).read_bytes()
        real_write = os.write

        def half_then_full(fd, data):
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        with pytest.MonkeyPatch.context() as patch, pytest.raises(PlaceError) as full:
            patch.setattr(os, "write", half_then_full)
            run.append([rec("USA", 1), rec("JPN", 0)])
        assert (
            str(full.value) == f"{tmp_path}/r/{SAMPLES_FILE}: cannot write there: the disk is full"
        )
        assert (tmp_path / "r" / SAMPLES_FILE).read_bytes() == before
        assert run.keys == {("USA", "mtp-000")}
        assert run.append([rec("USA", 1)]) == 1  # the disk has room again: appending goes on
    assert [r["scenario_id"] for r in read_samples(tmp_path / "r")] == ["mtp-000", "mtp-001"]


def test_being_written_tells_a_locked_run_from_a_finished_one(tmp_path):
    assert not runlog.being_written(tmp_path / "nothing")
    with RunLog.open(tmp_path / "r", header()):
        assert runlog.being_written(tmp_path / "r")
    assert not runlog.being_written(tmp_path / "r")
    assert read_header(tmp_path / "r")["status"] == "started"  # ended without a status


def test_read_samples_names_the_record_its_check_refuses(tmp_path):
    with RunLog.open(tmp_path / "r", header()) as run:
        run.append([rec("USA", 0), rec("USA", 1, value=-1)])
    assert len(read_samples(tmp_path / "r")) == 2  # no check: records are only parsed

    def positive(record):
        return None if record["v"] >= 0 else f"field 'v' is {record['v']}, below 0"

    with pytest.raises(RunLogError) as refused:
        read_samples(tmp_path / "r", check=positive)
    assert str(refused.value) == (
        f"{tmp_path}/r/{SAMPLES_FILE}:2 (USA/mtp-001): field 'v' is -1, below 0"
    )
