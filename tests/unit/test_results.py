"""The typed results (`evals.results`): round trips through the ``results.json`` mapping."""

from __future__ import annotations

import dataclasses
import json

import pytest

from disca_edge.errors import DiscaError
from disca_edge.evals.results import (
    RESULTS_FORMAT,
    AblationRow,
    BootstrapInfo,
    CountryNoise,
    CountryResult,
    Coverage,
    MacroScore,
    MethodInfo,
    MethodScore,
    NoiseFloor,
    PromptLanguage,
    PromptVariant,
    Results,
    RunInfo,
    TargetsSource,
    VanillaComparison,
)
from disca_edge.maths import categories


def score(mis: float | None, covered: int = 6, interval=None) -> MethodScore:
    vector = [0.5 + 0.01 * i if i < covered else None for i in range(6)]
    return MethodScore(
        vector, covered, mis, jsd=0.01 if covered == 6 else None, mis_interval=interval
    )


def small_noise() -> NoiseFloor:
    """USA: noise above both its persona effects and DISCA's shift; THA: below both."""
    return NoiseFloor(
        setting="f16",
        engine={"kv_type": "f16", "n_ubatch": 63, "flash_attn": 1},
        run_engine={"kv_type": "q8_0", "n_ubatch": 512, "flash_attn": 1},
        method="disca_paper",
        n_records=5,
        countries={
            "USA": CountryNoise(3, 0.05, 0.12, 0.31, 0.09, 0.04, True, True),
            "THA": CountryNoise(2, 0.01, 0.02, 0.05, 0.2, 0.1, False, False),
        },
    )


def small_results(**changes) -> Results:
    """Two countries, two methods, one ablation; every field set by hand."""
    countries = {
        "USA": CountryResult(
            n=6, n_expected=6, n_per_dimension=dict.fromkeys(categories.DIMENSIONS, 1),
            human=[0.7] * 6, panel_sha256="a" * 64, provenance="authored-estimate",
            methods={"vanilla_raw": score(0.4, interval=[0.3, 0.5]),
                     "disca_paper": dataclasses.replace(score(0.2, interval=[0.15, 0.3]),
                                                        sigma_at_floor=0.75)},
            language=PromptLanguage("native", "en", "en", False, "b" * 64),
        ),
        "THA": CountryResult(
            n=2, n_expected=6, n_per_dimension={}, human=[0.6] * 6, panel_sha256=None,
            provenance=None, methods={"vanilla_raw": score(0.5, 2), "disca_paper": score(None, 0)},
            language=PromptLanguage("native", "th", "en", True),
        ),
    }  # fmt: skip
    results = Results(
        created="2025-01-01T00:00:00+00:00",
        run=RunInfo(
            model="m",
            model_sha256="f" * 64,
            fingerprint="c" * 64,
            variant="paper",
            primary="disca_paper",
            ablation_base="disca_paper",
            vanilla=["vanilla_raw"],
            is_seed=42,
            data_seed=42,
            status="success",
            countries=["USA", "THA"],
            limit=6,
            shard=None,
            lang="native",
            prompts=PromptVariant(cap=40, drop_dims=["religion"]),
            paper_backbone=False,
        ),  # fmt: skip
        provenance=["personas: authored"],
        human_targets=TargetsSource("d" * 64, "file.csv", "2025-01-01"),
        coverage=Coverage(12, 8, 4, False, 6, 6, None, 8),
        dimensions=list(categories.DIMENSIONS),
        methods={
            "vanilla_raw": MethodInfo("Vanilla", "vanilla_raw"),
            "disca_paper": MethodInfo("DISCA (paper)", "disca"),
            "no_is": MethodInfo("No-IS", "disca", "disca_paper"),
        },
        countries=countries,
        macro={
            "vanilla_raw": MacroScore(0.45, None, None, None, None, None, 2, [0.4, 0.5]),
            "disca_paper": MacroScore(0.2, 0.01, None, None, None, None, 1, [0.15, 0.3]),
            "no_is": MacroScore(0.3, None, None, None, None, None, 1),
        },
        vs_vanilla={
            "vanilla_raw": {
                "disca_paper": VanillaComparison(
                    50.0,
                    1,
                    1,
                    {"USA": 50.0},
                    pct_gain_interval=[30.0, 60.0],
                    difference=-0.2,
                    difference_interval=[-0.3, -0.1],
                    wins_significant=1,
                    hurt_significant=0,
                    per_country_difference={"USA": -0.2},
                    per_country_difference_interval={"USA": [-0.3, -0.1]},
                )
            }
        },
        ablation_base="disca_paper",
        ablations={"no_is": AblationRow(0.3, 0.1, 1, 1, [0.05, 0.15], 1)},
        sequential={"disca_reference": {"USA": {"s0": 0.25}}},
        bootstrap=BootstrapInfo(1000, 0.95, 42),
    )
    return dataclasses.replace(results, **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"recomputed": True},
        {"human_targets": None},
        {"sequential": {}},
        {"noise": small_noise()},
        {"bootstrap": None},
    ],
    ids=["plain", "recomputed", "no-targets", "no-sequential", "noise", "no-intervals"],
)
def test_round_trip_through_the_json_mapping(changes):
    results = small_results(**changes)
    data = results.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data  # JSON-ready as it is
    assert Results.from_dict(data) == results
    assert Results.from_dict(json.loads(json.dumps(data))) == results


