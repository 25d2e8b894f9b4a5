"""The noise floor (`maths.noise`, `evals.noise`, `evals.noise_run`) on synthetic logits.

The arithmetic is checked against hand computations; the measurement runs with a
scripted engine whose logits are a text hash, plus a small perturbation for the "second
setting" (the real-model tests are in `tests/integration/test_noise.py`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
from html import escape as html_escape

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from rich.console import Console
from test_loop import INFO, ScriptedEngine, eval_config, fake_targets  # noqa: F401 (a fixture)
from test_report import scored_run
from test_results import small_noise

from disca_edge.cli import cli
from disca_edge.engine.options import EngineOptions, alternate_options
from disca_edge.errors import DiscaError
from disca_edge.evals import runlog
from disca_edge.evals.loop import run_eval
from disca_edge.evals.noise import noise_floor, noise_record, read_noise
from disca_edge.evals.noise_run import measure_noise, run_options
from disca_edge.evals.rescore import rescore_run
from disca_edge.evals.scoring import read_run_results
from disca_edge.maths import core
from disca_edge.maths.methods import method_suite
from disca_edge.maths.noise import abs_median_p95, effect_differences, persona_effects
from disca_edge.views import figures, notes, render, tables

# --------------------------------------------------------------------------- arithmetic


def test_effect_differences_by_hand():
    """Age (T_cat 1.5): z_B of persona 1 (orig) +0.3, z_A of the base (orig) +0.15."""
    params = core.DiscaParams()
    logits = np.zeros((1, 2, 5, 2))
    other = logits.copy()
    other[0, 0, 1, 1] += 0.3  # δ_1 = ½(0.3 − 0)/1.5 = +0.1
    other[0, 0, 0, 0] += 0.15  # δ_base = ½(−0.15 − 0)/1.5 = −0.05
    diffs = effect_differences(logits, other, [True], ["Age"], params)
    np.testing.assert_allclose(diffs, [[0.15, 0.05, 0.05, 0.05]], atol=1e-15)
    median, p95 = abs_median_p95(diffs)
    assert median == pytest.approx(0.05)
    assert p95 == pytest.approx(0.05 + 0.85 * 0.10)  # rank 0.95 x 3 = 2.85 between 0.05, 0.15
    # without a swap the original order alone: the effect doubles
    single = effect_differences(logits, other, [False], ["Age"], params)
    np.testing.assert_allclose(single, [[0.3, 0.1, 0.1, 0.1]], atol=1e-15)


def test_persona_effects_are_the_core_gaps_minus_the_base():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, size=(4, 2, 5, 2))
    cats = ["Species", "Gender", "Age", None]
    params = core.DiscaParams()
    base, personas = core.scenario_gaps(logits, cats, params)
    np.testing.assert_array_equal(
        persona_effects(logits, np.ones(4, bool), cats, params), personas - base[:, None]
    )
    with pytest.raises(ValueError, match="other_logits must have shape"):
        effect_differences(logits, logits[:2], np.ones(4, bool), cats, params)
    with pytest.raises(ValueError, match="at least one number"):
        abs_median_p95([])


def test_alternate_options():
    run = EngineOptions(model="m", n_threads=2, kv_type="q8_0", n_ubatch=512)
    f16 = alternate_options(run, "f16")
    assert (f16.kv_type, f16.n_ubatch, f16.flash_attn, f16.n_threads) == ("f16", None, None, 2)
    off = alternate_options(run, "no-flash-attn")
    assert (off.kv_type, off.flash_attn) == ("f16", False)  # a q8_0 cache needs flash attention
    assert alternate_options(run, "same") is run
    with pytest.raises(ValueError, match="setting must be one of f16, no-flash-attn, same"):
        alternate_options(run, "fast")


# --------------------------------------------------------------------------- measuring


class NoisyEngine(ScriptedEngine):
    """The scripted engine's logits plus a perturbation of up to ±0.05 from the text hash."""

    def logits_ab(self, prompts):
        out = super().logits_ab(prompts)
        bumps = [int(hashlib.sha256(t.encode()).hexdigest()[8:12], 16) for t in out.texts]
        shift = np.array([(b % 1001) / 10000 - 0.05 for b in bumps])
        return dataclasses.replace(out, logit_a=out.logit_a + shift, logit_b=out.logit_b - shift)


ALT = {**INFO, "settings": {**INFO["settings"], "kv_type": "f16", "n_ubatch": 63}}


