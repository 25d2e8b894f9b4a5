"""Report tables (`views.tables`, `views.render`) and `disca report`, on synthetic logits.

`make_run` writes what `run_eval` would for random logits (no model needed); the
scoring of such runs is tested in `test_scoring`.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from rich.console import Console

from disca_edge.cli import cli
from disca_edge.content.personas import load_panel
from disca_edge.content.scenarios import disca_pool
from disca_edge.evals import loop as evaluate
from disca_edge.evals import runlog
from disca_edge.evals.loop import EvalConfig, build_header
from disca_edge.evals.results import Results
from disca_edge.evals.scoring import score_run
from disca_edge.evals.worker import record_chunk
from disca_edge.maths import categories, core
from disca_edge.maths.methods import compute_methods, method_suite
from disca_edge.pipeline import PanelLogits
from disca_edge.views import notes as report_notes
from disca_edge.views import render as formats
from disca_edge.views import tables as report

PROVENANCE = (
    "personas: authored estimates from published country aggregates, not computed from WVS "
    "microdata"
)
MODEL_INFO = {
    "name": "fake-model",
    "path": "/nowhere/fake.gguf",
    "sha256": "f" * 64,
    "llama_cpp_python": "0.0",
    "settings": {"n_batch": 512, "n_ubatch": 63, "flash_attn": 1, "n_gpu_layers": 0,
                 "kv_unified": True, "n_threads": 2},
}  # fmt: skip


def human_targets(countries) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        rng.uniform(0.45, 0.85, size=(len(countries), 6)),
        index=list(countries),
        columns=list(categories.DIMENSIONS),
    )


def make_run(countries=("USA", "JPN", "DEU"), n=40, variant="paper", seed=0, shard=None):
    """A header and records as `run_eval` writes them, from random logits."""
    cfg = EvalConfig(out=None, countries=tuple(countries), limit=n, variant=variant, shard=shard)
    suite = method_suite(variant)
    panels = {iso: load_panel(iso) for iso in countries}
    pool = disca_pool()
    header = build_header(cfg, MODEL_INFO, suite, panels, len(pool))
    header.update(status="success", fingerprint=runlog.fingerprint(header["config"]))
    rng = np.random.default_rng(seed)
    shard_i, shard_n = shard or (0, 1)
    items = [(p, pool[p]) for p in range(n) if p % shard_n == shard_i]
    records = []
    for c, iso in enumerate(countries):
        logits = rng.normal(0, 1.5, size=(len(items), 2, 5, 2)) + 20.0
        logits[:, 0, :, 0] += 0.8 + 0.3 * c  # a position bias towards A, varying by country
        panel = PanelLogits(
            logits=logits,
            has_swap=np.ones(len(items), bool),
            token_ids=np.zeros((len(items), 2, 5, 2), dtype=np.int64),
            texts=[[f"{iso}{p}-{k}" for k in range(10)] for p, _ in items],
        )
        outputs = compute_methods(
            logits,
            panel.has_swap,
            [v.category for _, v in items],
            np.array([v.preferred_right for _, v in items]),
            core.draws(42, [v.vignette_index for _, v in items], 64),
            suite,
        )
        records += record_chunk(iso, items, panel, outputs, suite)
    return header, records


def scored_run(**kw) -> tuple[dict, list[dict], Results]:
    """`make_run`'s header and records, and their results against `human_targets`."""
    header, records = make_run(**kw)
    countries = header["scope"]["countries"]
    return header, records, score_run(header, records, targets=human_targets(countries))


@pytest.fixture(scope="module")
def paper_run():
    return scored_run()


@pytest.fixture(scope="module")
def reference_run():
    return scored_run(variant="reference", n=80, seed=1)


@pytest.fixture(scope="module")
def wide_run():
    """180 scenarios a country: enough in every dimension for intervals."""
    return scored_run(n=180)


# --------------------------------------------------------------------------- tables


