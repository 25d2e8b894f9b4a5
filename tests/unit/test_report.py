"""Results (`evaluate.summarize`) and their reports, on synthetic logits (no model needed)."""

from __future__ import annotations

import csv
import io
import json
import random

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from disca_edge.cli import cli
from disca_edge.content.personas import load_panel
from disca_edge.content.scenarios import disca_pool
from disca_edge.errors import DiscaError
from disca_edge.evals import loop as evaluate
from disca_edge.evals import runlog
from disca_edge.evals.executor import record_chunk
from disca_edge.evals.loop import EvalConfig, build_header, summarize
from disca_edge.evals.results import MethodScore, Results
from disca_edge.maths import categories, core, metrics
from disca_edge.maths.methods import compute_methods, finalize, method_suite
from disca_edge.pipeline import PanelLogits
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


@pytest.fixture(scope="module")
def paper_run():
    header, records = make_run()
    return header, records, summarize(header, records, targets=human_targets(("USA", "JPN", "DEU")))


@pytest.fixture(scope="module")
def reference_run():
    header, records = make_run(variant="reference", n=80, seed=1)
    return header, records, summarize(header, records, targets=human_targets(("USA", "JPN", "DEU")))


def test_records_are_complete(paper_run):
    _, records, _ = paper_run
    first = records[0]
    assert first["country"] == "USA" and first["scenario_id"] == disca_pool()[0].scenario_id
    assert np.array(first["logits"]).shape == (2, 5, 2) and len(first["prompt_sha256"]) == 10
    assert set(first["p_spare"]) == {"vanilla_raw", "vanilla_lfl", "disca_paper", "no_personas",
                                     "no_is", "always_on", "no_debias"}  # fmt: skip
    assert "disca_reference" in first["delta_micro"]  # sequential: finished in the results
    assert set(first["diagnostics"]) == {"disca_paper", "disca_reference"}
    json.dumps(records, allow_nan=False)


@pytest.mark.parametrize("fixture", ["paper_run", "reference_run"])
def test_metrics_match_hand_computation(fixture, request):
    header, records, results = request.getfixturevalue(fixture)
    suite = evaluate.suite_from_config(header["config"])
    targets = human_targets(("USA", "JPN", "DEU"))
    for iso, entry in results["countries"].items():
        recs = sorted((r for r in records if r["country"] == iso), key=lambda r: r["pool_position"])
        right = np.array([r["preferred_right"] for r in recs])
        for name, method in suite.items():
            delta = np.array([r["delta_micro"][name] for r in recs])
            if method.sequential:
                delta = core.country_prior(delta, method.params)
                p = np.array(core.p_spare(core.sigmoid(delta / 0.5), right))
            else:
                p = np.array([r["p_spare"][name] for r in recs])
            vector = np.array(
                [np.mean([x for x, r in zip(p, recs, strict=True)
                          if categories.DIMENSION_OF_CATEGORY[r["category"]] == d])
                 for d in categories.DIMENSIONS]
            )  # fmt: skip
            got = entry["methods"][name]
            np.testing.assert_allclose(got["vector"], vector, rtol=0, atol=1e-12)
            human = targets.loc[iso].to_numpy()
            # MIS is the L2 norm on [0, 1]^6
            assert got["mis"] == pytest.approx(np.sqrt(np.sum((vector - human) ** 2)), abs=1e-12)
            assert got["jsd"] == pytest.approx(metrics.jsd(vector, human))
            assert got["pearson"] == pytest.approx(np.corrcoef(vector, human)[0, 1])
            if method.kind == "disca":
                bar = np.array([r["delta_bar"][name] for r in recs])
                assert got["flip_rate"] == pytest.approx(np.mean(np.sign(delta) != np.sign(bar)))
            else:
                assert got["flip_rate"] is None
    primary = results["run"]["primary"]
    mis = {n: [results["countries"][c]["methods"][n]["mis"] for c in ("USA", "JPN", "DEU")]
           for n in suite}  # fmt: skip
    for name in suite:
        assert results["macro"][name]["mis"] == pytest.approx(np.mean(mis[name]))
    for van in ("vanilla_raw", "vanilla_lfl"):
        row = results["vs_vanilla"][van][primary]
        m_van, m_dis = np.mean(mis[van]), np.mean(mis[primary])
        assert row["pct_gain"] == pytest.approx(100 * (m_van - m_dis) / m_van)
        assert row["wins"] == sum(d < v for v, d in zip(mis[van], mis[primary], strict=True))
        assert row["n"] == 3
    for name, row in results["ablations"]["rows"].items():
        assert row["n_hurt"] == sum(a > f for f, a in zip(mis[primary], mis[name], strict=True))
        assert row["delta"] == pytest.approx(np.mean(mis[name]) - np.mean(mis[primary]))
    assert results["coverage"]["complete"] and results["coverage"]["n_records"] == len(records)
    assert results["provenance"] == [PROVENANCE]