@pytest.fixture
def run_dir(tmp_path, fake_targets):  # noqa: F811 (the fixture)
    out = tmp_path / "run"
    run_eval(eval_config(out), engine=ScriptedEngine(), model_info=INFO)  # USA, JPN x 5
    return out


def by_hand(run_dir, iso):
    """A country's floor, effect and shift from the files, with plain loops."""
    header = runlog.read_header(run_dir)
    params = method_suite("paper")["disca_paper"].params
    recs = {r["scenario_id"]: r for r in runlog.read_samples(run_dir) if r["country"] == iso}
    noise = [n for n in read_noise(run_dir) if n["country"] == iso]
    assert all(n["run_fingerprint"] == header["fingerprint"] for n in noise)

    def effects(z, category):
        t = params.t_cat(category)
        delta = [((z[0][j][1] - z[0][j][0]) - (z[1][j][1] - z[1][j][0])) / (2 * t)
                 for j in range(5)]  # fmt: skip
        return [delta[i] - delta[0] for i in range(1, 5)]

    floor = []
    for n in noise:
        run = recs[n["scenario_id"]]
        a, b = effects(run["logits"], run["category"]), effects(n["logits"], run["category"])
        floor += [abs(y - x) for x, y in zip(a, b, strict=True)]
        np.testing.assert_array_equal(n["diff"], np.subtract(n["logits"], run["logits"]))
    every = [abs(e) for r in recs.values() for e in effects(r["logits"], r["category"])]
    diag = [r["diagnostics"]["disca_paper"] for r in recs.values()]
    shift = [abs(r["delta_micro"]["disca_paper"] - d["delta_base"])
             for r, d in zip(recs.values(), diag, strict=True)]  # fmt: skip
    return sorted(floor), sorted(every), sorted(shift)


def median(values):
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def test_the_summary_matches_a_hand_computation(run_dir):
    outcome = measure_noise(run_dir, 3, engine=NoisyEngine(), model_info=ALT)
    assert (outcome.n_new, outcome.n_present, outcome.setting) == (6, 6, "f16")
    noise = outcome.results.noise
    assert noise is not None and list(noise.countries) == ["USA", "JPN"]
    assert noise.engine["kv_type"] == "f16" and noise.run_engine["kv_type"] is None
    for iso, country in noise.countries.items():
        floor, every, shift = by_hand(run_dir, iso)
        assert country.n == 3 and len(floor) == 12  # 3 scenarios x 4 personas
        assert country.floor_median == pytest.approx(median(floor), abs=1e-12)
        rank = 0.95 * (len(floor) - 1)  # the 95th percentile, linear between ranks
        low = math.floor(rank)
        p95 = floor[low] + (rank - low) * (floor[low + 1] - floor[low])
        assert country.floor_p95 == pytest.approx(p95, abs=1e-12)
        assert country.persona_effect == pytest.approx(median(every), abs=1e-12)
        assert country.shift == pytest.approx(median(shift), abs=1e-12)
        assert country.shift_below_floor == (country.shift < country.floor_p95)
        assert 0 < country.max_logit_diff <= 0.1
    assert read_run_results(run_dir) == outcome.results  # written to results.json
    recomputed = read_run_results(run_dir, recompute=True)
    assert recomputed.noise == noise  # rescoring keeps it


def test_an_interrupted_measurement_resumes_to_the_same_file(tmp_path, run_dir):
    samples = (run_dir / runlog.SAMPLES_FILE).read_bytes()
    reference = tmp_path / "reference"
    reference.mkdir()
    for name in (runlog.RUN_FILE, runlog.SAMPLES_FILE):
        (reference / name).write_bytes((run_dir / name).read_bytes())
    measure_noise(reference, 4, chunk=2, engine=NoisyEngine(), model_info=ALT)
    with pytest.raises(
        KeyboardInterrupt
    ):  # the 5th engine call (one per scenario): 2 chunks of 2 written
        measure_noise(run_dir, 4, chunk=2, engine=NoisyEngine((5, KeyboardInterrupt())),
                      model_info=ALT)  # fmt: skip
    assert len(read_noise(run_dir)) == 4
    engine = NoisyEngine()
    outcome = measure_noise(run_dir, 4, chunk=2, engine=engine, model_info=ALT)
    assert outcome.n_new == 4 and sum(len(c) for c in engine.calls) == 4 * 10  # only the rest
    noise_file = runlog.NOISE_FILE
    assert (run_dir / noise_file).read_bytes() == (reference / noise_file).read_bytes()
    assert (run_dir / runlog.SAMPLES_FILE).read_bytes() == samples  # records never touched
    again = NoisyEngine()
    assert measure_noise(run_dir, 4, engine=again, model_info=ALT).n_new == 0
    assert again.calls == []  # nothing left: no model call
    (run_dir / noise_file).open("ab").write(b'{"country": "USA", "scen')  # kill -9 mid-write
    assert len(read_noise(run_dir)) == 8
    assert measure_noise(run_dir, 5, engine=NoisyEngine(), model_info=ALT).n_new == 2
    assert len(read_noise(run_dir)) == 10