def test_country_table(wide_run):
    _, _, results = wide_run
    table = report.country_table(results)
    assert [r["iso3"] for r in table.rows] == ["USA", "JPN", "DEU"]
    usa = results.countries["USA"].methods
    row = table.rows[0]
    assert row["vanilla_raw"] == usa["vanilla_raw"].mis
    assert row["paper"].startswith(report.short_mis(usa["vanilla_raw"].mis) + "→")
    assert table.footer[0]["iso3"] == "Mean"
    assert table.footer[0]["gain"] == results.vs_vanilla["vanilla_raw"]["disca_paper"].pct_gain
    assert "vanilla read-out vanilla_raw" in table.title and "variant paper" in table.title
    assert PROVENANCE in table.notes
    # intervals and paired differences come from the results, per country and macro
    assert [row["disca_paper_low"], row["disca_paper_high"]] == usa["disca_paper"].mis_interval
    vs = results.vs_vanilla["vanilla_raw"]["disca_paper"]
    assert row["diff"] == vs.per_country_difference["USA"]
    assert [row["diff_low"], row["diff_high"]] == vs.per_country_difference_interval["USA"]
    other = results.vs_vanilla["vanilla_lfl"]["disca_paper"]
    assert [row["diff_other_low"], row["diff_other_high"]] == (
        other.per_country_difference_interval["USA"]
    )
    mean = table.footer[0]
    assert [mean["diff_low"], mean["diff_high"]] == vs.difference_interval
    assert [mean["gain_low"], mean["gain_high"]] == vs.pct_gain_interval
    assert [mean["disca_paper_low"], mean["disca_paper_high"]] == (
        results.macro["disca_paper"].mis_interval
    )
    wins = f"wins {vs.wins_significant}/3 ({vs.wins} raw), hurt {vs.hurt_significant}/3"
    assert any(n.startswith(wins + " vs vanilla_raw") for n in table.notes)
    assert table.header == report_notes.header_lines(results)
    lfl = report.country_table(results, vanilla="vanilla_lfl")
    assert "vanilla read-out vanilla_lfl" in lfl.title


def test_renderings(paper_run):
    _, _, results = paper_run
    usa = results.countries["USA"].methods
    tables = [report.country_table(results), report.ablation_table(results)]
    md = formats.render(tables, "md")
    assert "| ISO3 | n | vanilla_raw → disca_paper (Δ%)" in md and "| **Mean** |" in md
    assert f"- {PROVENANCE}" in md and "### Ablations of DISCA (paper)" in md
    frame = pd.read_csv(io.StringIO(formats.render(tables, "csv")))  # no options
    assert list(frame.columns) == ["table", "iso3", "lang", "configuration", "method",
                                   "variable", "value", "low", "high"]  # fmt: skip
    countries = frame[frame["table"] == "countries"]
    # a row per (country or Mean) x number: n, the 3 MIS, 2 gains, 2 Δ, jsd, pearson, flip
    assert len(countries) == (len(results.countries) + 1) * 11
    assert set(countries["variable"]) == {
        "n", "vanilla_raw", "vanilla_lfl", "disca_paper", "gain", "gain_other", "diff",
        "diff_other", "jsd", "pearson", "flip_rate",
    }  # fmt: skip
    usa_mis = countries.set_index(["iso3", "variable"]).loc[("USA", "vanilla_raw"), "value"]
    assert usa_mis == pytest.approx(usa["vanilla_raw"].mis, rel=1e-12)
    ablations = frame[frame["table"] == "ablations"].set_index(["method", "variable"])
    n_rows = 1 + len(results.ablations) + len(results.run.vanilla)
    assert len(ablations) == n_rows * 4  # mis, delta, n_hurt, n_hurt_significant
    for name, row in results.ablations.items():
        assert ablations.loc[(name, "mis"), "value"] == pytest.approx(row.mis, rel=1e-12)
        assert ablations.loc[(name, "n_hurt"), "value"] == row.n_hurt
    data = json.loads(formats.render(tables, "json"))
    assert [t["name"] for t in data["tables"]] == ["countries", "ablations"]
    assert "paper" not in data["tables"][0]["columns"]  # view-only cells are left out
    assert data["tables"][0]["rows"][0]["disca_paper"] == usa["disca_paper"].mis
    console = Console(record=True, width=200)
    assert formats.render(tables, "rich", console=console) is None
    shown = console.export_text()
    assert "personas: authored estimates" in shown and "Mean" in shown and "n hurt" in shown
    with pytest.raises(ValueError, match="fmt"):
        formats.render(tables, "html")


def test_dimension_table(paper_run):
    _, _, results = paper_run
    table = report.dimension_table(results, "jpn")
    assert [r["dimension"] for r in table.rows] == [
        "Species", "Gender", "Fitness", "SocialValue", "Age", "Utilitarianism"
    ]  # fmt: skip
    jpn = results.countries["JPN"]
    row = table.rows[0]
    assert row["human"] == jpn.human[0]
    assert row["error_pp"] == pytest.approx(
        100 * (jpn.methods["disca_paper"].vector[0] - jpn.human[0])
    )
    md = formats.render([table], "md")
    assert "`" in md and "█" in md and PROVENANCE in md
    assert "DISCA variant paper" in table.title and "vanilla read-out vanilla_raw" in table.title
    with pytest.raises(KeyError, match="not in this run"):
        report.dimension_table(results, "FRA")


