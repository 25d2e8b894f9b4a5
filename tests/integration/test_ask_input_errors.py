"""`disca ask` input errors that need the real SmolLM2 GGUF loaded (no prompt is evaluated).

Loading takes about half a second; the too-long case tokenizes, the bad-file case stops
before the engine runs.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from disca_edge.cli import cli

pytestmark = pytest.mark.model


def run(*args: str, input: str | None = None):
    """`disca ask --lang en`: these cases are about input, not language (the default is native)."""
    return CliRunner().invoke(cli, ["ask", "--lang", "en", *args], input=input)


def test_too_long_dilemma_says_how_long_and_the_limit(smollm2_path):
    result = run(
        "-c", "JP", "--model", str(smollm2_path), "--threads", "2",
        "--dilemma", "word " * 5000, "--option-a", "x", "--option-b", "y",
    )  # fmt: skip
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line and line.startswith("Error: the dilemma is too long")
    numbers = [int(n) for n in re.findall(r"(\d+) tokens", line)]
    user_turn, _, limit = numbers[:3]
    assert user_turn > 5000 > limit > 2000 and "4096-token context" in line


def test_input_reports_every_bad_line_and_exits_1(smollm2_path):
    lines = [
        '{"left": "a boy"}',
        "not json",
        "",
        '["a", "b"]',
        '{"left": "a", "right": "b", "colour": 1}',
        '{"left": "a", "right": "b", "dilemma": "Q?"}',
        '{"dilemma": "Q?", "option_a": "x", "option_b": "X "}',
        '{"left": "a", "right": "b", "category": "size"}',
    ]
    result = run(
        "-c", "JP", "--model", str(smollm2_path), "--input", "-", input="\n".join(lines) + "\n"
    )
    assert result.exit_code == 1
    assert result.stdout == ""  # nothing answered, nothing half-written
    errors = result.stderr.strip().splitlines()
    assert [e.split(":")[1].strip() for e in errors[:-1]] == [
        "line 1", "line 2", "line 4", "line 5", "line 6", "line 7", "line 8",
    ]  # fmt: skip
    assert 'line 1: "right" is missing' in errors[0]
    assert "not valid JSON" in errors[1] and "expected a JSON object" in errors[2]
    assert "unknown field(s) colour" in errors[3] and "not both" in errors[4]
    assert "identical" in errors[5] and "unknown category 'size'" in errors[6]
    assert errors[-1] == "Error: 7 of 7 input lines failed (lines 1-2, 4-8); no line was answered"
