"""`disca personas`: list, show, build, run through the real click group."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from disca_edge.cli import cli
from disca_edge.paths import shipped_dir

ITEMS = [
    "Q6P", "Q17P", "Q177", "Q178", "Q179", "Q180", "Q181", "Q182", "Q57P", "Q199P", "Q200P",
    "Q254P", "Q46P", "Q29P", "Q30P", "Q31P", "Q33P", "Q152", "Q153",
    "Q19P", "Q20P", "Q21P", "Q22P", "Q23P",
]  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(cli, ["personas", *args])


def test_list_shows_the_twenty_countries():
    result = run("list")
    assert result.exit_code == 0, result.output
    for word in ("JPN", "Japan", "日本", "authored-estimate", "USA", "ETH"):
        assert word in result.stdout
    assert run().stdout == result.stdout  # the group defaults to list


def test_list_json():
    result = run("list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["iso3"] for r in rows][:3] == ["USA", "GBR", "DEU"] and len(rows) == 20
    usa = rows[0]
    assert usa["language"] == "en" and usa["estimated_cohorts"] == []
    assert rows[1]["estimated_cohorts"] == ["young", "middle", "older"]


def test_show_accepts_iso2_and_renders_levels_and_texts():
    result = run("show", "JP", "--lang", "en")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Japan (JPN/JP, 日本)" in out
    assert "religiosity" in out and "0.248" in out
    assert "You are a young adult from Japan, in your 20s and early 30s." in out
    assert "You are a adult citizen from Japan." in out


def test_show_json_is_the_full_panel():
    result = run("show", "united states", "--json")
    assert result.exit_code == 0
    panel = json.loads(result.stdout)
    assert panel["iso3"] == "USA" and len(panel["sha256"]) == 64
    assert [p["cohort"] for p in panel["personas"]] == ["young", "middle", "older", "all"]
    assert panel["personas"][0]["text"].startswith("You are a young adult from the United States")
    assert panel["personas"][3]["levels"]["moral_acceptability"] == 4


def test_unknown_country_is_one_line_with_suggestions():
    result = run("show", "Japn")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: unknown country 'Japn'; did you mean JPN (Japan)?"
    assert "Traceback" not in result.output


def test_malformed_file_names_path_and_problem(tmp_path):
    text = (shipped_dir() / "personas" / "JPN.toml").read_text(encoding="utf-8")
    (tmp_path / "JPN.toml").write_text(text.replace("tolerance = 2\n", "", 1), encoding="utf-8")
    for args in (("show", "JPN"), ("list",)):
        result = run(*args, "--dir", str(tmp_path))
        assert result.exit_code == 1
        assert f"{tmp_path / 'JPN.toml'}: personas[0] (young): missing dimension" in result.output
        assert "Traceback" not in result.output


def test_build_writes_panels_that_show_can_read(tmp_path):
    wvs = tmp_path / "wvs.csv"
    with wvs.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["B_COUNTRY_ALPHA", "A_YEAR", "Q261", *ITEMS])
        writer.writerow(["JPN", 2019, 1990, *([2] * 24)])
        writer.writerow(["JPN", 2019, 1950, *([1] * 24)])
        writer.writerow(["DEU", 2018, 1970, *([1] * 24)])
    out = tmp_path / "panels"
    result = run("build", "--wvs", str(wvs), "--out", str(out), "--countries", "jp")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["JPN.toml"]
    assert "JPN" in result.stdout and "1 panels written" in result.stdout

    shown = run("show", "japan", "--dir", str(out), "--json")
    panel = json.loads(shown.stdout)
    assert panel["provenance"] == "wvs7-microdata"
    assert panel["source"]["n_respondents"] == {"young": 1, "middle": 0, "older": 1, "all": 2}


def test_build_needs_an_existing_file(tmp_path):
    result = run("build", "--wvs", str(tmp_path / "nope.csv"), "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "does not exist" in result.output
