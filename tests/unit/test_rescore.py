"""Rescoring (`evals.rescore`) on synthetic runs: parsing, one run, sweeps, ``sweep.json``.

The real-model checks (rescoring equals a model run with that seed) are in
`tests/integration/test_rescore.py`.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_report import human_targets, make_run, write_run

from disca_edge.cli import cli
from disca_edge.errors import DiscaError
from disca_edge.evals.rescore import (
    SWEEP_FILE,
    RescoreOutcome,
    Sweep,
    SweepEntry,
    SweepPoint,
    parse_grid,
    parse_seeds,
    point_name,
    read_sweep,
    rescore,
    rescore_run,
)
from disca_edge.evals.results import Results
from disca_edge.evals.runlog import read_header, read_samples
from disca_edge.evals.scoring import read_run_results, score_run

COUNTRIES = ("USA", "JPN")
COMPARED = ("countries", "macro", "vs_vanilla", "ablations", "sequential")


@pytest.fixture
def targets(monkeypatch):
    frame = human_targets(COUNTRIES)
    monkeypatch.setattr(
        "disca_edge.content.human_targets.load_human_targets", lambda path=None: frame
    )
    return frame


@pytest.fixture
def source(tmp_path, targets):
    """A finished synthetic run (random logits through the real method code)."""
    return _finished_run(tmp_path / "source", targets, n=12)


@pytest.fixture
def wide_source(tmp_path, targets):
    """The same with 180 scenarios a country: every dimension gets intervals."""
    return _finished_run(tmp_path / "wide", targets, n=180)


def _finished_run(folder, targets, n):
    header, records = make_run(COUNTRIES, n=n)
    write_run(folder, header, records, score_run(header, records, targets=targets))
    return folder


# --------------------------------------------------------------------------- parsing


def test_parse_seeds():
    assert parse_seeds("42, 101,2026") == [42, 101, 2026] and parse_seeds(None) is None
    for text, message in (("42,x", "comma-separated"), ("-1", ">= 0"), ("1,1", "repeats 1"),
                          (",", "empty")):  # fmt: skip
        with pytest.raises(DiscaError, match=message):
            parse_seeds(text)


def test_parse_grid_and_point_names():
    grid = parse_grid(["sigma_floor=0.2,0.4", "use_gate=false"])
    assert grid == {"sigma_floor": [0.2, 0.4], "use_gate": [False]}
    assert point_name(SweepPoint(42, {"sigma_floor": 0.2, "use_gate": False})) == (
        "sigma_floor=0.2__use_gate=false__seed=42"
    )
    assert point_name(SweepPoint(7, {})) == "seed=7"
    for items, message in ((["x"], "NAME=VALUE"), (["variant=reference"], "cannot be rescored"),
                           (["eta=1", "eta=2"], "given twice"), (["nope=1"], "nope"),
                           (["sigma_floor=-1"], "sigma_floor")):  # fmt: skip
        with pytest.raises(DiscaError, match=message):
            parse_grid(items)


def test_sweep_round_trips_its_json():
    sweep = Sweep(
        created="2025-01-01T00:00:00+00:00", source_path="/runs/a", source_fingerprint="f" * 64,
        seeds=[42, 101], grid={"sigma_floor": [0.2]},
        points=[SweepEntry(f"sigma_floor=0.2__seed={s}", SweepPoint(s, {"sigma_floor": 0.2}),
                           str(s)) for s in (42, 101)],
    )  # fmt: skip
    data = sweep.to_dict()
    assert list(data) == ["format", "created", "source", "seeds", "grid", "points"]
    assert data["points"][0] == {
        "dir": "sigma_floor=0.2__seed=42", "seed": 42, "overrides": {"sigma_floor": 0.2},
        "fingerprint": "42",
    }  # fmt: skip
    assert Sweep.from_dict(json.loads(json.dumps(data))) == sweep
    assert sweep.seeds_only  # one parameter point: the runs differ only in their seed
    with pytest.raises(DiscaError, match="not a disca-edge-sweep/1"):
        Sweep.from_dict({**data, "format": "other"})
    with pytest.raises(DiscaError, match="malformed"):
        Sweep.from_dict({**data, "points": [{"seed": 1}]})


# --------------------------------------------------------------------------- one run


def test_rescoring_with_the_source_settings_reproduces_it(wide_source, tmp_path, targets):
    source = wide_source
    results = rescore_run(source, tmp_path / "again", targets=targets)
    assert isinstance(results, Results)
    assert read_samples(tmp_path / "again") == read_samples(source)
    assert read_header(tmp_path / "again")["fingerprint"] == read_header(source)["fingerprint"]
    before = read_run_results(source)
    assert before.bootstrap is not None and not before.recomputed
    for key in COMPARED:
        assert getattr(results, key) == getattr(before, key), key
    assert results.bootstrap == before.bootstrap  # the intervals are recomputed, equal
    assert results.vs_vanilla["vanilla_raw"]["disca_paper"].difference_interval is not None
    assert read_run_results(tmp_path / "again") == results  # results.json as returned
    with pytest.raises(DiscaError, match="new run"):
        rescore_run(source, source)


def test_a_new_seed_and_parameter_change_disca_not_vanilla(wide_source, tmp_path, targets):
    source = wide_source
    results = rescore_run(source, tmp_path / "new", seed=101, overrides={"sigma_floor": 0.2})
    header = read_header(tmp_path / "new")
    assert header["config"]["is_seed"] == 101
    assert header["config"]["overrides"] == {"sigma_floor": 0.2}
    assert header["rescored_from"]["param_overrides"] == {"sigma_floor": 0.2}
    assert results.run.is_seed == 101 and results.run.fingerprint == header["fingerprint"]
    before = read_run_results(source)
    assert results.macro["vanilla_raw"] == before.macro["vanilla_raw"]  # interval included
    assert results.macro["disca_paper"].mis != before.macro["disca_paper"].mis
    assert results.macro["disca_paper"].mis_interval != before.macro["disca_paper"].mis_interval


# --------------------------------------------------------------------------- rescore, sweeps


def test_one_point_gives_a_run_outcome(source, tmp_path, targets):
    outcome = rescore(source, tmp_path / "one", seeds=[42])
    assert isinstance(outcome, RescoreOutcome) and outcome.sweep is None
    assert isinstance(outcome.results, Results) and outcome.seconds > 0
    assert not (tmp_path / "one" / SWEEP_FILE).exists()


def test_a_grid_writes_one_run_per_point_and_sweep_json(source, tmp_path, targets):
    out = tmp_path / "grid"
    outcome = rescore(source, out, seeds=[42, 101], grid={"sigma_floor": [0.2, 0.4]})
    assert outcome.results is None and isinstance(outcome.sweep, Sweep)
    sweep = outcome.sweep
    assert [p.dir for p in sweep.points] == [
        "sigma_floor=0.2__seed=42", "sigma_floor=0.2__seed=101",
        "sigma_floor=0.4__seed=42", "sigma_floor=0.4__seed=101",
    ]  # fmt: skip
    assert sweep.source_path == str(source.resolve()) and sweep.seeds == [42, 101]
    read, runs = read_sweep(out)
    assert read == sweep and len(runs) == 4
    for entry, results in zip(read.points, runs, strict=True):
        header = read_header(out / entry.dir)
        assert header["config"]["is_seed"] == entry.point.seed == results.run.is_seed
        assert header["fingerprint"] == entry.fingerprint
    assert not read.seeds_only
    rescore(source, tmp_path / "single")  # a run folder
    with pytest.raises(DiscaError, match="holds a run; a sweep needs its own folder"):
        rescore(source, tmp_path / "single", seeds=[1, 2])


def test_read_sweep_errors(tmp_path):
    with pytest.raises(DiscaError, match="not a sweep folder"):
        read_sweep(tmp_path)
    (tmp_path / SWEEP_FILE).write_text("[1]")
    with pytest.raises(DiscaError, match="not a disca-edge-sweep/1 file"):
        read_sweep(tmp_path)
    (tmp_path / SWEEP_FILE).write_text("{")
    with pytest.raises(DiscaError, match="unreadable"):
        read_sweep(tmp_path)


def test_cli_rescore_and_report_a_seed_sweep(source, tmp_path, targets):
    out = tmp_path / "seeds"
    runner = CliRunner()
    done = runner.invoke(cli, ["eval", "rescore", str(source), "--out", str(out),
                               "--seeds", "42,101,2026"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "rescored" in done.output and "into 3 runs" in done.output
    shown = runner.invoke(cli, ["report", str(out), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    tables = json.loads(shown.output)["tables"]
    assert [t["name"] for t in tables] == ["sweep", "seeds"]  # seeds only: per country too
    mis = [read_run_results(out / f"seed={s}").macro["disca_paper"].mis for s in (42, 101, 2026)]
    assert tables[0]["rows"][0]["mis"] == pytest.approx(sum(mis) / 3, rel=1e-12)
    assert [r["iso3"] for r in tables[1]["rows"]] == list(COUNTRIES)