def test_reference_prior_is_applied_and_reported(reference_run):
    _, records, results = reference_run
    assert set(results["ablations"]["rows"]) == {
        "no_personas", "no_is", "always_on", "no_debias", "no_prior"
    }  # fmt: skip
    seq = results["sequential"]["disca_reference"]["USA"]
    assert len(seq) == 80
    # past the warm-up the prior changes p_spare relative to the per-scenario value
    recs = sorted((r for r in records if r["country"] == "USA"), key=lambda r: r["pool_position"])
    suite = method_suite("reference")
    micro = [
        finalize(np.array([r["delta_micro"]["no_prior"]]), np.array([r["preferred_right"]]),
                 suite["no_prior"])[1][0]
        for r in recs
    ]  # fmt: skip
    assert seq[recs[0]["scenario_id"]] == pytest.approx(micro[0])
    assert seq[recs[-1]["scenario_id"]] != pytest.approx(micro[-1])


def test_results_do_not_depend_on_record_order(reference_run):
    header, records, results = reference_run
    shuffled = list(records)
    random.Random(0).shuffle(shuffled)
    again = summarize(header, shuffled + shuffled[:5], targets=human_targets(("USA", "JPN", "DEU")))
    for key in ("countries", "macro", "vs_vanilla", "ablations", "sequential"):
        assert again[key] == results[key]


def test_partial_coverage():
    header, records = make_run(countries=("USA", "JPN"), n=5)
    records = [r for r in records if not (r["country"] == "JPN" and r["pool_position"] == 4)]
    results = summarize(header, records, targets=human_targets(("USA", "JPN")))
    usa = results["countries"]["USA"]
    assert usa["n"] == 5 and results["countries"]["JPN"]["n"] == 4
    got = usa["methods"]["disca_paper"]
    covered = [v is not None for v in got["vector"]]
    assert sum(covered) == got["dims_covered"] < 6
    human = np.array(usa["human"])
    vector = np.array([np.nan if v is None else v for v in got["vector"]])
    expected = np.sqrt(np.nansum((vector - human) ** 2))  # MIS over the covered dimensions
    assert got["mis"] == pytest.approx(expected)
    assert got["jsd"] is None and got["pearson"] is None
    cov = results["coverage"]
    assert (cov["expected"], cov["present"], cov["missing"], cov["complete"]) == (10, 9, 1, False)
    notes = " ".join(report.country_table(results).notes)
    assert "INCOMPLETE: 9 of 10" in notes and "covered dimensions only" in notes


def test_shard_scope():
    header, records = make_run(countries=("USA",), n=9, shard=(1, 2))
    results = summarize(header, records, targets=human_targets(("USA",)))
    assert results["coverage"]["expected"] == 4 and results["coverage"]["complete"]
    assert "shard 1/2 only" in " ".join(report.country_table(results).notes)


def test_typed_results_round_trip_the_json(paper_run, reference_run):
    for _, _, results in (paper_run, reference_run):
        typed = Results.from_dict(results)
        assert typed.to_dict() == results  # results.json keeps its format
        assert json.loads(json.dumps(results, allow_nan=False)) == results
        usa = typed.countries["USA"].methods[typed.run.primary]
        assert (
            isinstance(usa, MethodScore)
            and usa.mis == results["countries"]["USA"]["methods"][typed.run.primary]["mis"]
        )
        assert typed.ablation_base == results["ablations"]["base"]


