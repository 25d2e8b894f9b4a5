"""Merging shard runs (`evals.merge`): records joined in order, mismatches refused, results."""

from __future__ import annotations

import os

import pytest
from test_report import human_targets, make_run
from test_runlog import header, rec

from disca_edge.evals.merge import merge_runs, merge_shards
from disca_edge.evals.results import Results
from disca_edge.evals.runlog import SAMPLES_FILE, RunLog, RunLogError, read_header, read_samples
from disca_edge.evals.scoring import read_run_results, score_run


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


def test_merge_shards_scores_and_writes_the_merged_run(tmp_path, monkeypatch):
    targets = human_targets(("USA", "JPN"))
    monkeypatch.setattr(
        "disca_edge.content.human_targets.load_human_targets", lambda path=None: targets
    )
    whole_header, whole = make_run(countries=("USA", "JPN"), n=8)
    for i in range(2):  # the whole run's records, split as two shards would have made them
        shard_header, _ = make_run(countries=("USA", "JPN"), n=8, shard=(i, 2))
        with RunLog.open(tmp_path / f"s{i}", shard_header) as run:
            run.append([r for r in whole if r["pool_position"] % 2 == i])
            run.finish("success")
    merged = merge_shards([tmp_path / "s1", tmp_path / "s0"], tmp_path / "m")
    assert isinstance(merged, Results)
    assert merged.coverage.complete and merged.coverage.present == 16
    assert merged.run.shard is None and list(merged.countries) == ["USA", "JPN"]
    # the records of the two shards are those of the whole run, so are the scores
    expected = score_run(whole_header, whole, targets=targets)
    for key in ("countries", "macro", "vs_vanilla", "ablations", "sequential"):
        assert getattr(merged, key) == getattr(expected, key), key
    assert read_run_results(tmp_path / "m") == merged  # results.json was written
    assert [r["country"] for r in read_samples(tmp_path / "m")] == ["USA"] * 8 + ["JPN"] * 8
    with pytest.raises(RunLogError, match="at least one"):
        merge_shards([], tmp_path / "m2")


def test_merge_refuses_a_run_still_being_written(tmp_path, caplog):
    sources = make_shards(tmp_path)
    with RunLog.open(tmp_path / "s2", header(shard="1/2")) as running:
        running.append([rec("USA", 3)])
        with pytest.raises(RunLogError) as refused:
            merge_runs([sources[0], tmp_path / "s2"], tmp_path / "m")
        assert str(refused.value) == (
            f"{tmp_path / 's2'}: a disca process is still writing this run (status started); "
            "merge it once that process has finished"
        )
        assert not (tmp_path / "m").exists()
    # the process is gone without recording a status (killed): merged, with a warning
    _, records = merge_runs([sources[0], tmp_path / "s2"], tmp_path / "m")
    assert [(r["country"], r["pool_position"]) for r in records] == [
        ("USA", 0), ("USA", 3), ("JPN", 0)
    ]  # fmt: skip
    assert f"{tmp_path / 's2'} ended without recording a status" in caplog.text