def test_the_mapping_has_the_results_json_layout():
    data = small_results().to_dict()
    assert list(data) == [
        "format", "created", "run", "provenance", "human_targets", "coverage", "dimensions",
        "methods", "countries", "macro", "vs_vanilla", "ablations", "sequential", "bootstrap",
    ]  # fmt: skip
    assert data["format"] == RESULTS_FORMAT == "disca-edge-results/1"
    assert data["ablations"] == {"base": "disca_paper", "rows": {"no_is": {
        "mis": 0.3, "delta": 0.1, "n_hurt": 1, "n": 1, "delta_interval": [0.05, 0.15],
        "n_hurt_significant": 1}}}  # fmt: skip
    assert data["bootstrap"] == {
        "n_resamples": 1000,
        "level": 0.95,
        "seed": 42,
        "min_per_dimension": 10,
        "method": "stratified scenario bootstrap within dimension, basic intervals",
    }
    assert data["run"]["prompts"] == {
        "cap": 40,
        "min_per_category": 0,
        "fourth": "aggregate",
        "drop_dims": ["religion"],
        "anchor_text": None,
    }
    assert data["run"]["paper_backbone"] is False
    usa = data["countries"]["USA"]["methods"]["disca_paper"]
    assert usa["mis_interval"] == [0.15, 0.3] and usa["sigma_at_floor"] == 0.75
    vs = data["vs_vanilla"]["vanilla_raw"]["disca_paper"]
    assert vs["per_country_difference_interval"] == {"USA": [-0.3, -0.1]}
    assert vs["wins"] == 1 and vs["wins_significant"] == 1  # wins keeps its meaning: raw
    assert "noise" not in data
    noisy = small_results(noise=small_noise()).to_dict()["noise"]
    assert list(noisy) == ["setting", "engine", "run_engine", "method", "n_records", "countries"]
    assert noisy["countries"]["USA"] == {
        "n": 3, "floor_median": 0.05, "floor_p95": 0.12, "max_logit_diff": 0.31,
        "persona_effect": 0.09, "shift": 0.04, "shift_below_floor": True,
        "effects_below_floor": True,
    }  # fmt: skip
    assert data["methods"]["no_is"] == {
        "label": "No-IS", "kind": "disca", "ablation_of": "disca_paper", "sequential": False
    }  # fmt: skip
    assert data["countries"]["THA"]["language"] == {
        "mode": "native", "persona_language": "th", "frame_language": "en",
        "persona_only": True, "systems_sha256": None,
    }  # fmt: skip
    assert data["countries"]["THA"]["methods"]["disca_paper"]["vector"] == [None] * 6
    assert "recomputed" not in data and small_results(recomputed=True).to_dict()["recomputed"]
    assert small_results(human_targets=None).to_dict()["human_targets"] == {}


