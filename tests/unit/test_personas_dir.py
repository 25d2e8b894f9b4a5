"""`--personas DIR` / DISCA_PERSONAS_DIR: panels built by `personas build` are usable everywhere."""

from __future__ import annotations

import json

from click.testing import CliRunner

from disca_edge.cli import cli
from disca_edge.content.personas import load_panel, parse_countries
from disca_edge.evals.loop import EvalConfig, build_header


def test_personas_list_and_show_read_the_folder_by_option_and_env(built_panels, monkeypatch):
    folder = built_panels
    by_option = CliRunner().invoke(cli, ["personas", "list", "--json", "--personas", str(folder)])
    assert by_option.exit_code == 0, by_option.output
    rows = json.loads(by_option.stdout)
    assert [r["iso3"] for r in rows] == ["DEU", "JPN"]
    assert {r["path"] for r in rows} == {str(folder / "DEU.toml"), str(folder / "JPN.toml")}
    monkeypatch.setenv("DISCA_PERSONAS_DIR", str(folder))
    by_env = CliRunner().invoke(cli, ["personas", "show", "japan", "--json"])
    assert by_env.exit_code == 0, by_env.output
    assert json.loads(by_env.stdout)["provenance"] == "wvs7-microdata"
    assert json.loads(by_env.stdout)["sha256"] != load_panel("JP").sha256()


def test_a_missing_folder_is_one_line(tmp_path):
    for args in (["personas", "list"], ["ask", "-c", "JP", "a", "b"]):
        result = CliRunner().invoke(cli, [*args, "--personas", str(tmp_path / "nope")])
        assert result.exit_code == 2 and "does not exist" in result.output
        assert "Traceback" not in result.output


def test_ask_and_eval_resolve_countries_in_the_folder(built_panels):
    folder = built_panels
    assert parse_countries("japan,DE", folder) == ("JPN", "DEU")
    result = CliRunner().invoke(cli, ["ask", "-c", "US", "--personas", str(folder), "a", "b"])
    assert result.exit_code == 1 and "unknown country 'US'" in result.output
    result = CliRunner().invoke(
        cli, ["eval", "multitp", "--countries", "US", "--personas", str(folder), "--out", "x"]
    )
    assert result.exit_code == 1 and "unknown country 'US'" in result.output


def test_eval_records_the_folder_in_run_json(built_panels, tmp_path):
    folder = built_panels
    cfg = EvalConfig(out=tmp_path / "run", countries=("JPN",), personas_dir=folder)
    panels = {"JPN": load_panel("JPN", folder)}
    header = build_header(cfg, {"name": "m", "sha256": "0" * 64, "settings": {}}, {}, panels, 1)
    assert header["personas_dir"] == str(folder)
    assert header["panels"]["JPN"]["path"] == str(folder / "JPN.toml")
    assert header["config"]["panels"]["JPN"] == panels["JPN"].sha256()
