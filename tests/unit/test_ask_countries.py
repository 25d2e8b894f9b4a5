"""Several countries in one ask: order, sharing and equality with one-country asks.

A deterministic fake engine stands in for llama.cpp here: its logits are a hash of the
exact prompt text, so any mix-up of countries, prompts or chunks changes the numbers.
The real-model equality test is `tests/integration/test_ask_countries.py`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

from disca_edge import pipeline
from disca_edge.ask import run as ask
from disca_edge.ask.inputs import AskInputError, make_input, parse_line
from disca_edge.cli import cli
from disca_edge.content.personas import load_panel
from disca_edge.engine import ChatPrompt, LogitsAB
from disca_edge.maths import core
from disca_edge.models.open import ModelInfo
from disca_edge.views import explain

FAKE_MODEL = ModelInfo(name="fake", path="/models/fake.gguf", sha256="0" * 64, settings={})


class FakeEngine:
    """Logits = a hash of the rendered prompt; counts calls and prompts per call."""

    n_ctx = 1 << 20  # characters are tokens here

    def __init__(self) -> None:
        self.calls: list[list[ChatPrompt]] = []

    def close(self) -> None:
        self.closed = True

    def render(self, prompt: ChatPrompt) -> str:
        return f"<s>{prompt.system}</s><u>{prompt.user}</u>"

    def tokenize(self, text: str) -> list[int]:
        return [ord(ch) for ch in text]

    def prefix_len(self, system: str) -> int:
        return len(f"<s>{system}</s>")

    def logits_ab(self, prompts) -> LogitsAB:
        self.calls.append(list(prompts))
        texts = [self.render(p) for p in prompts]
        draws = [
            np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], dtype=np.uint64) for t in texts
        ]
        a = np.array([d[0] / 2**64 * 8 - 4 for d in draws])
        b = np.array([d[1] / 2**64 * 8 - 4 for d in draws])
        n = len(prompts)
        return LogitsAB(a, b, np.full(n, 49), np.full(n, 50), texts, np.full(n, 100))


def items(n: int = 3):
    groups = [("a boy", "two elderly women"), ("a dog", "a cat"), ("a doctor", "two thieves")]
    return [
        make_input(a, b, category="Age", index=i, line=i + 1) for i, (a, b) in enumerate(groups[:n])
    ]


def answer(countries, inputs, params=None, chunk=2):
    engine = FakeEngine()
    panels = [load_panel(c) for c in countries]
    outcomes = list(
        ask.answer_countries(
            engine, FAKE_MODEL, panels, inputs, params or core.DiscaParams(), chunk=chunk
        )
    )
    return outcomes, engine


def test_each_country_result_equals_its_one_country_ask():
    outcomes, engine = answer(["JP", "US", "DE"], items())
    assert [(o.index, o.country) for o in outcomes] == [
        (i, c) for i in range(3) for c in ("JPN", "USA", "DEU")
    ]
    for iso3 in ("JPN", "USA", "DEU"):
        alone, _ = answer([iso3], items())
        mine = [o.result for o in outcomes if o.country == iso3]
        assert mine == [o.result for o in alone]
        logits = [[e.logit_b - e.logit_a for e in r.evaluations] for r in mine]
        np.testing.assert_array_equal(
            logits, [[e.logit_b - e.logit_a for e in o.result.evaluations] for o in alone]
        )
    # one call per (chunk, country); every country's personas appear in its own calls only
    assert len(engine.calls) == 2 * 3
    jp_texts = set(load_panel("JP").texts())
    for call in engine.calls:
        systems = {p.system for p in call} - {pipeline.panel_system_prompts([])[0]}
        assert systems <= jp_texts or not (systems & jp_texts)


def test_the_dilemma_is_rendered_once_for_countries_of_one_language(monkeypatch):
    rendered = []
    real = ask._dilemma

    def counting(item, *language):
        rendered.append(item.index)
        return real(item, *language)

    monkeypatch.setattr(ask, "_dilemma", counting)
    answer(["JP", "US", "DE", "BR"], items())
    assert rendered == [0, 1, 2]


def test_prior_runs_per_country_in_input_order():
    params = core.DiscaParams("reference", use_prior=True, n_warmup=1, prior_replays=0)
    outcomes, _ = answer(["JP", "US"], items(), params=params)
    for iso3 in ("JPN", "USA"):
        alone, _ = answer([iso3], items(), params=params)
        assert [o.result for o in outcomes if o.country == iso3] == [o.result for o in alone]


def test_a_line_country_replaces_the_ask_countries_and_errors_come_once():
    lines = [
        '{"left": "a boy", "right": "two elderly women", "country": "Germany"}',
        "not json",
        '{"left": "a dog", "right": "a cat"}',
        '{"left": "a dog", "right": "a cat", "country": "Atlantis"}',
    ]
    inputs = [parse_line(t, n) if t != "not json" else None for n, t in enumerate(lines, 1)]
    inputs[1] = AskInputError("not valid JSON", line=2)
    engine = FakeEngine()

    def load(query):
        try:
            return load_panel(query)
        except Exception as exc:
            raise AskInputError(str(exc)) from None

    outcomes = list(
        ask.answer_countries(
            engine,
            FAKE_MODEL,
            [load_panel("JP"), load_panel("US")],
            inputs,
            core.DiscaParams(),
            load_panel=load,
        )
    )
    assert [(o.line, o.country, o.ok) for o in outcomes] == [
        (1, "DEU", True),
        (2, None, False),
        (3, "JPN", True),
        (3, "USA", True),
        (4, None, False),
    ]
    assert outcomes[4].error.startswith("line 4: unknown country 'Atlantis'")
    assert outcomes[0].result.country == "DEU" and outcomes[0].result.index == 0


def test_no_country_at_all_is_a_per_line_error():
    (outcome,) = list(
        ask.answer_countries(FakeEngine(), FAKE_MODEL, [], items(1), core.DiscaParams())
    )
    assert not outcome.ok and 'give --country or a "country" field' in outcome.error


def test_terminal_view_has_one_row_per_country():
    outcomes, _ = answer(["JP", "US", "DE"], items(1))
    console = Console(width=80, record=True, file=open("/dev/null", "w"), no_color=True)  # noqa: SIM115
    explain.render_countries([o.result for o in outcomes], console)
    text = console.export_text()
    assert text.count("a boy") == 1 and text.count("two elderly women") == 1
    for o in outcomes:
        r = o.result
        row = next(line for line in text.splitlines() if line.lstrip().startswith(r.country))
        assert f"{r.vanilla.p_b:.3f}" in row and f"{r.disca.p_b:.3f}" in row
        assert f"{r.correction.disagreement:.4f}" in row
        assert ("⚑" in row) == r.disca.flips_vanilla
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "JP,Atlantis", "a", "b"], "unknown country 'Atlantis'"),
        (["-c", "JP", "--countries", "US", "a", "b"], "not both"),
        (["a", "b"], "missing --country"),
    ],
)
def test_country_list_errors_before_any_model_load(args, message):
    result = CliRunner().invoke(cli, ["ask", "--model", "/no/model.gguf", *args])
    assert result.exit_code in (1, 2) and message in result.output
    assert "Traceback" not in result.output and "model" not in result.output.lower()


def test_each_engine_call_reports_the_answers_it_made():
    """3 dilemmas x 2 countries, 2 dilemmas a call: a display can move per country call."""
    made = []
    outcomes = list(
        ask.answer_countries(
            FakeEngine(), FAKE_MODEL, [load_panel("JP"), load_panel("US")], items(),
            core.DiscaParams(), chunk=2, on_answered=made.append,
        )
    )  # fmt: skip
    assert made == [2, 2, 1, 1] and sum(made) == len(outcomes) == 6


def test_an_ask_knows_how_many_answers_it_will_give(tmp_path):
    from disca_edge.commands.ask import _expected_answers

    lines = tmp_path / "in.jsonl"
    lines.write_text('{"left": "a", "right": "b"}\n\n{"left": "c", "right": "d"}\n')
    assert _expected_answers(None, 3) == 3  # one dilemma, three countries
    assert _expected_answers(str(lines), 2) == 4  # two lines, two countries
    assert _expected_answers(str(lines), 0) == 2  # each line names its country
    assert _expected_answers("-", 1) is None  # standard input: not known ahead
    assert _expected_answers(str(tmp_path / "nope"), 1) is None  # fails later, with its line
