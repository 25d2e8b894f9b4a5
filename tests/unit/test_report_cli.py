"""`disca report`'s options: --compare honours --recompute and --country, --out/-o/--output.

The runs are the synthetic ones of `test_report.py` (no model); the tables themselves are
tested there.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from test_report import paper_run, reference_run, write_run  # noqa: F401 - fixtures

from disca_edge.cli import cli
from disca_edge.evals.rescore import SWEEP_FILE


def report(*args) -> dict:
    result = CliRunner().invoke(cli, ["report", *map(str, args), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def runs(tmp_path, paper_run, reference_run):  # noqa: F811 - fixtures of test_report
    a, b = tmp_path / "a", tmp_path / "b"
    write_run(a, *paper_run)
    write_run(b, *reference_run)
    return a, b


def _tamper(run, mis: float) -> None:
    """Overwrite every MIS in the run's results.json; the record count still matches."""
    path = run / "results.json"
    results = json.loads(path.read_text())
    for entry in results["countries"].values():
        for method in entry["methods"].values():
            method["mis"] = mis
    path.write_text(json.dumps(results))


def test_compare_honours_recompute(runs, tmp_path, acme):
    pulled = CliRunner().invoke(cli, ["data", "pull", "moral-machine", "--from", str(acme)])
    assert pulled.exit_code == 0, pulled.output
    a, b = runs
    clean = tmp_path / "clean"
    shutil.copytree(b, clean)
    _tamper(b, 9.0)

    def b_disca(*extra) -> list:
        (table,) = report(a, "--compare", b, *extra)["tables"]
        return [row["b_disca"] for row in table["rows"]]

    assert set(b_disca()) == {9.0}  # results.json is read as it is
    (expected,) = report(a, "--compare", clean, "--recompute")["tables"]
    assert b_disca("--recompute") == [row["b_disca"] for row in expected["rows"]]
    assert 9.0 not in b_disca("--recompute")


def test_compare_keeps_country_one_table_per_run(runs):
    a, b = runs
    for spelling in ("JPN", "Japan", "jp"):
        tables = report(a, "--compare", b, "--country", spelling)["tables"]
        assert [t["name"] for t in tables] == ["dimensions", "dimensions"]
        assert [t["title"].split(": ")[:2] for t in tables] == [[str(a), "JPN"], [str(b), "JPN"]]
    alone = report(a, "--country", "JPN")["tables"]
    both = report(a, "--compare", b, "--country", "JPN")["tables"]
    assert alone[0]["rows"] == both[0]["rows"] and alone[0]["title"] == "JPN" + both[0][
        "title"
    ].removeprefix(f"{a}: JPN")
    tables = report(a, "--countries", "JPN,USA")["tables"]
    assert [t["title"][:3] for t in tables] == ["JPN", "USA"]


def test_country_of_another_panel_folder_is_passed_on(runs):
    a, _ = runs
    result = CliRunner().invoke(cli, ["report", str(a), "--country", "Narnia"])
    assert result.exit_code == 1
    assert "country 'Narnia' is not in this run (it has USA, JPN, DEU)" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "html", "--country", "JPN"], "--country is for tables"),
        (["--out", "a.md", "--output", "b.md"], "--output is another name of --out"),
    ],
)
def test_options_that_would_be_dropped_are_refused(runs, extra, message):
    a, _ = runs
    result = CliRunner().invoke(cli, ["report", str(a), *extra])
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_sweep_refuses_country_and_compare(tmp_path, runs):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / SWEEP_FILE).write_text("{}")
    for extra in (["--country", "JPN"], ["--compare", str(runs[1])]):
        result = CliRunner().invoke(cli, ["report", str(tmp_path / "sweep"), *extra])
        assert result.exit_code == 2 and "not a sweep" in result.output, result.output
    for extra, message in ((["--format", "html"], "a sweep has tables only"),
                           (["--figure", "dumbbell"], "--figure takes run folders")):  # fmt: skip
        result = CliRunner().invoke(cli, ["report", str(tmp_path / "sweep"), *extra])
        assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.parametrize("spelling", ["--out", "-o", "--output"])
def test_out_writes_the_tables(runs, tmp_path, spelling):
    a, _ = runs
    target = tmp_path / "report.md"
    result = CliRunner().invoke(cli, ["report", str(a), spelling, str(target)])
    assert result.exit_code == 0 and result.output == f"wrote {target}\n"
    assert "MultiTP MIS per country" in target.read_text()
