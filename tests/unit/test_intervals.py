"""Bootstrap intervals stored by `scoring.score_run` (`evals.intervals`), with known answers.

Hand-made records whose scenarios agree within each dimension must give zero-width
intervals at the point values; records from random logits must give exactly what a
direct `maths.bootstrap` call with the documented seed gives (basic intervals, MIS cut
at 0); a country with too few scenarios in a dimension gets none, and no significant
wins are counted; the σ-floor share, the prompt variant and the registry's
``paper_backbone`` are read from what the run recorded.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
from test_report import human_targets, make_run, scored_run
from test_scoring import hand_run

from disca_edge.evals import intervals, runlog
from disca_edge.evals.results import PromptVariant
from disca_edge.evals.scoring import read_run_results, score_run, write_run_results
from disca_edge.maths import bootstrap

COUNTRIES = ("USA", "JPN", "DEU")


@pytest.fixture(scope="module")
def paper_run():
    """40 scenarios a country: two dimensions have fewer than MIN_PER_DIMENSION."""
    return scored_run()


@pytest.fixture(scope="module")
def wide_run():
    """180 scenarios a country: every dimension has at least MIN_PER_DIMENSION (10)."""
    return scored_run(n=180)


def repeated(records, times=bootstrap.MIN_PER_DIMENSION):
    """Each hand-made scenario `times` times (new ids), so resamples have choices to make."""
    out = []
    for copy_index in range(times):
        for r in records:
            out.append({**r, "scenario_id": f"{r['scenario_id']}-{copy_index}",
                        "pool_position": r["pool_position"] + 6 * copy_index,
                        "unordered_key": f"{r['unordered_key']}-{copy_index}"})  # fmt: skip
    return out


def test_identical_scenarios_give_zero_width_intervals_at_the_point():
    header, records, targets = hand_run()
    header = copy.deepcopy(header)
    header["scope"]["limit"] = 60
    results = score_run(header, repeated(records), targets=targets)
    assert results.countries["USA"].n == 60
    for iso, entry in results.countries.items():
        for name, score in entry.methods.items():
            if results.methods[name].sequential:  # its prior makes the repeats differ
                continue
            low, high = score.mis_interval
            assert low == pytest.approx(score.mis, abs=1e-12), (iso, name)
            assert high == pytest.approx(score.mis, abs=1e-12), (iso, name)
    vs = results.vs_vanilla["vanilla_raw"]["disca_paper"]
    usa_diff = 0.1 - math.sqrt(6 * 0.2**2)  # DISCA better in USA, worse in JPN
    assert vs.per_country_difference["USA"] == pytest.approx(usa_diff, abs=1e-12)
    assert vs.per_country_difference_interval["USA"] == pytest.approx([usa_diff] * 2, abs=1e-12)
    macro = (usa_diff + math.sqrt(6 * 0.2**2) - 0.3) / 2
    assert vs.difference == pytest.approx(macro, abs=1e-12)
    assert vs.difference_interval == pytest.approx([macro] * 2, abs=1e-12)
    assert (vs.wins, vs.wins_significant, vs.hurt_significant, vs.n) == (1, 1, 1, 2)
    assert vs.pct_gain_interval == pytest.approx([vs.pct_gain] * 2, abs=1e-9)
    no_is = results.ablations["no_is"]  # the vanilla values: hurts USA only
    assert (no_is.n_hurt, no_is.n_hurt_significant) == (1, 1)
    assert no_is.delta_interval == pytest.approx([no_is.delta] * 2, abs=1e-12)
    assert results.bootstrap.n_resamples == 1000 and results.bootstrap.level == 0.95


def test_intervals_equal_a_direct_bootstrap_with_the_documented_seed(wide_run):
    header, records, results = wide_run
    targets = human_targets(COUNTRIES)
    info = results.bootstrap
    assert info.seed == header["config"]["data_seed"] == 42 and info.min_per_dimension == 10
    names = ("vanilla_raw", "vanilla_lfl", "disca_paper")
    resampled, points = {}, {}
    for iso in COUNTRIES:
        recs = sorted((r for r in records if r["country"] == iso), key=lambda r: r["pool_position"])
        p = np.array([[r["p_spare"][n] for r in recs] for n in names])
        dims = bootstrap.dimension_indices([r["category"] for r in recs])
        rng = np.random.default_rng([42, bootstrap.country_key(iso)])
        vectors = bootstrap.resampled_vectors(p, dims, n_resamples=1000, rng=rng)
        resampled[iso] = bootstrap.resampled_mis(vectors, targets.loc[iso].to_numpy())
        got = results.countries[iso].methods
        points[iso] = np.array([got[n].mis for n in names])
        for m, name in enumerate(names):
            low, high = bootstrap.basic_interval(resampled[iso][m], points[iso][m])
            np.testing.assert_allclose(got[name].mis_interval, [max(low, 0), high], rtol=1e-12)
        diff = bootstrap.basic_interval(
            resampled[iso][2] - resampled[iso][0], points[iso][2] - points[iso][0]
        )
        vs = results.vs_vanilla["vanilla_raw"]["disca_paper"]
        np.testing.assert_allclose(vs.per_country_difference_interval[iso], diff, rtol=1e-12)
    macro = np.mean([resampled[c] for c in COUNTRIES], axis=0)  # ndarray[3 methods, B]
    macro_point = np.mean([points[c] for c in COUNTRIES], axis=0)
    np.testing.assert_allclose(
        results.macro["disca_paper"].mis_interval,
        bootstrap.basic_interval(macro[2], macro_point[2]),
        rtol=1e-12,
    )
    vs = results.vs_vanilla["vanilla_lfl"]["disca_paper"]
    np.testing.assert_allclose(
        vs.difference_interval,
        bootstrap.basic_interval(macro[2] - macro[1], macro_point[2] - macro_point[1]),
        rtol=1e-12,
    )
    gain = 100 * (macro[1] - macro[2]) / macro[1]
    np.testing.assert_allclose(
        vs.pct_gain_interval, bootstrap.basic_interval(gain, vs.pct_gain), rtol=1e-12
    )
    raw = results.vs_vanilla["vanilla_raw"]["disca_paper"]
    bounds = raw.per_country_difference_interval.values()
    assert raw.wins_significant == sum(high < 0 for _, high in bounds)
    assert raw.hurt_significant == sum(low > 0 for low, _ in bounds)


def test_too_few_scenarios_in_a_dimension_give_no_interval_and_no_significant_wins(paper_run):
    _, records, results = paper_run
    usa = [r for r in records if r["country"] == "USA"]
    counts = np.bincount(bootstrap.dimension_indices([r["category"] for r in usa]))
    assert counts.min() < bootstrap.MIN_PER_DIMENSION  # 40 scenarios: Species has 2
    for entry in results.countries.values():
        assert all(m.mis is not None and m.mis_interval is None for m in entry.methods.values())
    vs = results.vs_vanilla["vanilla_raw"]["disca_paper"]
    assert vs.wins == sum(  # the raw count stays
        c.methods["disca_paper"].mis < c.methods["vanilla_raw"].mis
        for c in results.countries.values()
    )
    assert vs.wins_significant is None and vs.hurt_significant is None
    assert vs.per_country_difference_interval == {} and vs.difference_interval is None
    assert results.macro["disca_paper"].mis_interval is None
    assert results.ablations["no_is"].n_hurt_significant is None


def test_the_data_seed_and_n_resamples_set_the_draws():
    header, records = make_run(countries=("USA",), n=180)
    targets = human_targets(("USA",))
    base = score_run(header, records, targets=targets, n_resamples=200)
    assert base.bootstrap.n_resamples == 200
    again = score_run(header, records, targets=targets, n_resamples=200)
    assert again.countries == base.countries  # seeded: reproducible
    other = copy.deepcopy(header)
    other["config"]["data_seed"] = 7
    moved = score_run(other, records, targets=targets, n_resamples=200)
    usa, usa_moved = base.countries["USA"], moved.countries["USA"]
    assert usa_moved.methods["disca_paper"].mis == usa.methods["disca_paper"].mis
    assert usa_moved.methods["disca_paper"].mis_interval != usa.methods["disca_paper"].mis_interval
    is_seed = copy.deepcopy(header)
    is_seed["config"]["is_seed"] = 7  # the IS seed does not move the resamples
    same = score_run(is_seed, records, targets=targets, n_resamples=200)
    assert same.countries == base.countries


def test_a_method_without_finite_values_has_no_resamples_and_no_counts():
    info = intervals.settings(42, n_resamples=100)
    p = {"a": np.full(20, 0.6), "b": np.r_[np.nan, np.full(19, 0.4)], "c": np.zeros(0)}
    cats, human = ["Age", "Species"] * 10, np.full(6, 0.5)
    got = intervals.country_resamples(p, cats, human, "USA", info)
    assert set(got) == {"a"} and got["a"].shape == (100,)
    few = {k: v[:18] for k, v in p.items()}  # 9 scenarios of each: under the minimum
    assert intervals.country_resamples(few, cats[:18], human, "USA", info) == {}
    assert intervals.interval(None, 0.5, 0.95) is None
    assert intervals.interval(got["a"], None, 0.95) is None
    assert intervals.interval(np.array([1.0, np.nan]), 0.5, 0.95) is None
    assert intervals.interval(np.array([0.5, 0.9]), 0.1, 0.5, floor=0.0)[0] == 0.0  # cut at 0
    resamples = {"USA": {"a": got["a"], "b": got["a"] - 0.1}, "JPN": {"a": got["a"]}}
    paired = intervals.paired({"USA": (0.5, 0.4), "JPN": (0.5, 0.6)}, resamples, "a", "b", 0.95)
    assert paired.per_country == pytest.approx({"USA": -0.1, "JPN": 0.1})
    assert paired.per_country_interval["USA"] == pytest.approx([-0.1, -0.1])  # 2·(−0.1) − q
    assert "JPN" not in paired.per_country_interval  # no resamples of b there
    assert paired.below is None and paired.above is None and paired.macro_interval is None
    assert paired.macro == pytest.approx(0.0)
    empty = intervals.paired({}, {}, "a", "b", 0.95)
    assert (empty.below, empty.above, empty.macro, empty.macro_interval) == (0, 0, None, None)


def test_sigma_at_floor_is_the_share_of_floored_scenarios(paper_run):
    header, records, results = paper_run
    floor = header["config"]["methods"]["disca_paper"]["params"]["sigma_floor"]
    usa = [r for r in records if r["country"] == "USA"]
    want = np.mean([r["diagnostics"]["disca_paper"]["sigma"] <= floor + 1e-12 for r in usa])
    assert results.countries["USA"].methods["disca_paper"].sigma_at_floor == pytest.approx(want)
    assert results.countries["USA"].methods["vanilla_raw"].sigma_at_floor is None
    floored = copy.deepcopy(records)
    for r in floored[: len(usa) * 3 // 4]:  # three quarters of USA's scenarios
        r["diagnostics"]["disca_paper"]["sigma"] = floor
    again = score_run(header, floored, targets=human_targets(COUNTRIES))
    share = again.countries["USA"].methods["disca_paper"].sigma_at_floor
    assert share >= 0.75


@pytest.mark.parametrize(
    ("model", "backbone"), [("phi-4", True), ("smollm2-135m", False), ("fake-model", None)]
)
def test_paper_backbone_comes_from_the_registry(model, backbone):
    header, records, targets = hand_run()
    header = copy.deepcopy(header)
    header["model"]["name"] = model
    assert score_run(header, records, targets=targets).run.paper_backbone is backbone


def test_prompt_variant_is_read_from_the_config():
    header, records, targets = hand_run()
    assert score_run(header, records, targets=targets).run.prompts == PromptVariant(
        cap=80, min_per_category=0, fourth="aggregate", drop_dims=[]
    )
    header = copy.deepcopy(header)
    header["config"]["pool"] = {"cap": None, "min_per_category": 36}
    header["config"]["personas"] = {"fourth": "utilitarian", "drop_dims": ["religion"]}
    prompts = score_run(header, records, targets=targets).run.prompts
    assert prompts == PromptVariant(None, 36, "utilitarian", ["religion"])
    del header["config"]["pool"], header["config"]["personas"]  # a run from before variants
    assert score_run(header, records, targets=targets).run.prompts == PromptVariant()


def test_results_without_intervals_are_rescored_on_reading(paper_run, tmp_path, monkeypatch):
    header, records, results = paper_run
    monkeypatch.setattr(
        "disca_edge.content.human_targets.load_human_targets",
        lambda path=None: human_targets(COUNTRIES),
    )
    with runlog.RunLog.open(tmp_path, header) as run:
        run.append(records)
    old = dataclasses.replace(results, bootstrap=None)  # as written before intervals
    write_run_results(tmp_path, old)
    assert "bootstrap" not in runlog.read_results(tmp_path)
    again = read_run_results(tmp_path)
    assert again.recomputed and again.bootstrap == results.bootstrap
    assert again.countries == results.countries


def test_settings_fall_back_to_the_default_seed():
    assert intervals.settings(None).seed == intervals.DEFAULT_SEED
    assert intervals.settings(7, n_resamples=50).n_resamples == 50
