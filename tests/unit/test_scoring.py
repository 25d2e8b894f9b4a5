"""Scoring a run (`scoring.score_run`) and reading a run folder's results, no model needed.

Records come from random logits through the real method code (`test_report.make_run`),
or are written by hand with known p_spare values, so MIS, gains, wins and the ablation
rows can be checked against arithmetic done here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from test_report import PROVENANCE, human_targets, make_run, scored_run

from disca_edge.cli import cli
from disca_edge.content.scenarios import disca_pool
from disca_edge.errors import DiscaError
from disca_edge.evals import runlog
from disca_edge.evals.results import CountryResult, MethodScore, Results
from disca_edge.evals.scoring import read_run_results, score_run, write_run_results
from disca_edge.maths import categories, core, metrics
from disca_edge.maths.methods import finalize, method_suite, suite_from_config
from disca_edge.views import tables


@pytest.fixture(scope="module")
def paper_run():
    return scored_run()


@pytest.fixture(scope="module")
def reference_run():
    return scored_run(variant="reference", n=80, seed=1)


@pytest.fixture
def fake_targets(monkeypatch):
    """`human_targets.load_human_targets` returns `make_run`'s synthetic targets."""
    targets = human_targets(("USA", "JPN", "DEU"))
    monkeypatch.setattr(
        "disca_edge.content.human_targets.load_human_targets", lambda path=None: targets
    )
    return targets


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


# --------------------------------------------------------------------------- by hand

#: p_spare per dimension (one scenario each), in `categories.DIMENSIONS` order; human 0.7.
HAND = {
    "USA": {"vanilla": [0.5] * 6, "disca": [0.7] * 5 + [0.6]},
    "JPN": {"vanilla": [0.7] * 5 + [0.4], "disca": [0.5] * 6},
}
SHORT = ["Species", "Gender", "Fitness", "SocialValue", "Age", "Utilitarianism"]


def hand_run() -> tuple[dict, list[dict], pd.DataFrame]:
    """Two countries x 6 scenarios (one per dimension) with chosen p_spare values.

    vanilla_raw and no_is get the "vanilla" values, every other method the "disca" ones
    (t_dec = 0.5: δ = 0.5·logit(p), preferred group on the right so p_spare = p_B).
    """
    header, _ = make_run(countries=("USA", "JPN"), n=6)
    suite = suite_from_config(header["config"])
    assert all(m.params.t_dec == 0.5 for m in suite.values())
    records = []
    for iso, values in HAND.items():
        for d, short in enumerate(SHORT):
            delta = {
                name: 0.5 * math.log(p / (1 - p))
                for name in suite
                for p in [values["vanilla" if name in ("vanilla_raw", "no_is") else "disca"][d]]
            }
            records.append(
                {"country": iso, "scenario_id": f"s{d}", "pool_position": d, "category": short,
                 "preferred_right": True, "unordered_key": f"{iso}{d}", "delta_micro": delta}
            )  # fmt: skip
    targets = pd.DataFrame(0.7, index=["USA", "JPN"], columns=list(categories.DIMENSIONS))
    return header, records, targets


def test_scores_match_arithmetic_on_hand_made_records():
    header, records, targets = hand_run()
    results = score_run(header, records, targets=targets)
    assert isinstance(results, Results) and isinstance(results.countries["USA"], CountryResult)
    usa, jpn = results.countries["USA"], results.countries["JPN"]
    assert usa.methods["disca_paper"].vector == pytest.approx(HAND["USA"]["disca"], abs=1e-12)
    assert usa.n == 6 and usa.n_per_dimension == dict.fromkeys(categories.DIMENSIONS, 1)
    # MIS = L2 distance to the human 0.7s
    mis = {
        ("USA", "vanilla"): math.sqrt(6 * 0.2**2), ("USA", "disca"): 0.1,
        ("JPN", "vanilla"): 0.3, ("JPN", "disca"): math.sqrt(6 * 0.2**2),
    }  # fmt: skip
    assert usa.methods["vanilla_raw"].mis == pytest.approx(mis["USA", "vanilla"], abs=1e-12)
    assert usa.methods["disca_paper"].mis == pytest.approx(0.1, abs=1e-12)
    assert jpn.methods["vanilla_raw"].mis == pytest.approx(0.3, abs=1e-12)
    assert usa.methods["disca_paper"].worst_dimension == "Utilitarianism_More"
    assert usa.methods["disca_paper"].flip_rate is None  # no δ̄ recorded
    assert usa.methods["disca_paper"].option_order_consistency is None  # no set in both orders
    macro_van = (mis["USA", "vanilla"] + mis["JPN", "vanilla"]) / 2
    macro_dis = (mis["USA", "disca"] + mis["JPN", "disca"]) / 2
    assert results.macro["disca_paper"].mis == pytest.approx(macro_dis, abs=1e-12)
    assert results.macro["disca_paper"].n_countries == 2
    vs = results.vs_vanilla["vanilla_raw"]["disca_paper"]
    assert vs.pct_gain == pytest.approx(100 * (macro_van - macro_dis) / macro_van, abs=1e-9)
    assert (vs.wins, vs.n) == (1, 2)  # better in USA, worse in JPN
    assert vs.per_country_pct_gain["JPN"] == pytest.approx(
        100 * (0.3 - mis["JPN", "disca"]) / 0.3, abs=1e-9
    )
    no_is = results.ablations["no_is"]  # the vanilla values: hurts USA only
    assert (no_is.n_hurt, no_is.n) == (1, 2)
    assert no_is.delta == pytest.approx(macro_van - macro_dis, abs=1e-12)
    assert results.ablations["no_personas"].delta == pytest.approx(0.0, abs=1e-12)
    cov = results.coverage
    assert (cov.expected, cov.present, cov.missing, cov.complete) == (12, 12, 0, True)
    assert results.run.primary == "disca_paper" and results.label("disca_paper") == "DISCA (paper)"


