"""Sweep tables (`views.sweeps`): rows per parameter point, mean ± sd over seeds, by hand."""

from __future__ import annotations

import dataclasses
import re
import statistics

import pytest
from test_results import small_results

from disca_edge.evals.rescore import Sweep, SweepEntry, SweepPoint
from disca_edge.evals.results import MacroScore, VanillaComparison
from disca_edge.views import render, sweeps


def point_results(seed: int, mis: float, gain: float | None):
    """`small_results` with this seed, macro DISCA MIS and % gain."""
    base = small_results()
    return dataclasses.replace(
        base,
        run=dataclasses.replace(base.run, is_seed=seed),
        macro={**base.macro, "disca_paper": MacroScore(mis, None, None, None, None, None, 2)},
        vs_vanilla={"vanilla_raw": {"disca_paper": VanillaComparison(gain, 1, 2, {})}},
    )


def sweep_of(points: list[SweepPoint]) -> Sweep:
    entries = [SweepEntry(f"p{i}", p, None) for i, p in enumerate(points)]
    seeds = sorted({p.seed for p in points})
    return Sweep("now", "/runs/src", "f" * 64, seeds, {"eta": [0.1, 0.2]}, entries)


def test_sweep_table_groups_points_and_spreads_over_seeds():
    points = [SweepPoint(s, {"eta": eta}) for eta in (0.1, 0.2) for s in (1, 2, 3)]
    mis = [0.30, 0.32, 0.37, 0.20, 0.20, 0.20]
    gains = [10.0, 12.0, None, 5.0, 6.0, 7.0]  # a missing gain is left out
    results = [point_results(p.seed, m, g) for p, m, g in zip(points, mis, gains, strict=True)]
    table = sweeps.sweep_table(sweep_of(points), results)
    assert [r["point"] for r in table.rows] == ["eta=0.1", "eta=0.2"]
    first, second = table.rows
    assert first["n_seeds"] == 3 and first["vanilla"] == pytest.approx(0.45)
    assert first["mis"] == pytest.approx(statistics.mean(mis[:3]))
    assert first["mis_sd"] == pytest.approx(statistics.stdev(mis[:3]))  # n − 1
    assert first["gain"] == pytest.approx(11.0) and first["gain_sd"] == pytest.approx(2**0.5)
    assert second["mis_sd"] == pytest.approx(0.0) and second["mis_view"] == "0.200 ± 0.000"
    assert first["mis_view"] == f"{statistics.mean(mis[:3]):.3f} ± {statistics.stdev(mis[:3]):.3f}"
    assert first["gain_view"] == "+11.0 ± 1.4"  # the sd with the mean's one decimal
    assert "seeds 1, 2, 3" in table.notes[0] and "/runs/src" in table.notes[0]
    lines = table.header + table.notes
    assert not any(re.search(r"IS seed \d", line) for line in lines)  # the table has several
    assert "data seed 42" in table.header[0] and table.header[1].startswith("prompt protocol")
    assert table.header[2].startswith("prompt variant")
    assert "mis_view" not in render.render([table], "json")  # view cells stay out of data


def test_seed_table_has_a_row_per_country_and_the_mean():
    results = [point_results(s, m, 10.0) for s, m in ((1, 0.2), (2, 0.4))]
    table = sweeps.seed_table(results)
    assert [r["iso3"] for r in table.rows] == ["USA", "THA"]
    assert table.footer[0]["mis"] == pytest.approx(0.3)
    assert table.footer[0]["mis_sd"] == pytest.approx(statistics.stdev([0.2, 0.4]))
    assert table.rows[0]["mis"] == pytest.approx(0.2) and table.rows[0]["mis_sd"] == 0.0
    assert table.rows[1]["mis"] is None and table.rows[1]["mis_view"] == "—"  # THA: no MIS
    assert "over IS seeds 1, 2" in table.title
    assert not any(re.search(r"IS seed \d", line) for line in table.header + table.notes)
    assert table.footer[0]["gain_view"] == "+10.0 ± 0.0"
