"""`disca eval rescore` on a real SmolLM2-135M run: exact reproduction, seeds, grids, report.

The source run (USA and JPN, the first 3 pool scenarios) is made once with the real
model. Rescoring it must reproduce it exactly, and rescoring with a new seed and
parameter must equal a real model run with that seed and parameter. The CLI runs in
subprocesses, as a user would run it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from disca_edge.evals.runlog import read_header, read_samples

pytestmark = [pytest.mark.model, pytest.mark.slow]

# English prompts: these tests are about executors/rescoring, not language, and native
# JPN prompts cost ~3.5x the tokens (test_i18n_models and test_eval cover native runs).
SCOPE = ["--countries", "USA,JPN", "--limit", "3", "--chunk", "2", "--threads", "2", "--lang", "en"]
COMPARED = ("countries", "macro", "vs_vanilla", "ablations", "sequential")


@pytest.fixture(scope="module")
def env(user_env):
    return user_env("rescore_home", columns=200)


def disca(environ, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from disca_edge.cli import main; main()", *args]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=600)


def model_run(env, model: Path, out: Path, *extra: str) -> Path:
    done = disca(env, "eval", "multitp", "--model", str(model), "--out", str(out), *SCOPE,
                 "--display", "none", *extra)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def assert_same_run(a: Path, b: Path) -> None:
    """Same records (every field), same fingerprint, same results."""
    assert read_samples(a) == read_samples(b)
    assert read_header(a)["fingerprint"] == read_header(b)["fingerprint"]
    ra, rb = results(a), results(b)
    for key in COMPARED:
        assert ra[key] == rb[key], key


@pytest.fixture(scope="module")
def source(env, smollm2_path, tmp_path_factory):
    return model_run(env, smollm2_path, tmp_path_factory.mktemp("runs") / "source")


def test_rescore_reproduces_the_run(env, source, tmp_path):
    before = digest(source)
    out = tmp_path / "again"
    done = disca(env, "eval", "rescore", str(source), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "MultiTP MIS per country" in done.stdout and "rescored" in done.stdout
    assert_same_run(out, source)
    header = read_header(out)
    assert header["rescored_from"]["path"] == str(source.resolve())
    assert header["rescored_from"]["fingerprint"] == read_header(source)["fingerprint"]
    assert header["rescored_from"]["param_overrides"] == {}
    assert digest(source) == before  # the source is only read


def test_rescore_equals_a_model_run_with_that_seed_and_param(env, source, smollm2_path, tmp_path):
    extra = ["--seed", "101", "--param", "sigma_floor=0.2"]
    real = model_run(env, smollm2_path, tmp_path / "real", *extra)
    out = tmp_path / "rescored"
    done = disca(env, "eval", "rescore", str(source), "--out", str(out), *extra)
    assert done.returncode == 0, done.stderr
    assert_same_run(out, real)
    header = read_header(out)
    assert header["config"]["is_seed"] == 101
    assert header["config"]["overrides"] == {"sigma_floor": 0.2}
    assert header["rescored_from"]["is_seed"] == 42
    # and it is not the source: the DISCA numbers moved, the vanilla ones did not
    old, new = read_samples(source), read_samples(out)
    assert [r["delta_micro"]["vanilla_raw"] for r in old] == [
        r["delta_micro"]["vanilla_raw"] for r in new
    ]
    assert [r["delta_micro"]["disca_paper"] for r in old] != [
        r["delta_micro"]["disca_paper"] for r in new
    ]


def test_three_seeds_report_mean_and_sd(env, source, tmp_path):
    out = tmp_path / "seeds"
    done = disca(env, "eval", "rescore", str(source), "--out", str(out), "--seeds", "42,101,2026")
    assert done.returncode == 0, done.stderr
    sweep = json.loads((out / "sweep.json").read_text())
    assert [p["seed"] for p in sweep["points"]] == [42, 101, 2026]
    assert_same_run(out / "seed=42", source)
    mis = [results(out / p["dir"])["macro"]["disca_paper"]["mis"] for p in sweep["points"]]
    assert len(set(mis)) == 3  # the seeds matter
    shown = disca(env, "report", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "mean ± sd over IS seeds" in shown.stdout and "±" in shown.stdout
    assert "over IS seeds 42, 101, 2026" in shown.stdout  # the per-country table
    tables = json.loads(disca(env, "report", str(out), "--format", "json").stdout)["tables"]
    sweep_rows, seed_rows = tables[0]["rows"], tables[1]["rows"]
    mean = sum(mis) / 3
    sd = (sum((m - mean) ** 2 for m in mis) / 2) ** 0.5
    assert sweep_rows[0]["n_seeds"] == 3
    assert sweep_rows[0]["mis"] == pytest.approx(mean, rel=1e-12)
    assert sweep_rows[0]["mis_sd"] == pytest.approx(sd, rel=1e-9)
    assert [r["iso3"] for r in seed_rows] == ["USA", "JPN"]


def test_grid_writes_one_run_per_point_and_a_sweep_table(env, source, tmp_path):
    out = tmp_path / "grid"
    done = disca(env, "eval", "rescore", str(source), "--out", str(out),
                 "--param", "sigma_floor=0.2,0.4", "--seeds", "42,101")  # fmt: skip
    assert done.returncode == 0, done.stderr
    sweep = json.loads((out / "sweep.json").read_text())
    assert [p["dir"] for p in sweep["points"]] == [
        "sigma_floor=0.2__seed=42", "sigma_floor=0.2__seed=101",
        "sigma_floor=0.4__seed=42", "sigma_floor=0.4__seed=101",
    ]  # fmt: skip
    for p in sweep["points"]:
        config = read_header(out / p["dir"])["config"]
        assert config["overrides"] == p["overrides"] and config["is_seed"] == p["seed"]
        assert (
            config["methods"]["disca_paper"]["params"]["sigma_floor"]
            == p["overrides"]["sigma_floor"]
        )
    tables = json.loads(disca(env, "report", str(out), "--format", "json").stdout)["tables"]
    assert len(tables) == 1  # a grid: no per-country seed table
    rows = tables[0]["rows"]
    assert [r["point"] for r in rows] == ["sigma_floor=0.2", "sigma_floor=0.4"]
    for row, dirs in zip(rows, [sweep["points"][:2], sweep["points"][2:]], strict=True):
        mis = [results(out / p["dir"])["macro"]["disca_paper"]["mis"] for p in dirs]
        assert row["mis"] == pytest.approx(sum(mis) / 2, rel=1e-12)
    assert "sigma_floor=0.2" in disca(env, "report", str(out)).stdout


def test_rescore_bad_input(env, source, tmp_path):
    bad = [
        (["--param", "no_such_param=1"], "no_such_param"),
        (["--param", "sigma_floor=-1"], "sigma_floor"),
        (["--param", "variant=reference"], "cannot be rescored"),
        (["--seeds", "42,x"], "--seeds"),
    ]
    for extra, message in bad:
        done = disca(env, "eval", "rescore", str(source), "--out", str(tmp_path / "x"), *extra)
        assert done.returncode != 0 and message in done.stderr, (extra, done.stderr)
        assert "Traceback" not in done.stderr
    done = disca(env, "eval", "rescore", str(source), "--out", str(source))
    assert done.returncode == 1 and "new run" in done.stderr
    # a different rescoring into an existing rescored run is refused without --force
    out = tmp_path / "once"
    assert disca(env, "eval", "rescore", str(source), "--out", str(out)).returncode == 0
    done = disca(env, "eval", "rescore", str(source), "--out", str(out), "--seed", "7")
    assert done.returncode == 1 and "different config" in done.stderr
    assert not (tmp_path / "x").exists()