def test_countries_without_targets_are_refused():
    header, records, targets = hand_run()
    with pytest.raises(DiscaError, match="no Moral Machine targets for JPN"):
        score_run(header, records, targets=targets.loc[["USA"]])


# --------------------------------------------------------------------------- synthetic logits


@pytest.mark.parametrize("fixture", ["paper_run", "reference_run"])
def test_metrics_match_hand_computation(fixture, request):
    header, records, results = request.getfixturevalue(fixture)
    suite = suite_from_config(header["config"])
    targets = human_targets(("USA", "JPN", "DEU"))
    for iso, entry in results.countries.items():
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
            got = entry.methods[name]
            np.testing.assert_allclose(got.vector, vector, rtol=0, atol=1e-12)
            human = targets.loc[iso].to_numpy()
            # MIS is the L2 norm on [0, 1]^6
            assert got.mis == pytest.approx(np.sqrt(np.sum((vector - human) ** 2)), abs=1e-12)
            assert got.jsd == pytest.approx(metrics.jsd(vector, human))
            assert got.pearson == pytest.approx(np.corrcoef(vector, human)[0, 1])
            if method.kind == "disca":
                bar = np.array([r["delta_bar"][name] for r in recs])
                assert got.flip_rate == pytest.approx(np.mean(np.sign(delta) != np.sign(bar)))
            else:
                assert got.flip_rate is None
    primary = results.run.primary
    mis = {n: [results.countries[c].methods[n].mis for c in ("USA", "JPN", "DEU")]
           for n in suite}  # fmt: skip
    for name in suite:
        assert results.macro[name].mis == pytest.approx(np.mean(mis[name]))
    for van in ("vanilla_raw", "vanilla_lfl"):
        row = results.vs_vanilla[van][primary]
        m_van, m_dis = np.mean(mis[van]), np.mean(mis[primary])
        assert row.pct_gain == pytest.approx(100 * (m_van - m_dis) / m_van)
        assert row.wins == sum(d < v for v, d in zip(mis[van], mis[primary], strict=True))
        assert row.n == 3
    for name, row in results.ablations.items():
        assert row.n_hurt == sum(a > f for f, a in zip(mis[primary], mis[name], strict=True))
        assert row.delta == pytest.approx(np.mean(mis[name]) - np.mean(mis[primary]))
    assert results.coverage.complete and results.coverage.n_records == len(records)
    assert results.provenance == [PROVENANCE]


def test_reference_prior_is_applied_and_reported(reference_run):
    _, records, results = reference_run
    assert set(results.ablations) == {"no_personas", "no_is", "always_on", "no_debias", "no_prior"}
    seq = results.sequential["disca_reference"]["USA"]
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
    again = score_run(header, shuffled + shuffled[:5], targets=human_targets(("USA", "JPN", "DEU")))
    for key in ("countries", "macro", "vs_vanilla", "ablations", "sequential"):
        assert getattr(again, key) == getattr(results, key)


