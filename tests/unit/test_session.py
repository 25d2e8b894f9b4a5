"""`disca_edge.Session` and result frames without a model (the fake engine of the ask tests)."""

from __future__ import annotations

import pandas as pd
import pytest
from test_ask_countries import FAKE_MODEL, FakeEngine
from test_results import small_results

import disca_edge
from disca_edge.errors import DiscaError
from disca_edge.session import RunResults


def fake_session() -> disca_edge.Session:
    session = disca_edge.Session.__new__(disca_edge.Session)
    session.engine, session.model_info, session.personas = FakeEngine(), FAKE_MODEL, None
    return session


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
