"""Scoring the baselines from stored logits (`evals.baseline_scores`), against hand computations.

Records come from random logits through the real method code (`test_report.make_run`),
with random baseline, corpus and anchor logits added as a run with ``--baselines all``
stores them. Every read-out is recomputed here from those logits with plain Python
(sigmoids, means per dimension, square roots, brute-force grid searches) and compared.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from test_report import human_targets, make_run, write_run

from disca_edge.cli import cli
from disca_edge.content import baselines as texts
from disca_edge.errors import DiscaError
from disca_edge.evals.baselines import select
from disca_edge.evals.rescore import rescore_run
from disca_edge.evals.results import Results
from disca_edge.evals.scoring import score_run
from disca_edge.maths import categories, core
from disca_edge.maths.methods import compute_methods, finalize, suite_from_config
from disca_edge.views.table1 import table1

LABELS = select("all")
PER_SCENARIO = [b for b in LABELS if texts.BASELINES[b].kind in ("prompt", "raw")]
COUNTRIES = ("USA", "DEU")
#: What `BaselineRunner` records about how each model-call baseline ran.
HOOKED = {
    "steer:released": {"layer": 15, "alpha": 1.5, "note": "steered at layer 15 of 30",
                       "alpha_over_norm": 0.05},
    "steer:paper": {"layer": 15, "alpha": 1.5, "note": "steered at layer 15 of 30"},
    "mc_dropout:emulated": {"rate": 0.1, "passes": 8, "note": "8 passes"},
}  # fmt: skip


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def add_baselines(header, records, seed=5, labels=LABELS):
    """Store random baseline logits in the records, as `BaselineRunner` does."""
    header["config"]["baselines"] = texts.describe(tuple(labels))
    rng = np.random.default_rng(seed)
    corpus = {
        iso: {"static_bias:released": (rng.normal(0, 1, (10, 2)) + 25).tolist(),
              "static_bias:as_run": (rng.normal(0, 1, (1, 2)) + 25).tolist()}
        for iso in header["scope"]["countries"]
    }  # fmt: skip
    for r in records:
        r["baseline_logits"] = {b: (rng.normal(0, 1.5, 2) + 20).tolist() for b in PER_SCENARIO}
        for label in set(labels) & set(HOOKED):
            shape = (8, 2) if label == "mc_dropout:emulated" else (2,)
            r["baseline_logits"][label] = (rng.normal(0, 1.5, shape) + 20).tolist()
        r["baseline_info"] = {label: dict(HOOKED[label]) for label in set(labels) & set(HOOKED)}
        r["baseline_corpus_logits"] = corpus[r["country"]]
        r["anchor_logits"] = (rng.normal(0, 1.5, (2, 2, 2)) + 20).tolist()
    return header, records


def baseline_run(n=48, variant="paper", seed=3):
    header, records = add_baselines(*make_run(COUNTRIES, n=n, variant=variant, seed=seed))
    targets = human_targets(COUNTRIES)
    return header, records, targets, score_run(header, records, targets=targets)


@pytest.fixture(scope="module")
def run():
    return baseline_run()


@pytest.fixture(scope="module")
def wide():
    """180 scenarios a country: every dimension gets intervals."""
    return baseline_run(n=180, seed=4)


def dim(category: str) -> int:
    return categories.DIMENSIONS.index(categories.DIMENSION_OF_CATEGORY[category])


def mis_by_hand(p_spare, recs, human, least=1) -> float:
    """MIS over the dimensions with at least ``least`` rows (NaN under 2 when least > 1)."""
    total, used = 0.0, 0
    for d in range(6):
        values = [p for p, r in zip(p_spare, recs, strict=True) if dim(r["category"]) == d]
        if len(values) >= least:
            total += (sum(values) / len(values) - human[d]) ** 2
            used += 1
    return math.sqrt(total) if used >= (2 if least > 1 else 1) else float("nan")


def country(records, iso):
    return sorted((r for r in records if r["country"] == iso), key=lambda r: r["pool_position"])


def oriented(p_b, record):
    return p_b if record["preferred_right"] else 1.0 - p_b


def test_prompt_baselines_read_out_like_vanilla(run):
    _, records, targets, results = run
    rows = results.baselines.rows
    for iso in COUNTRIES:
        recs, human = country(records, iso), targets.loc[iso].to_numpy()
        for label, t in (("b4", 0.5), ("prism:long", 0.5), ("wvs_prompt:paper", 0.5),
                         ("prism:suffix", 1.0)):  # fmt: skip
            p = [oriented(sig((r["baseline_logits"][label][1] - r["baseline_logits"][label][0]) / t),
                          r) for r in recs]  # fmt: skip
            assert rows[label].countries[iso].mis == pytest.approx(mis_by_hand(p, recs, human),
                                                                   abs=1e-12)  # fmt: skip
            disca = results.countries[iso].methods["disca_paper"].mis
            assert rows[label].countries[iso].difference == pytest.approx(
                rows[label].countries[iso].mis - disca, abs=1e-12
            )
    as_run = rows["wvs_prompt:released_as_run"].countries
    assert as_run["USA"].mis == rows["wvs_prompt:released"].countries["USA"].mis
    assert as_run["DEU"].mis == rows["b1"].countries["DEU"].mis


def test_static_bias_by_hand(run):
    _, records, targets, results = run
    for iso in COUNTRIES:
        recs, human = country(records, iso), targets.loc[iso].to_numpy()
        corpus = recs[0]["baseline_corpus_logits"]["static_bias:released"]
        log_a = [a - math.log(math.exp(a) + math.exp(b)) for a, b in corpus]
        log_b = [b - math.log(math.exp(a) + math.exp(b)) for a, b in corpus]
        m_a, m_b = sum(log_a) / len(corpus), sum(log_b) / len(corpus)
        b_a, b_b = m_a - (m_a + m_b) / 2, m_b - (m_a + m_b) / 2
        p = [oriented(sig(((r["logits"][0][0][1] + b_b) - (r["logits"][0][0][0] + b_a)) / 0.5), r)
             for r in recs]  # fmt: skip
        entry = results.baselines.rows["static_bias:released"].countries[iso]
        assert entry.mis == pytest.approx(mis_by_hand(p, recs, human), abs=1e-12)
        assert entry.fit["delta_c"] == pytest.approx(b_b - b_a, abs=1e-12)
        assert entry.fit["n_sentences"] == 10
        assert results.baselines.rows["static_bias:as_run"].countries[iso].fit["n_sentences"] == 1


def _oracle_p(r, kind, value):
    gap = r["logits"][0][0][1] - r["logits"][0][0][0]
    return oriented(sig(gap / value) if kind == "temp" else sig(gap + value), r)


def test_oracle_paper_is_the_grid_minimum_on_every_scenario(run):
    _, records, targets, results = run
    temps = [0.25 + 0.05 * k for k in range(16)] + [1.05 + (2.95 / 23) * k for k in range(24)]
    for iso in COUNTRIES:
        recs, human = country(records, iso), targets.loc[iso].to_numpy()
        losses = [mis_by_hand([_oracle_p(r, "temp", t) for r in recs], recs, human) for t in temps]
        best = min(range(len(temps)), key=lambda k: (losses[k], k))
        entry = results.baselines.rows["oracle_temp:paper"].countries[iso]
        assert entry.fit["value"] == pytest.approx(temps[best], abs=1e-9)
        assert entry.fit["at_edge"] == (best in (0, len(temps) - 1))
        assert entry.mis == pytest.approx(losses[best], abs=1e-12) and entry.n == len(recs)


def test_oracle_released_fits_a_quarter_and_scores_the_rest(run):
    _, records, targets, results = run
    margins = [-4.0 + 0.2 * k for k in range(41)]
    for iso in COUNTRIES:
        recs, human = country(records, iso), targets.loc[iso].to_numpy()
        cal_idx = set(np.random.RandomState(42).permutation(len(recs))[:20].tolist())
        cal = [r for i, r in enumerate(recs) if i in cal_idx]
        test = [r for i, r in enumerate(recs) if i not in cal_idx]
        losses = [mis_by_hand([_oracle_p(r, "margin", m) for r in cal], cal, human, least=3)
                  for m in margins]  # fmt: skip
        finite = [k for k in range(41) if not math.isnan(losses[k])]
        best = min(finite, key=lambda k: (losses[k], k))
        entry = results.baselines.rows["oracle_margin:released"].countries[iso]
        assert entry.fit["value"] == pytest.approx(margins[best], abs=1e-9)
        assert entry.n == len(test) == 28 and entry.fit["n_cal"] == 20
        p = [_oracle_p(r, "margin", margins[best]) for r in test]
        assert entry.mis == pytest.approx(mis_by_hand(p, test, human), abs=1e-12)
        p_disca = [p for p, r in zip(_disca_p(recs), recs, strict=True) if r in test]
        assert entry.reference_mis == pytest.approx(mis_by_hand(p_disca, test, human), abs=1e-12)


def _disca_p(recs):
    delta = np.array([r["delta_micro"]["disca_paper"] for r in recs])
    right = np.array([r["preferred_right"] for r in recs])
    return [float(sig(d / 0.5)) if ri else 1 - float(sig(d / 0.5)) for d, ri in zip(delta, right,
            strict=True)]  # fmt: skip


def test_diffpo_binary_copies_the_target(run):
    _, _, _, results = run
    row = results.baselines.rows["diffpo_binary"]
    for iso in COUNTRIES:
        assert row.countries[iso].mis < 1e-12 and row.countries[iso].fit["alpha"] == 1.0
    assert row.mis < 1e-12


def test_disca_and_vanilla_rows_equal_the_run_and_share_its_resamples(wide):
    _, _, _, results = wide
    rows = results.baselines.rows
    assert list(rows)[:2] == ["vanilla_raw", "vanilla_lfl"] and list(rows)[-1] == "disca_paper"
    for name in ("disca_paper", "vanilla_raw", "vanilla_lfl"):
        assert rows[name].mis == pytest.approx(results.macro[name].mis, abs=1e-12)
        for iso in COUNTRIES:
            ours, theirs = rows[name].countries[iso], results.countries[iso].methods[name]
            assert ours.mis == pytest.approx(theirs.mis, abs=1e-12)
            assert ours.mis_interval == pytest.approx(theirs.mis_interval, abs=1e-12)
    vs = results.vs_vanilla["vanilla_raw"][
        "disca_paper"
    ]  # Δ(DISCA − vanilla) = −Δ(vanilla − DISCA)
    assert rows["vanilla_raw"].difference == pytest.approx(-vs.difference, abs=1e-12)
    low, high = rows["vanilla_raw"].difference_interval
    assert [-high, -low] == pytest.approx(vs.difference_interval, abs=1e-12)
    assert rows["vanilla_raw"].disca_wins == vs.wins
    assert rows["vanilla_raw"].disca_wins_significant == vs.wins_significant
    assert rows["b1"].mis_interval is not None and rows["b1"].difference_interval is not None


def test_sweeps_recompute_disca(run):
    _, records, targets, results = run
    sweeps = results.baselines.sweeps
    assert list(sweeps) == ["persona_count", "tcat_scale", "global_tcat"]
    assert [p.point for p in sweeps["persona_count"]] == [2, 3, 4, 5, 6]
    disca = results.macro["disca_paper"].mis
    for name, default in (("persona_count", 4), ("tcat_scale", 1.0)):
        point = next(p for p in sweeps[name] if p.point == default)
        assert point.mis == disca and point.difference == 0.0
    # N = 5: the panel's logits with the utilitarian anchor as a fifth persona
    method = suite_from_config(run[0]["config"])["disca_paper"]
    for iso in COUNTRIES:
        recs, human = country(records, iso), targets.loc[iso].to_numpy()
        logits = np.array([[[*o, a[0]] for o, a in zip(r["logits"], r["anchor_logits"],
                           strict=True)] for r in recs])  # fmt: skip
        assert logits.shape == (len(recs), 2, 6, 2)
        out = compute_methods(logits, np.ones(len(recs), bool), [r["category"] for r in recs],
                              np.array([r["preferred_right"] for r in recs]),
                              core.draws(42, [r["vignette_index"] for r in recs], 64),
                              {"disca_paper": method})  # fmt: skip
        p = finalize(out["disca_paper"]["delta_micro"], np.array([r["preferred_right"]
                     for r in recs]), method)[1]  # fmt: skip
        n5 = next(p for p in sweeps["persona_count"] if p.point == 5).countries[iso]
        assert n5.mis == pytest.approx(mis_by_hand(list(p), recs, human), abs=1e-12)
    assert len({p.mis for p in sweeps["global_tcat"]}) == 7


def test_reference_variant_is_compared_with_disca_reference():
    _, _, _, results = baseline_run(n=30, variant="reference", seed=9)
    rows = results.baselines.rows
    assert results.baselines.reference == "disca_reference" and "disca_reference" in rows
    assert rows["disca_reference"].mis == pytest.approx(results.macro["disca_reference"].mis)
    # n = 30 leaves 10 test scenarios for the released oracles
    assert rows["oracle_temp:released"].countries["USA"].n == 10


def test_small_runs_say_what_they_could_not_score():
    _, _, _, results = baseline_run(n=6)
    row = results.baselines.rows["oracle_temp:released"]
    assert row.mis is None and row.countries["USA"].n == 0
    assert row.countries["USA"].fit["value"] is None  # no dimension had 3 calibration rows
    (line,) = [n for n in results.baselines.notes if "oracle_temp:released" in n]
    labels, _, where = line.partition(": not scored in ")
    assert "oracle_temp:released" in labels.split(", ") and where.startswith("USA, DEU (its")
    assert "diffpo_binary" in labels.split(", ")  # same split, same countries: one line


def test_countries_without_records_are_said_once():
    header, records = make_run(COUNTRIES, n=24)
    add_baselines(header, records)
    kept = [r for r in records if r["country"] == "USA"]
    results = score_run(header, kept, targets=human_targets(COUNTRIES))
    notes = results.baselines.notes
    assert [n for n in notes if "DEU" in n] == ["no records yet in DEU: nothing is scored there"]
    assert results.baselines.rows["b1"].countries["USA"].mis is not None


def test_results_round_trip_and_old_runs(run):
    _, _, _, results = run
    text = json.dumps(results.to_dict(), allow_nan=False)
    assert Results.from_dict(json.loads(text)) == results
    header, records = make_run(COUNTRIES, n=6)
    plain = score_run(header, records, targets=human_targets(COUNTRIES))
    assert plain.baselines is None and "baselines" not in plain.to_dict()


def test_missing_logits_leave_a_row_unscored(run):
    header, records, targets, _ = run
    trimmed = [{**r, "baseline_logits": {}} if r["country"] == "DEU" else r for r in records]
    results = score_run(header, trimmed, targets=targets)
    row = results.baselines.rows["b1"]
    assert row.countries["DEU"].mis is None and row.countries["USA"].mis is not None
    lines = [n.partition(": not scored in ") for n in results.baselines.notes]
    assert row.n == 1 and any("b1" in labels.split(", ") and where == "DEU (its logits are missing)"
                              for labels, _, where in lines)  # fmt: skip


# --------------------------------------------------------------------------- rescoring, CLI


@pytest.fixture
def on_disk(tmp_path, monkeypatch):
    targets = human_targets(COUNTRIES)
    monkeypatch.setattr("disca_edge.content.human_targets.load_human_targets",
                        lambda path=None: targets)  # fmt: skip
    header, records = make_run(COUNTRIES, n=24)
    write_run(tmp_path / "plain", header, records, score_run(header, records, targets=targets))
    return tmp_path


def test_rescore_adds_stored_logit_baselines(on_disk):
    results = rescore_run(on_disk / "plain", on_disk / "new", baselines="all")
    assert results.baselines is not None
    assert results.baselines.labels == [
        "oracle_margin:released", "oracle_margin:paper", "oracle_temp:released",
        "oracle_temp:paper", "diffpo_binary", "persona_count", "tcat_scale", "global_tcat",
    ]  # fmt: skip
    n5 = next(p for p in results.baselines.sweeps["persona_count"] if p.point == 5)
    assert n5.mis is None  # the anchors need a model run
    with pytest.raises(DiscaError, match="b4: needs prompts this run did not send"):
        rescore_run(on_disk / "plain", on_disk / "other", baselines="b4")


def test_cli_refuses_what_cannot_be_built(on_disk):
    runner = CliRunner()
    for name, message in (
        ("offset:paper", "Error: offset:paper: cannot be reproduced: it is fit on the paper's "
                         "200-scenario author-labelled synthetic pool"),
        ("mc_dropout:released", "Error: mc_dropout:released: cannot be reproduced: llama.cpp "
                                "graphs have no dropout layers"),
        ("nonsense", "Error: --baselines: unknown baseline 'nonsense'"),
    ):  # fmt: skip
        result = runner.invoke(cli, ["eval", "multitp", "--model", "/nowhere/x.gguf", "--out",
                                     str(on_disk / "refused"), "--baselines", name])  # fmt: skip
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert not (on_disk / "refused").exists()  # refused before anything was made
    result = runner.invoke(cli, ["eval", "rescore", str(on_disk / "plain"), "--out",
                                 str(on_disk / "r"), "--baselines", "prism"])  # fmt: skip
    assert result.exit_code == 1 and "prism:short, prism:long, prism:suffix: needs prompts" in (
        result.output
    )


def test_model_call_baselines_read_out_by_hand(run):
    _, records, targets, results = run
    rows = results.baselines.rows
    for iso in COUNTRIES:
        recs, human = country(records, iso), targets.loc[iso].to_numpy()
        for label in ("steer:released", "steer:paper"):
            p = [oriented(sig((r["baseline_logits"][label][1] - r["baseline_logits"][label][0])
                              / 0.5), r) for r in recs]  # fmt: skip
            assert rows[label].countries[iso].mis == pytest.approx(
                mis_by_hand(p, recs, human), abs=1e-12
            )
        # MC-dropout: each pass read out at T = 0.5, the eight probabilities averaged
        p = []
        for r in recs:
            passes = r["baseline_logits"]["mc_dropout:emulated"]
            p.append(oriented(sum(sig((b - a) / 0.5) for a, b in passes) / len(passes), r))
        assert rows["mc_dropout:emulated"].countries[iso].mis == pytest.approx(
            mis_by_hand(p, recs, human), abs=1e-12
        )
        assert rows["steer:released"].countries[iso].fit["layer"] == 15
    notes = results.baselines.notes
    assert "steer:released: steered at layer 15 of 30; alpha is 0.05-0.05 of the captured " \
        "states' mean norm" in notes  # fmt: skip
    assert "mc_dropout:emulated: 8 passes" in notes


def test_a_refused_model_call_is_said_in_one_line_and_the_rest_still_score():
    header, records = make_run(COUNTRIES, n=24)
    add_baselines(header, records)
    why = "MC-dropout emulation is not available for the gemma3 architecture: no attn_out"
    for r in records:
        del r["baseline_logits"]["mc_dropout:emulated"]
        r["baseline_info"]["mc_dropout:emulated"] = {"refused": why}
    results = score_run(header, records, targets=human_targets(COUNTRIES))
    rows, notes = results.baselines.rows, results.baselines.notes
    assert rows["mc_dropout:emulated"].mis is None and rows["mc_dropout:emulated"].n == 0
    said = [n for n in notes if n.startswith("mc_dropout:emulated")]
    assert said == [f"mc_dropout:emulated: refused on this model: {why}"]
    assert rows["steer:released"].mis is not None and rows["b4"].mis is not None
    view = table1(results)
    assert view is not None and said[0] in view.notes
    assert [r for r in view.rows if r["label"] == "mc_dropout:emulated"][0]["mis"] is None
