"""The Table-1 view (`views.table1`): tables in every format, the figure, and `disca report`."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner
from test_baseline_scores import COUNTRIES, baseline_run
from test_report import human_targets, write_run

from disca_edge.cli import cli
from disca_edge.views import table1
from disca_edge.views.render import render


@pytest.fixture(scope="module")
def run():
    return baseline_run(n=180, seed=11)


def test_table1_rows_cells_and_notes(run):
    _, _, _, results = run
    table = table1.table1(results)
    base = results.baselines
    assert [r["label"] for r in table.rows] == [k for k in base.rows if k != "disca_paper"]
    assert [r["label"] for r in table.footer] == ["disca_paper"]
    b4 = next(r for r in table.rows if r["label"] == "b4")
    row = base.rows["b4"]
    assert (b4["mis"], b4["diff"], b4["disca_wins"]) == (row.mis, row.difference, row.disca_wins)
    assert [b4["diff_low"], b4["diff_high"]] == row.difference_interval
    assert b4["wins_view"] == f"{row.disca_wins_significant}/2 ({row.disca_wins} raw)"
    assert next(r for r in table.rows if r["label"] == "oracle_temp:paper")["human_data"] == (
        "yes: human AMCE"
    )
    assert table.footer[0]["diff"] is None and table.footer[0]["wins_view"] == "—"
    assert any("not reproducible: offset:paper, mc_dropout:released" in n for n in table.notes)
    assert any(line.startswith("model fake-model") for line in table.header)


def test_every_format_renders(run):
    _, _, _, results = run
    tables = table1.baseline_tables(results)
    assert [t.name for t in tables] == [
        "table1", "baseline_countries", "baseline_fits", "baseline_sweeps"
    ]  # fmt: skip
    data = json.loads(render(tables, "json"))
    first = data["tables"][0]
    assert "mis_view" not in first["columns"] and "diff_low" in first["columns"]
    md = render(tables, "md")
    assert "### Table 1: baselines against disca_paper" in md and "| Uses human data? |" in md
    long = pd.read_csv(io.StringIO(render(tables, "csv")))  # one long table
    mis = long[(long["table"] == "table1") & (long["variable"] == "mis")]
    scored = {k: r.mis for k, r in results.baselines.rows.items() if r.mis is not None}
    assert dict(zip(mis["label"], mis["value"], strict=True)) == pytest.approx(scored)
    sweeps = tables[3]
    assert [r["point_view"] for r in sweeps.rows[:5]] == [f"N = {n}" for n in range(2, 7)]
    fits = tables[2]
    usa = fits.rows[0]
    assert (
        usa["iso3"] == "USA"
        and usa["oracle_temp:paper"]
        == (results.baselines.rows["oracle_temp:paper"].countries["USA"].fit["value"])
    )
    countries = tables[1]
    assert countries.rows[0]["label"] == "vanilla_raw" and set(COUNTRIES) <= set(countries.rows[0])


def test_figure_marks_every_scored_row(run):
    _, _, _, results = run
    svg = table1.forest_svg(results)
    scored = [r for r in results.baselines.rows.values() if r.mis is not None]
    assert svg.startswith("<svg") and 'data-figure="table1"' in svg
    assert len(re.findall(r'<circle class="mark"', svg)) == len(scored)
    assert len(re.findall(r'class="errorbar"', svg)) == sum(r.mis_interval is not None
                                                            for r in scored)  # fmt: skip
    assert 'class="reference"' in svg


def test_report_shows_table1_in_every_format(run, tmp_path, monkeypatch):
    header, records, targets, results = run
    monkeypatch.setattr("disca_edge.content.human_targets.load_human_targets",
                        lambda path=None: targets)  # fmt: skip
    write_run(tmp_path / "run", header, records, results)
    runner = CliRunner()
    out = runner.invoke(cli, ["report", str(tmp_path / "run")])
    assert out.exit_code == 0, out.output
    assert "Table 1: baselines against disca_paper" in out.output
    out = runner.invoke(cli, ["report", str(tmp_path / "run"), "--format", "json"])
    names = [t["name"] for t in json.loads(out.output)["tables"]]
    assert names == ["countries", "ablations", "table1", "baseline_countries", "baseline_fits",
                     "baseline_sweeps"]  # fmt: skip
    out = runner.invoke(cli, ["report", str(tmp_path / "run"), "--format", "html", "-o",
                              str(tmp_path / "r.html")])  # fmt: skip
    page = (tmp_path / "r.html").read_text()
    assert out.exit_code == 0 and 'data-figure="table1"' in page and 'data-table="table1"' in page


def test_runs_without_baselines_show_none(tmp_path):
    from test_report import make_run

    from disca_edge.evals.scoring import score_run

    header, records = make_run(COUNTRIES, n=6)
    results = score_run(header, records, targets=human_targets(COUNTRIES))
    assert table1.baseline_tables(results) == [] and table1.forest_svg(results) == ""
    assert table1.html_sections([("run", results)]) == []