def test_bar():
    assert formats.bar(0.0) == " " * 20
    assert formats.bar(1.0) == "█" * 20
    assert formats.bar(0.5).rstrip() == "█" * 10
    assert formats.bar(0.525).startswith("█" * 10 + "▌")


def test_format_value():
    assert formats.format_value(None, "mis") == "—"
    assert formats.format_value(0.12345, "mis") == "0.123"
    assert (
        formats.format_value(3.0, "pct") == "+3.0" and formats.format_value(-0.5, "corr") == "-0.50"
    )
    assert formats.format_value(2.9, "int") == "2" and formats.format_value("x", "text") == "x"
    assert formats.format_value(1.0, "bar") == "█" * 20


def test_ablation_table(reference_run):
    _, _, results = reference_run
    table = report.ablation_table(results)
    names = [r["method"] for r in table.rows]
    assert names == [
        "disca_reference",
        "no_personas",
        "no_is",
        "always_on",
        "no_debias",
        "no_prior",
    ]
    row = table.rows[1]
    ab = results.ablations["no_personas"]
    sign = "+" if ab.delta >= 0 else "−"
    short = report.short_mis
    assert row["paper"] == f"{short(ab.mis)} ({sign}{short(abs(ab.delta))}, {ab.n_hurt})"
    assert [r["method"] for r in table.footer] == ["vanilla_raw", "vanilla_lfl"]
    assert any("country prior on in every ablation" in n for n in table.notes)
    assert "variant reference" in table.title and PROVENANCE in table.notes


def test_compare_table(paper_run, reference_run, wide_run):
    a, b = paper_run[2], reference_run[2]
    table = report.compare_table(a, b, names=("runA", "runB"))
    assert [c.header for c in table.columns][2] == "runA disca_paper [95%]"
    assert table.rows[0]["diff"] == pytest.approx(
        b.countries["USA"].methods["disca_reference"].mis
        - a.countries["USA"].methods["disca_paper"].mis
    )
    mean = table.footer[0]
    assert mean["iso3"] == "Mean" and mean["diff"] == pytest.approx(
        b.macro["disca_reference"].mis - a.macro["disca_paper"].mis
    )
    assert "runA: variant paper, runB: variant reference" in table.title
    assert PROVENANCE in table.notes
    assert table.header[0] == "runA: " + report_notes.run_line(a)
    assert [table.rows[0]["a_disca_low"], table.rows[0]["a_disca_high"]] == [None, None]
    wide = wide_run[2]  # with intervals
    table = report.compare_table(a, wide, names=("runA", "runB"))
    usa = wide.countries["USA"].methods["disca_paper"]
    assert [table.rows[0]["b_disca_low"], table.rows[0]["b_disca_high"]] == usa.mis_interval
    macro = wide.macro["disca_paper"]
    assert table.footer[0]["b_disca_view"] == (macro.mis, macro.mis_interval)


# --------------------------------------------------------------------------- CLI


def write_run(directory, header, records, results: Results) -> None:
    """A finished run folder with these records and ``results.json``."""
    with runlog.RunLog.open(directory, header) as run:
        run.append(records)
        run.finish("success")
    runlog.write_results(directory, results.to_dict())


def test_cli_report(tmp_path, paper_run, reference_run):
    write_run(tmp_path / "a", *paper_run)
    write_run(tmp_path / "b", *reference_run)
    runner = CliRunner()
    result = runner.invoke(cli, ["report", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "MultiTP MIS per country" in result.output and "Ablations" in result.output
    assert "personas: authored estimates" in result.output
    result = runner.invoke(cli, ["report", str(tmp_path / "a"), "--format", "json"])
    assert result.exit_code == 0
    tables = json.loads(result.output)["tables"]
    assert [t["name"] for t in tables] == ["countries", "ablations"]
    usa = paper_run[2].countries["USA"].methods["disca_paper"]
    assert tables[0]["rows"][0]["disca_paper"] == usa.mis  # read from results.json as written
    result = runner.invoke(
        cli, ["report", str(tmp_path / "a"), "--country", "JPN", "--format", "md"]
    )
    assert result.exit_code == 0 and "### JPN: preference per dimension" in result.output
    assert "prompt variant: default (" in result.output
    result = runner.invoke(cli, ["report", str(tmp_path / "a"), "--compare", str(tmp_path / "b"),
                                 "--vanilla", "lfl", "--format", "csv"])  # fmt: skip
    assert result.exit_code == 0 and "vanilla read-out vanilla_lfl" in result.output
    result = runner.invoke(cli, ["report", str(tmp_path / "a"), "--country", "FRA"])
    assert result.exit_code == 1 and "not in this run" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "not a run directory" in result.output


def test_cli_report_writes_markdown_for_the_rich_view(tmp_path, paper_run):
    write_run(tmp_path / "a", *paper_run)
    out = tmp_path / "report.md"
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "a"), "-o", str(out)])
    assert result.exit_code == 0 and f"wrote {out}" in result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("### MultiTP MIS per country") and "| **Mean** |" in text


