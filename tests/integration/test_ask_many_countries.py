"""Several countries in one `disca ask` on real SmolLM2-135M weights, through the CLI.

Each (dilemma, country) answer of one multi-country run must equal the answer of a
one-country run of the same question: the whole result object, and its logits and
probabilities bit for bit.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from disca_edge.cli import cli

pytestmark = pytest.mark.model

QUESTION = ["--category", "age", "a boy", "two elderly women"]
COUNTRIES = ("JPN", "USA", "DEU")


def ask(model, *args, input=None):
    # English prompts: one context size for every country (native panels differ in length,
    # and each result records the context it ran in)
    result = CliRunner().invoke(
        cli,
        ["ask", "--lang", "en", "--model", str(model), "--threads", "2", "--seed", "7", *args],
        input=input,
    )
    assert result.exit_code == 0, result.output
    return result


def numbers(result: dict) -> np.ndarray:
    """Every number of a result that the model or the correction produced."""
    logits = [[e["logit_a"], e["logit_b"]] for e in result["evaluations"]]
    c = result["correction"]
    return np.array(
        [
            *np.ravel(logits),
            result["base_gap"],
            *result["persona_gaps"].values(),
            *(c[k] for k in ("delta_bar", "disagreement", "sigma", "delta_star", "delta_final")),
            result["vanilla"]["p_b"],
            result["vanilla_matched"]["p_b"],
            result["disca"]["p_b"],
        ]
    )


@pytest.fixture(scope="module")
def together(smollm2_path):
    lines = ask(smollm2_path, "--country", "JP,US,DE", "--json", *QUESTION).stdout.splitlines()
    return [json.loads(line) for line in lines]


def test_one_object_per_country_in_order(together):
    assert [r["country"] for r in together] == list(COUNTRIES)
    assert len({r["panel"]["sha256"] for r in together}) == 3
    assert len({json.dumps(r["dilemma"]) for r in together}) == 1


@pytest.mark.parametrize("country", COUNTRIES)
def test_each_country_equals_its_one_country_run(together, smollm2_path, country):
    (alone,) = [
        json.loads(x)
        for x in ask(smollm2_path, "-c", country, "--json", *QUESTION).stdout.splitlines()
    ]
    mine = next(r for r in together if r["country"] == country)
    np.testing.assert_array_equal(numbers(mine), numbers(alone))
    assert mine == alone


def test_terminal_view_rows_match_the_json(together, smollm2_path):
    out = ask(smollm2_path, "--country", "JP,US,DE", *QUESTION).stdout
    assert out.count("two elderly women") == 1
    for r in together:
        row = next(line for line in out.splitlines() if line.lstrip().startswith(r["country"]))
        assert f"{r['vanilla']['p_b']:.3f}" in row and f"{r['disca']['p_b']:.3f}" in row
        assert f"{r['correction']['disagreement']:.4f}" in row


def test_input_lines_may_name_their_country(together, smollm2_path):
    line = {"left": "a boy", "right": "two elderly women", "category": "age", "country": "DE"}
    out = ask(smollm2_path, "--input", "-", input=json.dumps(line) + "\n").stdout.splitlines()
    (result,) = [json.loads(x) for x in out]
    deu = next(r for r in together if r["country"] == "DEU")
    assert result["country"] == "DEU" and result["input_line"] == 1
    np.testing.assert_array_equal(numbers(result), numbers(deu))


def test_panels_built_from_wvs_are_used_and_recorded(smollm2_path, built_panels, monkeypatch):
    from disca_edge.content.personas import load_panel

    folder = built_panels
    monkeypatch.setenv("DISCA_PERSONAS_DIR", str(folder))
    (result,) = [
        json.loads(x)
        for x in ask(smollm2_path, "-c", "JP", "--json", *QUESTION).stdout.splitlines()
    ]
    built = load_panel("JP", folder)
    assert result["panel"]["provenance"] == "wvs7-microdata"
    assert result["panel"]["path"] == str(folder / "JPN.toml")
    assert result["panel"]["sha256"] == built.sha256() != load_panel("JP").sha256()
    prompts = {e["prompt"] for e in result["evaluations"]}
    assert all(any(text in p for p in prompts) for text in built.texts())
