"""The Python entry points on SmolLM2-135M: `disca_edge.eval_multitp` (with its progress,
resumed by a second call) and `Session(lang=...)`."""

from __future__ import annotations

from click.testing import CliRunner

import disca_edge
from disca_edge.cli import cli
from disca_edge.evals.runlog import read_header, read_samples
from disca_edge.evals.scoring import read_run_results


def test_eval_multitp_runs_resumes_and_shows_progress(acme, smollm2_path, n_threads, tmp_path,
                                                      capsys):  # fmt: skip
    pulled = CliRunner().invoke(cli, ["data", "pull", "moral-machine", "--from", str(acme)])
    assert pulled.exit_code == 0, pulled.output
    out = tmp_path / "run"
    options = {"model": smollm2_path, "limit": 1, "n_threads": n_threads, "progress": "plain"}
    results = disca_edge.eval_multitp(out, "USA", **options)
    assert isinstance(results, disca_edge.session.RunResults)
    assert list(results.results.countries) == ["USA"] and results.results.coverage.complete
    assert results.results.run.lang == "native"  # the CLI's default
    assert results.results == read_run_results(out)
    assert len(read_samples(out)) == 1
    shown = capsys.readouterr().err.splitlines()
    assert shown[0].startswith("USA 0/1 | all 0/1") and shown[-1].startswith("USA 1/1 | all 1/1")
    again = disca_edge.eval_multitp(out, ["USA"], **options)  # nothing left to do: resumed
    assert again.results.countries == results.results.countries
    assert [e["records_added"] for e in read_header(out)["invocations"]] == [1, 0]
    frame = disca_edge.load_results(out).to_frame()
    assert set(frame["country"]) == {"USA"} and "disca_paper" in set(frame["method"])


def test_a_session_asks_natively_by_default_and_in_english_when_told(smollm2_path, n_threads):
    with disca_edge.Session(smollm2_path, countries="DE", n_threads=n_threads) as session:
        (native,) = session.ask("a boy", "two elderly women", country="DE")
    with disca_edge.Session(smollm2_path, lang="en", countries="DE", n_threads=n_threads) as en:
        (english,) = en.ask("a boy", "two elderly women", country="DE")
    assert (native.language.mode, native.language.frame_language) == ("native", "de")
    assert (english.language.mode, english.language.frame_language) == ("en", "en")
    assert native.dilemma.text != english.dilemma.text  # the frame in German