def test_a_noise_floor_of_another_setting_is_refused_or_replaced(run_dir):
    measure_noise(run_dir, 1, engine=NoisyEngine(), model_info=ALT)
    off = {**ALT, "settings": {**ALT["settings"], "flash_attn": 0}}
    with pytest.raises(DiscaError, match="measured with --setting f16.*--force"):
        measure_noise(run_dir, 1, setting="no-flash-attn", engine=NoisyEngine(), model_info=off)
    outcome = measure_noise(run_dir, 1, setting="no-flash-attn", force=True,
                            engine=NoisyEngine(), model_info=off)  # fmt: skip
    assert outcome.n_new == 2 and outcome.results.noise.setting == "no-flash-attn"
    assert len(list(run_dir.glob("noise-superseded-*.jsonl"))) == 1
    with pytest.raises(DiscaError, match="other engine settings"):  # same name, other kernel
        measure_noise(run_dir, 2, setting="no-flash-attn", engine=NoisyEngine(), model_info=ALT)


def test_the_runs_own_setting_is_only_a_control(run_dir):
    with pytest.raises(DiscaError, match="evaluated with the f16 setting already"):
        measure_noise(run_dir, 1, engine=ScriptedEngine(), model_info=INFO)
    control = measure_noise(run_dir, 2, setting="same", engine=ScriptedEngine(), model_info=INFO)
    assert {c.floor_p95 for c in control.results.noise.countries.values()} == {0.0}
    assert {n["max_abs_diff"] for n in read_noise(run_dir)} == {0.0}


def test_bad_requests_are_one_line_errors(run_dir, tmp_path):
    with pytest.raises(DiscaError, match="at least 1 scenario"):
        measure_noise(run_dir, 0)
    with pytest.raises(DiscaError, match="--setting must be one of"):
        measure_noise(run_dir, 1, setting="fast")
    with pytest.raises(DiscaError, match="not a run directory"):
        measure_noise(tmp_path, 1)
    run = runlog.read_samples(run_dir)[0]
    moved = {**run, "prompt_sha256": ["0" * 64] * 10}
    with pytest.raises(DiscaError, match="prompts rebuilt for the noise floor are not the run's"):
        noise_record(moved, run, setting="f16", engine={}, fingerprint=None)


def test_only_this_runs_records_count(run_dir):
    measure_noise(run_dir, 2, engine=NoisyEngine(), model_info=ALT)
    header = runlog.read_header(run_dir)
    by_country = {iso: sorted((r for r in runlog.read_samples(run_dir) if r["country"] == iso),
                              key=lambda r: r["pool_position"]) for iso in ("USA", "JPN")}  # fmt: skip
    noise = read_noise(run_dir)
    method = method_suite("paper")["disca_paper"]
    assert noise_floor(header, by_country, noise, method).n_records == 4
    other_run = [{**n, "run_fingerprint": "x"} for n in noise]
    assert noise_floor(header, by_country, other_run, method) is None
    only_usa = noise_floor(header, {"USA": by_country["USA"]}, noise, method)
    assert list(only_usa.countries) == ["USA"]


def test_stale_results_pick_up_a_longer_noise_file(run_dir):
    measure_noise(run_dir, 1, engine=NoisyEngine(), model_info=ALT)
    written = json.loads((run_dir / runlog.RESULTS_FILE).read_text())
    assert written["noise"]["n_records"] == 2
    (run_dir / runlog.NOISE_FILE).unlink()
    assert read_run_results(run_dir).noise is None  # stale: rescored without it
    assert read_run_results(run_dir).recomputed


