"""`disca ask --noise-floor`: the prompts again under a second kernel setting (fake engines).

The second engine adds a small text-hash perturbation to the fake engine's logits; the
check is compared with a hand computation from the two sets of logits and with the
answer the second engine gives alone. The real-model test is
`tests/integration/test_noise.py`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console
from test_ask_countries import FAKE_MODEL, FakeEngine, items

from disca_edge.ask.noise import NoiseProbe, noise_probe
from disca_edge.ask.result import AskResult
from disca_edge.ask.run import answer_countries
from disca_edge.cli import cli
from disca_edge.content.personas import load_panel
from disca_edge.errors import DiscaError
from disca_edge.maths import core
from disca_edge.views import explain

Q8 = {"kv_type": "q8_0", "n_ubatch": 512, "flash_attn": 1}
F16 = {"kv_type": "f16", "n_ubatch": 63, "flash_attn": 1}


class SettingsEngine(FakeEngine):
    """The fake engine with kernel settings; ``scale`` > 0 perturbs its logits by a hash."""

    def __init__(self, settings=Q8, scale=0.0):
        super().__init__()
        self.settings = dict(settings)
        self.scale = scale

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def logits_ab(self, prompts):
        out = super().logits_ab(prompts)
        bumps = [int(hashlib.sha256(("n" + t).encode()).hexdigest()[:6], 16) for t in out.texts]
        shift = self.scale * np.array([(b % 2001) / 1000 - 1 for b in bumps])
        return dataclasses.replace(out, logit_b=out.logit_b + shift)


def effects_by_hand(pairs, has_swap, t_cat):
    """δ_i − δ_base per persona from (z_A, z_B) pairs in (order, agent) order."""
    gaps = [(b - a) / t_cat for a, b in pairs]
    delta = [(gaps[j] - gaps[5 + j]) / 2 for j in range(5)] if has_swap else gaps[:5]
    return [delta[i] - delta[0] for i in range(1, 5)]


def noisy_answers(countries=("JPN", "USA"), n=3, scale=0.05):
    probe = NoiseProbe(SettingsEngine(F16, scale), "f16")
    panels = [load_panel(c) for c in countries]
    params = core.DiscaParams()
    return list(answer_countries(SettingsEngine(), FAKE_MODEL, panels, items(n), params,
                                 chunk=2, noise=probe))  # fmt: skip


def test_the_check_matches_a_hand_computation_and_the_second_engine_alone():
    outcomes = noisy_answers()
    alone = list(answer_countries(SettingsEngine(F16, 0.05), FAKE_MODEL,
                                  [load_panel("JPN"), load_panel("USA")], items(3),
                                  core.DiscaParams(), chunk=2))  # fmt: skip
    for outcome, other in zip(outcomes, alone, strict=True):
        result, check = outcome.result, outcome.result.noise
        assert check is not None and check.setting == "f16"
        assert {k: check.engine[k] for k in F16} == F16  # and the other logit settings
        first = [(e.logit_a, e.logit_b) for e in result.evaluations]
        assert list(check.logits) == [(e.logit_a, e.logit_b) for e in other.result.evaluations]
        diffs = [
            y - x
            for x, y in zip(
                effects_by_hand(first, result.has_swap, result.t_cat),
                effects_by_hand(check.logits, result.has_swap, result.t_cat),
                strict=True,
            )
        ]
        assert list(check.effect_diffs.values()) == pytest.approx(diffs, abs=1e-12)
        assert check.floor_max == pytest.approx(max(map(abs, diffs)), abs=1e-12)
        ranked = sorted(map(abs, diffs))
        assert check.floor_median == pytest.approx((ranked[1] + ranked[2]) / 2, abs=1e-12)
        assert check.max_logit_diff == pytest.approx(
            max(abs(b - a) for p, q in zip(first, check.logits, strict=True)
                for a, b in zip(p, q, strict=True)), abs=1e-12)  # fmt: skip
        assert 0 < check.max_logit_diff <= 0.05
        assert check.delta_micro == other.result.correction.delta_micro
        c = result.correction
        assert check.disagreement_below_floor == (math.sqrt(c.disagreement) < check.floor_max)
        assert check.shift_below_floor == (abs(c.shift) < check.floor_max)


def test_the_wire_object_gains_noise_only_when_asked():
    plain = list(answer_countries(SettingsEngine(), FAKE_MODEL, [load_panel("JPN")], items(1),
                                  core.DiscaParams()))[0].result  # fmt: skip
    noisy = noisy_answers(("JPN",), 1)[0].result
    assert "noise" not in plain.to_dict()
    assert dataclasses.replace(noisy, noise=None).to_dict() == plain.to_dict()
    data = noisy.to_dict()
    assert list(data)[-1] == "noise"
    assert list(data["noise"]) == [
        "setting", "engine", "logits", "max_logit_diff", "effect_diffs", "floor_median",
        "floor_max", "delta_micro", "disagreement_below_floor", "shift_below_floor",
    ]  # fmt: skip
    line = json.dumps(data, ensure_ascii=False)
    assert AskResult.from_dict(json.loads(line)) == noisy
    assert AskResult.from_dict(plain.to_dict()) == plain


def test_the_same_settings_are_refused_except_as_the_control():
    engine = SettingsEngine()
    with pytest.raises(DiscaError, match="already runs with the f16 setting"):
        noise_probe(engine, SettingsEngine(), "f16")
    control = noise_probe(engine, SettingsEngine(), "same")
    (outcome,) = answer_countries(engine, FAKE_MODEL, [load_panel("JPN")], items(1),
                                  core.DiscaParams(), noise=control)  # fmt: skip
    check = outcome.result.noise
    assert check.max_logit_diff == 0.0 and check.floor_max == 0.0
    assert not check.disagreement_below_floor  # nothing is below a zero floor


def render_text(result) -> str:
    console = Console(record=True, width=80)
    explain.render(result, console)
    return console.export_text()


def test_explain_prints_one_line_on_the_noise():
    result = noisy_answers(("JPN",), 1)[0].result
    check = result.noise
    loud = dataclasses.replace(
        result, noise=dataclasses.replace(check, disagreement_below_floor=True,
                                          shift_below_floor=False))  # fmt: skip
    line = explain.noise_line(loud)
    spread = math.sqrt(result.correction.disagreement)
    assert line.startswith(f"⚠ noise floor: under f16 the persona effects move by up to "
                           f"{check.floor_max:.3f} (median {check.floor_median:.3f})")  # fmt: skip
    assert f"the panel's disagreement D {spread:.3f} is below it" in line
    assert "within the model's numerical noise" in line
    shown = " ".join(render_text(loud).split())
    assert line in shown
    quiet = dataclasses.replace(
        result, noise=dataclasses.replace(check, disagreement_below_floor=False,
                                          shift_below_floor=False))  # fmt: skip
    assert "are above it" in explain.noise_line(quiet) and "⚠" not in render_text(quiet)
    assert "noise floor" not in render_text(dataclasses.replace(result, noise=None))
    with pytest.raises(ValueError, match="no noise check"):
        explain.noise_line(dataclasses.replace(result, noise=None))


def test_several_countries_name_those_below_the_noise():
    results = [o.result for o in noisy_answers(("JPN", "USA", "DEU"), 1)]
    flagged = dataclasses.replace(
        results[1], noise=dataclasses.replace(results[1].noise, shift_below_floor=True)
    )
    calm = [
        dataclasses.replace(r, noise=dataclasses.replace(
            r.noise, disagreement_below_floor=False, shift_below_floor=False))
        for r in (results[0], results[2])
    ]  # fmt: skip
    console = Console(record=True, width=80)
    explain.render_countries([calm[0], flagged, calm[1]], console)
    text = " ".join(console.export_text().split())
    assert "below the model's noise (the persona effects moved under f16) in: USA (up to " in text
    assert "JPN (up" not in text and "DEU (up" not in text


@pytest.fixture
def fake_models(monkeypatch):
    """`disca ask` opens fake engines whose settings follow the options."""
    engines = []

    def fake_open_engine(options=None, **kwargs):
        settings = {**Q8, **({"kv_type": "f16", "n_ubatch": 63} if options.kv_type else {})}
        engines.append(SettingsEngine(settings, 0.05 if options.kv_type else 0.0))
        return engines[-1], FAKE_MODEL

    monkeypatch.setattr("disca_edge.commands.ask.open_engine", fake_open_engine)
    return engines


def test_cli_noise_floor_opens_a_second_engine(fake_models):
    runner = CliRunner()
    args = ["ask", "-c", "JP", "--category", "age", "a boy", "two elderly women"]
    plain = runner.invoke(cli, [*args, "--json"])
    assert plain.exit_code == 0 and "noise" not in json.loads(plain.stdout)
    done = runner.invoke(cli, [*args, "--json", "--noise-floor"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["noise"]["setting"] == "f16" and data["noise"]["engine"]["kv_type"] == "f16"
    assert {k: v for k, v in data.items() if k != "noise"} == json.loads(plain.stdout)
    assert len(fake_models) == 3 and all(e.closed for e in fake_models)
    shown = runner.invoke(cli, [*args, "--noise-floor"], env={"COLUMNS": "80"})
    assert shown.exit_code == 0 and "noise floor: under f16" in " ".join(shown.output.split())
    same = runner.invoke(cli, [*args, "--noise-floor", "--noise-setting", "same"])
    assert same.exit_code == 0 and "under same" in " ".join(same.output.split())