def test_results_of_another_format_are_refused_and_recomputed(paper_run, tmp_path, monkeypatch):
    header, records, results = paper_run
    with pytest.raises(DiscaError, match="disca-edge-results/2"):
        Results.from_dict({**results, "format": "disca-edge-results/2"})
    targets = human_targets(("USA", "JPN", "DEU"))
    monkeypatch.setattr(
        "disca_edge.content.human_targets.load_human_targets", lambda path=None: targets
    )
    with runlog.RunLog.open(tmp_path, header) as run:
        run.append(records)
    runlog.write_results(tmp_path, {**results, "format": "disca-edge-results/2"})
    again = evaluate.load_results(tmp_path)
    assert again["format"] == "disca-edge-results/1" and again["recomputed"]
    assert again["countries"] == results["countries"]


# --------------------------------------------------------------------------- tables


def test_country_table(paper_run):
    _, _, results = paper_run
    table = report.country_table(results)
    assert [r["iso3"] for r in table.rows] == ["USA", "JPN", "DEU"]
    usa = results["countries"]["USA"]["methods"]
    row = table.rows[0]
    assert row["vanilla_raw"] == usa["vanilla_raw"]["mis"]
    assert row["paper"].startswith(report._short(usa["vanilla_raw"]["mis"]) + "→")
    assert table.footer[0]["iso3"] == "Mean"
    assert (
        table.footer[0]["gain"] == results["vs_vanilla"]["vanilla_raw"]["disca_paper"]["pct_gain"]
    )
    assert "vanilla read-out vanilla_raw" in table.title and "variant paper" in table.title
    assert PROVENANCE in table.notes
    assert any(n.startswith("wins (MIS below vanilla): ") for n in table.notes)
    lfl = report.country_table(results, vanilla="vanilla_lfl")
    assert "vanilla read-out vanilla_lfl" in lfl.title


def test_renderings(paper_run):
    _, _, results = paper_run
    tables = [report.country_table(results), report.ablation_table(results)]
    md = report.render(tables, "md")
    assert "| ISO3 | n | vanilla_raw → disca_paper (Δ%)" in md and "| **Mean** |" in md
    assert f"- {PROVENANCE}" in md and "### Ablations of DISCA (paper)" in md
    text = report.render(tables, "csv")
    blocks = text.split("# MultiTP")[1:]
    rows = list(csv.reader(io.StringIO(blocks[0].split("\n", 1)[1])))
    assert rows[0][:4] == ["iso3", "n", "vanilla_raw", "vanilla_lfl"]
    assert rows[1][0] == "USA" and float(rows[1][2]) == pytest.approx(
        results["countries"]["USA"]["methods"]["vanilla_raw"]["mis"]
    )
    data = json.loads(report.render(tables, "json"))
    assert [t["name"] for t in data["tables"]] == ["countries", "ablations"]
    assert "paper" not in data["tables"][0]["columns"]  # view-only cells are left out
    assert (
        data["tables"][0]["rows"][0]["disca_paper"]
        == results["countries"]["USA"]["methods"]["disca_paper"]["mis"]
    )
    from rich.console import Console

    console = Console(record=True, width=200)
    assert report.render(tables, "rich", console=console) is None
    shown = console.export_text()
    assert "personas: authored estimates" in shown and "Mean" in shown and "n hurt" in shown
    with pytest.raises(ValueError, match="fmt"):
        report.render(tables, "html")


def test_dimension_table(paper_run):
    _, _, results = paper_run
    table = report.dimension_table(results, "jpn")
    assert [r["dimension"] for r in table.rows] == [
        "Species", "Gender", "Fitness", "SocialValue", "Age", "Utilitarianism"
    ]  # fmt: skip
    jpn = results["countries"]["JPN"]
    row = table.rows[0]
    assert row["human"] == jpn["human"][0]
    assert row["error_pp"] == pytest.approx(
        100 * (jpn["methods"]["disca_paper"]["vector"][0] - jpn["human"][0])
    )
    md = report.render([table], "md")
    assert "`" in md and "█" in md and PROVENANCE in md
    assert "DISCA variant paper" in table.title and "vanilla read-out vanilla_raw" in table.title
    with pytest.raises(KeyError, match="not in this run"):
        report.dimension_table(results, "FRA")


