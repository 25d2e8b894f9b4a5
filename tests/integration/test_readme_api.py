"""The README's Python API examples, extracted from README.md and run as written.

The first example loads SmolLM2-135M through `disca_edge.Session`; the second opens a
small `disca eval multitp` run (one country, one scenario) made here as ``runs/NAME`` in a scratch folder.
"""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest
from click.testing import CliRunner

from disca_edge.cli import cli

pytestmark = pytest.mark.model

README = __import__("pathlib").Path(__file__).resolve().parents[2] / "README.md"


def api_examples() -> list[str]:
    """The ```python blocks of the README's "Python API" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_example(code: str) -> tuple[dict, str]:
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - the README's code
    return namespace, out.getvalue()


def test_the_readme_has_both_examples():
    examples = api_examples()
    assert len(examples) == 2
    assert "disca_edge.Session(" in examples[0] and "load_results(" in examples[1]


def test_session_example_runs_and_closes_the_model(smollm2_path):
    namespace, printed = run_example(api_examples()[0])
    answers, frame, more = namespace["answers"], namespace["frame"], namespace["more"]
    assert namespace["session"].engine is None  # the with-block closed the model
    assert [r.country for r in answers] == ["JPN", "USA", "DEU"]
    assert list(frame["country"]) == ["JPN", "USA", "DEU"]
    assert list(frame["disca_p_b"]) == [r.disca.p_b for r in answers]
    assert list(frame["flip"]) == [r.disca.flips_vanilla for r in answers]
    assert answers[0].model.sha256.startswith("b179c952")
    assert more[0].country == "DEU" and more[0].dilemma.form == "custom"
    assert more[0].disca.option in ("the painting", "the dog")
    assert more[0].disca.option in printed and "disagreement" in printed
    html = answers._repr_html_()
    assert html.count("<tr>") == 3 and "JPN" in html and "disca_p_b" in html


def test_load_results_example_runs_on_a_real_run(acme, smollm2_path, tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["data", "pull", "moral-machine", "--from", str(acme)]).exit_code == 0
    out = tmp_path / "runs" / "NAME"
    made = runner.invoke(
        cli,
        ["eval", "multitp", "--model", str(smollm2_path), "--out", str(out),
         "--countries", "USA", "--limit", "1", "--threads", "2", "--display", "none"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        namespace, printed = run_example(api_examples()[1])
    finally:
        os.chdir(cwd)
    frame = namespace["results"].to_frame()
    assert set(frame["country"]) == {"USA"} and "disca_paper" in set(frame["method"])
    raw = namespace["results"]
    for row in frame.itertuples():
        assert row.mis == raw.results.countries[row.country].methods[row.method].mis
    assert "USA" in printed and "disca_paper" in printed
    assert "<table" in raw._repr_html_()