def test_cli_noise_floor_on_a_measured_run(run_dir, tmp_path):
    measure_noise(run_dir, 2, engine=NoisyEngine(), model_info=ALT)
    runner = CliRunner()
    done = runner.invoke(cli, ["eval", "noise-floor", str(run_dir), "-n", "2", "--display",
                               "none"], env={"COLUMNS": "300"})  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "0 scenarios re-evaluated, 4 in" in done.output
    assert "noise p95" in done.output and "DISCA shift" in done.output
    assert "noise floor: the first 2 scenarios per country re-evaluated under f16" in done.output
    bad = runner.invoke(cli, ["eval", "noise-floor", str(tmp_path), "-n", "2"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: ") and "Traceback" not in bad.output
    other = runner.invoke(cli, ["eval", "noise-floor", str(run_dir), "--setting", "no-flash-attn"])
    assert other.exit_code == 1 and "--force" in other.output


# --------------------------------------------------------------------------- reports


def test_every_report_format_shows_the_floor_and_its_caveats():
    noise = small_noise()  # USA under its noise; THA not in this run: its cells stay empty
    results = dataclasses.replace(scored_run(n=40)[2], noise=noise)
    caveats = [line for line in notes.caveat_lines(results) if "noise" in line]
    assert len(caveats) == 2
    table = tables.country_table(results)
    usa = table.rows[0]
    assert (usa["noise_median"], usa["noise_p95"], usa["persona_effect"], usa["disca_shift"],
            usa["below_noise"]) == (0.05, 0.12, 0.09, 0.04, "effects, shift")  # fmt: skip
    assert table.rows[1]["noise_p95"] is None  # JPN: not measured
    note = notes.noise_note(results)[0]
    assert "f16 (kv_type f16, n_ubatch 63; the run: kv_type q8_0, n_ubatch 512)" in note
    for fmt in ("md", "json"):
        text = render.render([table], fmt)
        for line in [*caveats, note]:
            assert (json.dumps(line, ensure_ascii=False)[1:-1] if fmt == "json" else line) in text
    beside = json.loads(render.csv_notes([table]))["tables"][0]  # CSV: header lines beside
    assert set(caveats) <= set(beside["header"]) and note in beside["notes"]
    frame = pd.read_csv(io.StringIO(render.render([table], "csv")))
    usa_rows = frame[frame["iso3"] == "USA"].set_index("variable")
    assert set(usa_rows["below_noise"]) == {"effects, shift"}
    assert [usa_rows.loc[k, "value"] for k in ("noise_median", "noise_p95", "persona_effect",
            "disca_shift")] == [0.05, 0.12, 0.09, 0.04]  # fmt: skip
    page = figures.html_report([("runs/a", results)])
    for line in [*caveats, note, "noise p95", "DISCA shift"]:
        assert html_escape(line) in page, line
    console = Console(record=True, width=400)
    render.render([table], "rich", console=console)
    shown = console.export_text()
    for line in [*caveats, "noise p95", "effects, shift"]:
        assert line in shown
    assert not any(
        "noise" in c for c in notes.caveat_lines(dataclasses.replace(results, noise=None))
    )
    assert "noise_p95" not in [c.key for c in tables.country_table(scored_run(n=40)[2]).columns]


def test_a_rescored_run_keeps_the_noise_floor(run_dir, tmp_path):
    measured = measure_noise(run_dir, 2, engine=NoisyEngine(), model_info=ALT).results
    same = rescore_run(run_dir, tmp_path / "same")
    assert same.noise == measured.noise  # the source's own seed and parameters
    raw = rescore_run(run_dir, tmp_path / "raw", overrides={"use_tcat": False})
    assert raw.noise is not None and raw.noise.n_records == 4
    usa, before = raw.noise.countries["USA"], measured.noise.countries["USA"]
    assert usa.floor_p95 > before.floor_p95  # T_cat = 1: gaps in raw logits, larger
    assert rescore_run(run_dir, tmp_path / "raw", overrides={"use_tcat": False}).noise == raw.noise
    assert len(read_noise(tmp_path / "raw")) == 4  # a resumed folder: nothing appended twice


def test_the_run_options_name_a_registry_model_by_name():
    header = {"model": {"name": "gemma3-270m", "path": "/cache/gemma.gguf",
                        "settings": {"n_ctx": 6400, "kv_type": "q8_0", "n_ubatch": 512,
                                     "n_threads": 2, "n_batch": 512}}}  # fmt: skip
    options = run_options(header)  # the registry's chat template comes with the name
    assert (options.model, options.n_ctx, options.kv_type, options.n_ubatch) == (
        "gemma3-270m", 6400, "q8_0", 512)  # fmt: skip
    assert run_options(header, n_threads=1).n_threads == 1
    path = {"model": {**header["model"], "name": "mine.gguf", "path": "/models/mine.gguf"}}
    assert run_options(path).model == "/models/mine.gguf"