def test_bar():
    assert report._bar(0.0) == " " * 20
    assert report._bar(1.0) == "█" * 20
    assert report._bar(0.5).rstrip() == "█" * 10
    assert report._bar(0.525).startswith("█" * 10 + "▌")


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
    ab = results["ablations"]["rows"]["no_personas"]
    sign = "+" if ab["delta"] >= 0 else "−"
    assert (
        row["paper"]
        == f"{report._short(ab['mis'])} ({sign}{report._short(abs(ab['delta']))}, {ab['n_hurt']})"
    )
    assert [r["method"] for r in table.footer] == ["vanilla_raw", "vanilla_lfl"]
    assert any("country prior on in every ablation" in n for n in table.notes)
    assert "variant reference" in table.title and PROVENANCE in table.notes


def test_compare_table(paper_run, reference_run):
    a, b = paper_run[2], reference_run[2]
    table = report.compare_table(a, b, names=("runA", "runB"))
    assert [c.header for c in table.columns][2] == "runA disca_paper"
    assert table.rows[0]["diff"] == pytest.approx(
        b["countries"]["USA"]["methods"]["disca_reference"]["mis"]
        - a["countries"]["USA"]["methods"]["disca_paper"]["mis"]
    )
    assert "runA: variant paper, runB: variant reference" in table.title
    assert PROVENANCE in table.notes


# --------------------------------------------------------------------------- CLI


def write_run(directory, header, records, results):
    with runlog.RunLog.open(directory, header) as run:
        run.append(records)
        run.finish("success")
    runlog.write_results(directory, {**results, "coverage": {**results["coverage"]}})


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
    assert [t["name"] for t in json.loads(result.output)["tables"]] == ["countries", "ablations"]
    result = runner.invoke(
        cli, ["report", str(tmp_path / "a"), "--country", "JPN", "--format", "md"]
    )
    assert result.exit_code == 0 and "### JPN: preference per dimension" in result.output
    result = runner.invoke(cli, ["report", str(tmp_path / "a"), "--compare", str(tmp_path / "b"),
                                 "--vanilla", "lfl", "--format", "csv"])  # fmt: skip
    assert result.exit_code == 0 and "vanilla read-out vanilla_lfl" in result.output
    result = runner.invoke(cli, ["report", str(tmp_path / "a"), "--country", "FRA"])
    assert result.exit_code == 1 and "not in this run" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "not a run directory" in result.output


def test_cli_report_recomputes_stale_results(tmp_path, shared_data):
    runner = CliRunner()
    acme = shared_data / "multitp" / "country_specific_ACME.csv"
    assert runner.invoke(cli, ["data", "pull", "moral-machine", "--from", str(acme)]).exit_code == 0
    header, records = make_run(countries=("USA", "JPN"), n=12)
    with runlog.RunLog.open(tmp_path, header) as run:
        run.append(records[:20])  # the last 4 are missing, as after kill -9
    results = evaluate.load_results(tmp_path)
    assert results["recomputed"] and results["coverage"]["present"] == 20
    runlog.write_results(tmp_path, results)
    assert evaluate.load_results(tmp_path) == results  # fresh: read as is
    with runlog.RunLog.open(tmp_path, header) as run:
        run.append(records[20:])
    fresh = evaluate.load_results(tmp_path)
    assert fresh["recomputed"] and fresh["coverage"]["complete"]
    result = runner.invoke(cli, ["report", str(tmp_path), "--format", "md"])
    assert (
        result.exit_code == 0 and "| USA |" in result.output and "INCOMPLETE" not in result.output
    )


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
    assert evaluate.parse_shard("1/3") == (1, 3) and evaluate.parse_shard("0/1") is None
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
    old_results = summarize(old, records, targets=human_targets(("USA", "JPN", "DEU")))
    assert old_results["run"]["prompt_protocol"] == 1  # read from the config
    del old_results["run"]["prompt_protocol"]  # a results.json of that time
    write_run(tmp_path / "before", old, records, old_results)
    runner = CliRunner()
    now = runner.invoke(cli, ["report", str(tmp_path / "now"), "--format", "md"])
    before = runner.invoke(cli, ["report", str(tmp_path / "before"), "--format", "md"])
    assert now.exit_code == 0 and before.exit_code == 0, now.output + before.output
    line = [x for x in now.output.splitlines() if "prompt protocol" in x]
    assert len(line) == 1 and "prompt protocol 2: labels swapped in the scenario text" in line[0]
    line = [x for x in before.output.splitlines() if "prompt protocol" in x]
    assert len(line) == 1 and "prompt protocol 1: labels swapped across the whole user" in line[0]
