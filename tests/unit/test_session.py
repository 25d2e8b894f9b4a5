"""`disca_edge.Session` and result frames without a model (the fake engine of the ask tests)."""

from __future__ import annotations

import pandas as pd
import pytest
from test_ask_countries import FAKE_MODEL, FakeEngine
from test_results import small_results

import disca_edge
from disca_edge.errors import DiscaError
from disca_edge.session import RunResults


def fake_session(lang: str = "en") -> disca_edge.Session:
    session = disca_edge.Session.__new__(disca_edge.Session)
    session.engine, session.model_info, session.personas = FakeEngine(), FAKE_MODEL, None
    session.lang = lang
    return session


def test_a_session_asks_in_each_countrys_language_unless_told_english(monkeypatch):
    import inspect

    assert inspect.signature(disca_edge.Session).parameters["lang"].default == "native"
    (native,) = fake_session("native").ask("a boy", "two elderly women", country="JP")
    (english,) = fake_session("en").ask("a boy", "two elderly women", country="JP")
    assert (native.language.mode, native.language.frame_language) == ("native", "ja")
    assert (english.language.mode, english.language.frame_language) == ("en", "en")
    assert native.evaluations[0].prompt != english.evaluations[0].prompt


def test_a_session_refuses_a_language_or_country_before_loading_a_model(monkeypatch):
    from disca_edge import session as session_module

    def no_model(*args, **kwargs):
        raise AssertionError("the model was opened")

    monkeypatch.setattr(session_module, "open_engine", no_model)
    with pytest.raises(DiscaError, match="lang must be native or en, got 'fr'"):
        disca_edge.Session(lang="fr")
    with pytest.raises(DiscaError, match="unknown country 'Atlantis'"):
        disca_edge.Session(countries="JP,Atlantis")


def test_a_session_sizes_its_context_for_its_countries_in_its_language(monkeypatch):
    from disca_edge import session as session_module

    opened = []
    monkeypatch.setattr(session_module, "open_engine",
                        lambda options, fit: opened.append(fit) or (FakeEngine(), FAKE_MODEL))  # fmt: skip
    disca_edge.Session(lang="native", countries="MM")
    disca_edge.Session(lang="en", countries=["MM", "US"])
    native, english = opened
    assert len(native.panels) == 1 and len(english.panels) == 2
    burmese = native.panels[0][0][1]  # the first persona's system prompt
    assert any("\u1000" <= ch <= "\u109f" for ch in burmese)  # Myanmar script
    assert english.panels[0][0][1].startswith("You are a young adult from Myanmar")


def test_ask_returns_one_row_per_country_and_closes():
    with fake_session() as session:
        engine = session.engine
        answers = session.ask("a boy", "two elderly women", country=["JP", "US"], category="age")
        lines = session.ask(
            [{"left": "a dog", "right": "a cat"}, {"left": "a", "right": "b", "country": "DE"}],
            country="JP",
        )
    assert session.engine is None and engine.closed
    frame = answers.to_frame()
    assert list(frame["country"]) == ["JPN", "USA"]
    assert list(frame["disca_p_b"]) == [r.disca.p_b for r in answers]
    assert list(frame["disagreement"]) == [r.correction.disagreement for r in answers]
    assert frame["category"].tolist() == ["Age", "Age"]
    assert [(r.index, r.country) for r in lines] == [(0, "JPN"), (1, "DEU")]
    assert answers._repr_html_().count("<tr>") == 2  # body rows
    with pytest.raises(DiscaError, match="closed"):
        session.ask("a", "b")


def test_bad_input_raises_one_error():
    session = fake_session()
    with pytest.raises(DiscaError, match="identical"):
        session.ask("a boy", "A boy", country="JP")
    with pytest.raises(DiscaError, match="unknown country 'Atlantis'"):
        session.ask("a", "b", country="JP,Atlantis")


def test_run_results_frame_has_a_row_per_country_and_method():
    results = RunResults(small_results())
    frame = results.to_frame()
    assert list(zip(frame["country"], frame["method"], strict=True)) == [
        ("USA", "vanilla_raw"), ("USA", "disca_paper"), ("THA", "vanilla_raw"),
        ("THA", "disca_paper"),
    ]  # fmt: skip
    assert list(frame.columns[:9]) == [
        "country", "method", "n", "mis", "jsd", "pearson", "kendall_tau", "spearman", "flip_rate"
    ]  # fmt: skip
    assert frame.loc[1, "mis"] == 0.2 and frame.loc[1, "Gender_Female"] == pytest.approx(0.51)
    assert frame.loc[2, "n"] == 2 and pd.isna(frame.loc[2, "Fitness_Fit"])  # not covered
    assert results.results.countries["THA"].methods["disca_paper"].mis is None
    assert "0.4000" in results._repr_html_()


def test_eval_multitp_refuses_bad_options_before_writing_or_loading(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(DiscaError, match="lang must be native or en, got 'de'"):
        disca_edge.eval_multitp(out, "USA", lang="de")
    with pytest.raises(DiscaError, match="unknown country 'Atlantis'"):
        disca_edge.eval_multitp(out, ["USA", "Atlantis"])
    with pytest.raises(DiscaError, match="--limit must be >= 1, got 0"):
        disca_edge.eval_multitp(out, "USA", limit=0)
    assert not out.exists()