def test_partial_coverage():
    header, records = make_run(countries=("USA", "JPN"), n=5)
    records = [r for r in records if not (r["country"] == "JPN" and r["pool_position"] == 4)]
    results = score_run(header, records, targets=human_targets(("USA", "JPN")))
    usa = results.countries["USA"]
    assert usa.n == 5 and results.countries["JPN"].n == 4
    got = usa.methods["disca_paper"]
    covered = [v is not None for v in got.vector]
    assert sum(covered) == got.dims_covered < 6
    human = np.array(usa.human)
    vector = np.array([np.nan if v is None else v for v in got.vector])
    expected = np.sqrt(np.nansum((vector - human) ** 2))  # MIS over the covered dimensions
    assert got.mis == pytest.approx(expected)
    assert got.jsd is None and got.pearson is None
    cov = results.coverage
    assert (cov.expected, cov.present, cov.missing, cov.complete) == (10, 9, 1, False)
    notes = " ".join(tables.country_table(results).notes)
    assert "INCOMPLETE: 9 of 10" in notes and "covered dimensions only" in notes


def test_shard_scope():
    header, records = make_run(countries=("USA",), n=9, shard=(1, 2))
    results = score_run(header, records, targets=human_targets(("USA",)))
    assert results.coverage.expected == 4 and results.coverage.complete
    assert "shard 1/2 only" in " ".join(tables.country_table(results).notes)


def test_scored_results_round_trip_the_json(paper_run, reference_run):
    for _, _, results in (paper_run, reference_run):
        data = results.to_dict()
        assert json.loads(json.dumps(data, allow_nan=False)) == data
        assert Results.from_dict(data) == results
        usa = results.countries["USA"].methods[results.run.primary]
        assert isinstance(usa, MethodScore)
        assert data["countries"]["USA"]["methods"][results.run.primary]["mis"] == usa.mis
        assert data["ablations"]["base"] == results.ablation_base


# --------------------------------------------------------------------------- run folders


def write_samples(directory, header, records) -> None:
    with runlog.RunLog.open(directory, header) as run:
        run.append(records)


def test_written_results_are_read_back_as_they_are(paper_run, tmp_path, fake_targets):
    header, records, results = paper_run
    write_samples(tmp_path, header, records)
    assert read_run_results(tmp_path).recomputed  # no results.json yet
    path = write_run_results(tmp_path, results)
    assert path == tmp_path / runlog.RESULTS_FILE
    again = read_run_results(tmp_path)
    assert again == results and not again.recomputed
    fresh = read_run_results(tmp_path, recompute=True)
    assert fresh.recomputed and fresh.countries == results.countries


def test_results_of_another_format_are_recomputed(paper_run, tmp_path, fake_targets):
    header, records, results = paper_run
    write_samples(tmp_path, header, records)
    runlog.write_results(tmp_path, {**results.to_dict(), "format": "disca-edge-results/2"})
    again = read_run_results(tmp_path)
    assert again.format == "disca-edge-results/1" and again.recomputed
    assert again.countries == results.countries


def test_malformed_results_are_recomputed(paper_run, tmp_path, fake_targets):
    header, records, results = paper_run
    write_samples(tmp_path, header, records)
    broken = results.to_dict()
    del broken["countries"]["USA"]["methods"]
    runlog.write_results(tmp_path, broken)
    again = read_run_results(tmp_path)
    assert again.recomputed and again.countries == results.countries


def test_stale_results_are_recomputed(tmp_path, acme):
    runner = CliRunner()
    assert runner.invoke(cli, ["data", "pull", "moral-machine", "--from", str(acme)]).exit_code == 0
    header, records = make_run(countries=("USA", "JPN"), n=12)
    write_samples(tmp_path, header, records[:20])  # the last 4 are missing, as after kill -9
    results = read_run_results(tmp_path)
    assert results.recomputed and results.coverage.present == 20
    assert results.human_targets is not None and results.human_targets.sha256  # the real file
    write_run_results(tmp_path, results)
    assert read_run_results(tmp_path) == results  # fresh: read as is
    write_samples(tmp_path, header, records[20:])
    fresh = read_run_results(tmp_path)
    assert fresh.recomputed and fresh.coverage.complete
    assert dataclasses.replace(fresh, recomputed=False) != results
    result = runner.invoke(cli, ["report", str(tmp_path), "--format", "md"])
    assert (
        result.exit_code == 0 and "| USA |" in result.output and "INCOMPLETE" not in result.output
    )


def test_read_run_results_errors(tmp_path):
    with pytest.raises(DiscaError, match="not a run directory"):
        read_run_results(tmp_path)


def test_a_record_without_a_method_of_the_config_is_named():
    header, records = make_run(countries=("USA",), n=4)
    records[2] = {**records[2], "delta_micro": dict(records[2]["delta_micro"])}
    del records[2]["delta_micro"]["no_is"]
    with pytest.raises(DiscaError) as refused:
        score_run(header, records, targets=human_targets(("USA",)))
    assert str(refused.value).startswith(
        f"record USA/{records[2]['scenario_id']} has no delta_micro for no_is, a method of the "
        "run's config"
    )
