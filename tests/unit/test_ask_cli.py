"""`disca ask` on the command line: bad input is one line, --json prints `AskResult.to_dict`.

No model is loaded: the cases that need the real GGUF are in
`tests/integration/test_ask_input_errors.py`; here the engine is the fake of
`test_ask_countries.py`. The library underneath is tested in `test_ask_inputs.py`,
`test_ask_result.py`, `test_ask_countries.py` and `test_explain.py`.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_ask_countries import FAKE_MODEL, FakeEngine

from disca_edge.ask.inputs import make_input
from disca_edge.ask.run import answer_countries
from disca_edge.cli import cli
from disca_edge.content.personas import load_panel
from disca_edge.maths import core


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["ask", *args], input=input)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "JP", "a boy"], "expected two groups (A and B), got 1"),
        (["-c", "JP", "a boy", "  "], "group B is empty"),
        (["-c", "JP", "a boy", "A  Boy"], "the two options are identical ('a boy')"),
        (["-c", "JP", "--dilemma", "Q?", "--option-a", "", "--option-b", "x"], "option A is empty"),
        (["-c", "JP", "--dilemma", " ", "--option-a", "x", "--option-b", "y"], "dilemma text is empty"),
        (["-c", "JP", "--dilemma", "Q?", "--option-a", "x"], "needs both --option-a and --option-b"),
        (["-c", "JP", "--option-a", "x", "--option-b", "y"], "need --dilemma"),
        (["-c", "JP", "--dilemma", "Q?", "a", "b"], "give one of"),
        (["-c", "JP"], "nothing to ask"),
        (["-c", "Atlantis", "a", "b"], "unknown country 'Atlantis'"),
        (["-c", "JP", "--category", "speed", "a", "b"], "unknown category 'speed'"),
        (["-c", "JP", "--input", "/no/such/file.jsonl"], "cannot read /no/such/file.jsonl"),
        (["-c", "JP", "--model", "no-such-model", "a", "b"], "unknown model 'no-such-model'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_1(args, message):
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1, result.output  # one line, no traceback
    assert result.output.startswith("Error: ") and message in result.output


def test_unknown_country_suggests_close_names():
    result = run("-c", "Japn", "a", "b")
    assert result.exit_code == 1 and "did you mean JPN (Japan)?" in result.output


def test_help_documents_the_input_forms():
    result = run("--help")
    assert result.exit_code == 0
    for text in ('"a boy" "two elderly women"', '{"left", "right"}', '"option_a"', "--prior"):
        assert text in result.output


def test_json_output_of_a_bad_single_ask_is_an_error_not_json():
    result = run("-c", "JP", "--json", "a", "a")
    assert result.exit_code == 1 and result.stdout == "" and "identical" in result.output


class _ClosingEngine(FakeEngine):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def fake_model(monkeypatch):
    """`disca ask` opens the fake engine instead of a GGUF."""
    engines = []

    def fake_open_engine(name_or_path=None, **kwargs):
        engines.append(_ClosingEngine())
        return engines[-1], FAKE_MODEL

    monkeypatch.setattr("disca_edge.commands.ask.open_engine", fake_open_engine)
    return engines


def test_json_prints_each_result_as_its_wire_object(fake_model):
    result = run("-c", "JP,US", "--json", "--category", "age", "a boy", "two elderly women")
    assert result.exit_code == 0, result.output
    item = make_input("a boy", "two elderly women", category="age")
    panels = [load_panel("JP"), load_panel("US")]
    params = core.DiscaParams("paper", use_prior=False)  # as the command builds them
    expected = [
        json.dumps(o.result.to_dict(), ensure_ascii=False)
        for o in answer_countries(FakeEngine(), FAKE_MODEL, panels, [item], params, lang="native")
    ]  # --lang native is the default
    assert result.stdout.splitlines() == expected
    assert [json.loads(line)["country"] for line in expected] == ["JPN", "USA"]
    assert fake_model[0].closed


def test_terminal_report_of_one_country(fake_model):
    result = run("-c", "JP", "--category", "age", "a boy", "two elderly women")
    assert result.exit_code == 0, result.output
    assert "DISCA · Japan (JPN) · fake · paper · seed 42 · T_cat 1.5 (Age)" in result.output
    assert "Panel statistics" in result.output and "DISCA for JPN" in result.output


def test_a_bad_input_line_is_reported_and_the_rest_answered(fake_model, tmp_path):
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"left": "a", "right": "a"}\n{"left": "a boy", "right": "a girl", "id": 2}\n')
    result = run("-c", "JP", "--input", str(lines))
    assert result.exit_code == 1
    assert "Error: line 1: the two options are identical" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "Error: 1 of 2 input lines failed (line 1); the other 1 was answered"
    )
    (answer,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (answer["input_line"], answer["id"], answer["index"]) == (2, 2, 1)


def test_the_batch_summary_says_what_failed_and_what_was_answered():
    from disca_edge.commands.ask import _batch_summary

    # lines 2 and 3 asked for two countries; line 3 failed for one of them
    answered, failed = {1: 2, 2: 2, 3: 1, 7: 2}, {3: 1, 4: 1, 5: 1, 6: 1, 9: 1}
    assert _batch_summary(answered, failed) == (
        "5 of 8 input lines failed (lines 3-6, 9); the other 3 were answered "
        "(line 3 for some countries only)"
    )
    assert _batch_summary({}, {1: 1, 2: 1}) == (
        "2 of 2 input lines failed (lines 1-2); no line was answered"
    )