def test_older_files_read_with_defaults():
    data = small_results().to_dict()
    del data["run"]["lang"], data["dimensions"], data["sequential"], data["format"]
    del data["bootstrap"], data["run"]["prompts"], data["run"]["paper_backbone"]
    for entry in data["countries"].values():
        del entry["language"]
        for method in entry["methods"].values():
            del method["mis_interval"], method["sigma_at_floor"]
    data["countries"]["USA"]["methods"]["disca_paper"]["unknown_metric"] = 1.0  # ignored
    vs = data["vs_vanilla"]["vanilla_raw"]["disca_paper"]
    data["vs_vanilla"]["vanilla_raw"]["disca_paper"] = {
        k: vs[k] for k in ("pct_gain", "wins", "n", "per_country_pct_gain")
    }
    results = Results.from_dict(data)
    assert results.run.lang == "en" and results.dimensions == list(categories.DIMENSIONS)
    assert results.countries["USA"].language is None and results.sequential == {}
    assert results.countries["USA"].methods["disca_paper"] == score(0.2)
    assert results.bootstrap is None and results.noise is None
    assert results.run.prompts is None and results.run.paper_backbone is None
    old_vs = results.vs_vanilla["vanilla_raw"]["disca_paper"]
    assert old_vs.wins == 1 and old_vs.wins_significant is None
    assert old_vs.per_country_difference_interval == {}


def test_another_format_or_a_malformed_mapping_is_refused():
    data = small_results().to_dict()
    with pytest.raises(DiscaError, match="'disca-edge-results/2' is not 'disca-edge-results/1'"):
        Results.from_dict({**data, "format": "disca-edge-results/2"})
    with pytest.raises(DiscaError, match="results are malformed: KeyError: 'coverage'"):
        Results.from_dict({k: v for k, v in data.items() if k != "coverage"})
    data["countries"]["USA"]["methods"] = {"disca_paper": {"mis": 0.1}}  # no vector
    with pytest.raises(DiscaError, match="malformed"):
        Results.from_dict(data)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d["countries"]["USA"]["methods"]["disca_paper"].update(mis="high"),
         "results.countries.USA.methods.disca_paper.mis is 'high', not a finite number"),
        (lambda d: d["macro"]["disca_paper"].update(mis=True),
         "results.macro.disca_paper.mis is True, not a finite number"),
        (lambda d: d["coverage"].update(n_records=8.0),
         "results.coverage.n_records is 8.0, not an integer"),
        (lambda d: d["countries"]["THA"].update(human=[0.6] * 5),
         "results.countries.THA has a vector without 6 values"),
        (lambda d: d["countries"]["USA"]["methods"].pop("vanilla_raw"),
         "results.countries.USA.methods lacks vanilla_raw"),
        (lambda d: d["macro"].pop("no_is"), "results.macro lacks no_is"),
        (lambda d: d["methods"].pop("disca_paper"),
         "the method 'disca_paper' is not in results.methods"),
        (lambda d: d["vs_vanilla"]["vanilla_raw"].clear(),
         "results.vs_vanilla.vanilla_raw lacks disca_paper"),
        (lambda d: d["run"].update(countries="USA"), "results.run.countries is 'USA', not a list"),
        (lambda d: d["bootstrap"].update(level=float("nan")),
         "results.bootstrap.level is nan, not a finite number"),
    ],
    ids=["text-mis", "bool-mis", "float-count", "short-vector", "method-gone", "macro-gone",
         "headline-gone", "comparison-gone", "text-list", "nan"],
)  # fmt: skip
def test_a_hand_edited_mapping_is_refused_naming_the_field(edit, problem):
    data = json.loads(json.dumps(small_results().to_dict()))
    edit(data)
    with pytest.raises(DiscaError) as refused:
        Results.from_dict(data)
    assert str(refused.value) == f"results are malformed: {problem}"


def test_labels_and_frozen_fields():
    results = small_results()
    assert results.label("no_is") == "No-IS"
    with pytest.raises(KeyError):
        results.label("absent")
    with pytest.raises(dataclasses.FrozenInstanceError):
        results.created = "now"  # type: ignore[misc]