@pytest.fixture
def fake_targets(monkeypatch):
    """`human_targets.load_human_targets` returns the synthetic targets of `make_run`."""
    targets = human_targets(("USA", "JPN", "DEU"))
    monkeypatch.setattr(
        "disca_edge.content.human_targets.load_human_targets", lambda path=None: targets
    )
    return targets


def test_cli_report_recomputes_stale_or_malformed_results(tmp_path, paper_run, fake_targets):
    header, records, results = paper_run
    write_run(tmp_path, header, records[:-4], results)  # results.json counts 4 records more
    shown = CliRunner().invoke(cli, ["report", str(tmp_path), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    notes = json.loads(shown.output)["tables"][0]["notes"]
    assert any(n.startswith("results recomputed from samples.jsonl (") for n in notes)
    assert any(n.startswith("INCOMPLETE: 116 of 120") for n in notes)
    runlog.write_results(tmp_path, {"format": "disca-edge-results/1", "coverage": {}})
    shown = CliRunner().invoke(cli, ["report", str(tmp_path), "--format", "md"])
    assert shown.exit_code == 0, shown.output  # a malformed results.json is recomputed too
    assert "| USA |" in shown.output and "results recomputed" in shown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "2/2"], "--shard i/n needs 0 <= i < n"),
        (["--shard", "x"], "--shard must look like i/n"),
        (["--countries", "Atlantis"], "unknown country 'Atlantis'"),
        (["--param", "nope=1"], "unknown DISCA parameter 'nope'"),
        (["--param", "eta"], "--param must be NAME=VALUE"),
        ([], "Moral Machine targets not found; run `disca data pull moral-machine`"),
    ],
)
def test_cli_eval_errors_before_loading_a_model(tmp_path, args, message):
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "multitp",
            "--model",
            str(tmp_path / "absent.gguf"),
            "--out",
            str(tmp_path / "run"),
            "--countries",
            "USA",
            *args,
        ],  # fmt: skip
    )
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def test_parsers():
    assert runlog.parse_shard("1/3") == (1, 3) and runlog.parse_shard("0/1") is None
    assert evaluate.parse_params(["eta=0.4", "use_gate=false"]) == {"eta": 0.4, "use_gate": False}


def test_report_names_the_prompt_protocol(tmp_path, paper_run):
    """A run records its prompt protocol; one made before the I18N §3 swap fix is 1."""
    header, records, results = paper_run
    assert header["config"]["prompt_protocol"] == 2
    write_run(tmp_path / "now", *paper_run)
    old = json.loads(json.dumps(header))
    del old["config"]["prompt_protocol"]  # as written before the fix
    old["fingerprint"] = runlog.fingerprint(old["config"])
    assert old["fingerprint"] != header["fingerprint"]  # never resumed into a protocol-2 run
    old_results = score_run(old, records, targets=human_targets(("USA", "JPN", "DEU")))
    assert old_results.run.prompt_protocol == 1  # read from the config
    write_run(tmp_path / "before", old, records, old_results)
    stored = json.loads((tmp_path / "before" / "results.json").read_text())
    del stored["run"]["prompt_protocol"]  # a results.json of that time
    runlog.write_results(tmp_path / "before", stored)
    runner = CliRunner()
    now = runner.invoke(cli, ["report", str(tmp_path / "now"), "--format", "md"])
    before = runner.invoke(cli, ["report", str(tmp_path / "before"), "--format", "md"])
    assert now.exit_code == 0 and before.exit_code == 0, now.output + before.output
    line = [x for x in now.output.splitlines() if "prompt protocol" in x]
    assert len(line) == 1 and "prompt protocol 2: labels swapped in the scenario text" in line[0]
    line = [x for x in before.output.splitlines() if "prompt protocol" in x]
    assert len(line) == 1 and "prompt protocol 1: labels swapped across the whole user" in line[0]
