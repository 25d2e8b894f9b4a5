"""Report header lines and notes (`views.notes`), and that every format shows them.

The header names the model (and whether the paper used it), the prompt variant (always)
and the caveats that apply; the tables carry the intervals and significant/raw wins.
Each is checked on its own, then in the rich, Markdown, CSV (read back with pandas),
JSON and HTML renderings of one run.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json

import pandas as pd
import pytest
from rich.console import Console
from test_report import scored_run
from test_results import small_noise, small_results

from disca_edge.evals.results import PromptVariant
from disca_edge.views import figures, notes, render, tables


def with_run(results, **changes):
    return dataclasses.replace(results, run=dataclasses.replace(results.run, **changes))


def test_run_line_names_the_model_and_whether_the_paper_used_it():
    results = small_results()
    line = notes.run_line(results)
    assert line.startswith("model m (sha256 ffffffffffff…), not one of the paper's backbones;")
    assert "DISCA variant paper; IS seed 42, data seed 42" in line
    assert "backbone" not in notes.run_line(with_run(results, paper_backbone=True))
    unknown = notes.run_line(with_run(results, paper_backbone=None))
    assert "not a registry model, so not known to be one of the paper's backbones" in unknown
    assert "IS seed" not in notes.run_line(results, is_seed=False)


def test_prompt_line_is_always_shown_and_names_what_differs():
    results = small_results()  # --cap 40, --drop-dims religion, --lang native
    assert notes.prompt_line(results) == (
        "prompt variant: --cap 40, --drop-dims religion (default --cap 80, --drop-dims none); "
        "other prompt options default"
    )
    default = with_run(results, prompts=PromptVariant())
    assert notes.prompt_line(default) == (
        "prompt variant: default (--cap 80, --min-per-category 0, --fourth aggregate, "
        "--drop-dims none, --lang native)"
    )
    english = notes.prompt_line(with_run(results, prompts=PromptVariant(), lang="en"))
    assert english.startswith("prompt variant: --lang en (default --lang native)")
    uncapped = with_run(results, prompts=PromptVariant(cap=None, fourth="utilitarian"))
    assert "--cap none, --fourth utilitarian" in notes.prompt_line(uncapped)
    released = PromptVariant(fourth="utilitarian", anchor_text="released")
    line = notes.prompt_line(with_run(results, prompts=released))
    assert "--fourth utilitarian, --anchor-text released (default --fourth aggregate)" in line
    assert "not recorded" in notes.prompt_line(with_run(results, prompts=None))


def test_caveats_apply_only_where_they_should():
    results = small_results()  # USA n 6 (σ at floor in 75%), THA n 2
    lines = notes.caveat_lines(results)
    assert lines[0] == (
        "caveat: n < 310 scenarios per country (the paper scores 310): USA 6, THA 2"
    )
    assert lines[1].startswith("caveat: σ sits at its floor σ₀ in most scenarios (disca_paper")
    assert lines[1].endswith(": USA 75%") and len(lines) == 2
    usa = results.countries["USA"]
    full = {
        iso: dataclasses.replace(c, n=310) for iso, c in results.countries.items()
    }  # the paper's n: no n caveat
    half = dataclasses.replace(usa.methods["disca_paper"], sigma_at_floor=0.5)
    full["USA"] = dataclasses.replace(full["USA"], methods={**usa.methods, "disca_paper": half})
    assert notes.caveat_lines(dataclasses.replace(results, countries=full)) == []
    loud = dataclasses.replace(results, noise=small_noise())  # USA under its noise, THA not
    assert notes.caveat_lines(loud)[-2:] == [
        "caveat: the noise floor exceeds the persona effects in 1 of 2 measured countries "
        "(f16: 95th percentile of |Δ(δ_i − δ_base)| > median |δ_i − δ_base|): "
        "USA 0.120 > 0.090",
        "caveat: DISCA's shift is below the noise floor in 1 of 2 measured countries (median "
        "|δ_out − δ_base| of disca_paper < the noise's 95th percentile, f16): USA 0.040 < 0.120",
    ]
    noise = small_noise()
    usa = dataclasses.replace(noise.countries["USA"], shift_below_floor=False)
    one = dataclasses.replace(noise, countries={**noise.countries, "USA": usa})
    assert "shift" not in " ".join(notes.caveat_lines(dataclasses.replace(results, noise=one)))
    quiet = dataclasses.replace(noise, countries={"THA": noise.countries["THA"]})
    assert not any(
        "noise" in line for line in notes.caveat_lines(dataclasses.replace(results, noise=quiet))
    )


def test_a_run_too_small_for_intervals_says_so():
    _, _, results = scored_run(n=40)  # Species has 2 scenarios
    lines = notes.caveat_lines(results)
    assert (
        "caveat: no intervals, and no significant wins counted, where a dimension has fewer "
        "than 10 scenarios: USA, JPN, DEU"
    ) in lines
    table = tables.country_table(results)
    assert table.rows[0]["mis_view"] == (results.countries["USA"].methods["disca_paper"].mis, None)
    assert any(n.startswith("wins ") and "raw (no intervals)" in n for n in table.notes)
    assert "interval" not in " ".join(notes.caveat_lines(scored_run(n=180)[2]))


def test_wins_and_intervals_say_when_there_are_none():
    results = small_results()
    vs = results.vs_vanilla["vanilla_raw"]["disca_paper"]
    assert notes.wins_text(vs) == "wins 1/1 (1 raw), hurt 0/1"
    old = dataclasses.replace(vs, wins_significant=None, hurt_significant=None)
    assert notes.wins_text(old) == "wins 1/1 raw (no intervals)"
    assert "1,000 resamples, seed 42; none where a dimension has fewer than 10" in (
        notes.interval_note(results)
    )
    bare = dataclasses.replace(results, bootstrap=None)
    assert "--recompute" in notes.interval_note(bare)
    assert render.format_value((0.2, [0.15, 0.3]), "mis_ci") == "0.200 [0.150, 0.300]"
    assert render.format_value((-0.2, [-0.3, -0.1]), "delta_ci") == "-0.200 [-0.300, -0.100]"
    assert render.format_value((0.2, None), "mis_ci") == "0.200"
    assert render.format_value((None, None), "mis_ci") == "—"


@pytest.fixture(scope="module")
def caveated():
    """A scored run (3 countries x 180 scenarios) with a prompt variant, on a non-backbone."""
    _, _, results = scored_run(n=180)
    return with_run(results, prompts=PromptVariant(cap=40, fourth="utilitarian"))


def expected_text(results):
    usa = results.countries["USA"].methods["disca_paper"]
    vs = results.vs_vanilla["vanilla_raw"]["disca_paper"]
    return [
        "not a registry model, so not known to be one of the paper's backbones",
        "prompt variant: --cap 40, --fourth utilitarian",
        "caveat: n < 310 scenarios per country (the paper scores 310): USA 180, JPN 180, DEU 180",
        render.format_value((usa.mis, usa.mis_interval), "mis_ci"),
        render.format_value(
            (vs.per_country_difference["USA"], vs.per_country_difference_interval["USA"]),
            "delta_ci",
        ),
        notes.wins_text(vs),
    ]


def test_every_text_format_shows_the_header_intervals_and_wins(caveated):
    shown = [tables.country_table(caveated), tables.ablation_table(caveated)]
    console = Console(record=True, width=250)
    render.render(shown, "rich", console=console)
    rich_text = console.export_text()
    md = render.render(shown, "md")
    for text in (rich_text, md):
        for piece in expected_text(caveated):
            assert piece in text, piece
        assert text.count("prompt variant:") == 1  # the same header is shown once
    assert "[low, high]: 95% stratified" in rich_text  # not eaten as rich markup
    data = json.loads(render.render(shown, "json"))
    countries = data["tables"][0]
    assert countries["header"] == notes.header_lines(caveated)
    assert any(n.startswith(notes.wins_text(caveated.vs_vanilla["vanilla_raw"]["disca_paper"]))
               for n in countries["notes"])  # fmt: skip
    usa = countries["rows"][0]
    interval = caveated.countries["USA"].methods["disca_paper"].mis_interval
    assert [usa["disca_paper_low"], usa["disca_paper_high"]] == interval


def test_csv_is_one_long_table_and_its_header_lines_go_beside_it(caveated):
    table = tables.country_table(caveated)
    text = render.render([table], "csv")
    assert not any(line.startswith("#") for line in text.splitlines())
    beside = json.loads(render.csv_notes([table]))["tables"][0]
    assert beside["header"] == notes.header_lines(caveated) and beside["notes"] == table.notes
    frame = pd.read_csv(io.StringIO(text))  # no options
    assert list(frame.columns) == ["table", "iso3", "lang", "variable", "value", "low", "high"]
    assert list(dict.fromkeys(frame["iso3"])) == ["USA", "JPN", "DEU", "Mean"]
    assert frame["value"].dtype.kind == "f" and frame["low"].dtype.kind == "f"
    rows = frame.set_index(["iso3", "variable"])
    vs = caveated.vs_vanilla["vanilla_lfl"]["disca_paper"]
    for iso in ("USA", "JPN", "DEU", "Mean"):
        if iso == "Mean":
            want = [caveated.macro["disca_paper"].mis_interval, vs.difference_interval]
        else:
            want = [
                caveated.countries[iso].methods["disca_paper"].mis_interval,
                vs.per_country_difference_interval[iso],
            ]
        got = [*rows.loc[(iso, "disca_paper"), ["low", "high"]],
               *rows.loc[(iso, "diff_other"), ["low", "high"]]]  # fmt: skip
        assert got == pytest.approx([*want[0], *want[1]], rel=1e-12)
    assert "disca_paper_low" not in set(frame["variable"])  # folded into low/high
    assert rows.loc[("Mean", "gain"), "low"] == pytest.approx(
        caveated.vs_vanilla["vanilla_raw"]["disca_paper"].pct_gain_interval[0], rel=1e-12
    )


def test_html_page_shows_tables_header_and_error_bars(caveated):
    page = figures.html_report([("runs/a", caveated)])
    for piece in expected_text(caveated):
        assert html.escape(piece) in page, piece
    assert page.count('data-table="countries"') == 1 and 'data-table="ablations"' in page
    n_countries = len(caveated.countries)
    dumbbell = page.split('data-figure="dumbbell"')[1].split("</svg>")[0]
    assert dumbbell.count('class="errorbar" data-series="vanilla"') == n_countries
    assert dumbbell.count('class="errorbar" data-series="disca"') == n_countries
    ablations = page.split('data-figure="ablations"')[1].split("</svg>")[0]
    n_rows = 1 + len(caveated.ablations) + len(caveated.run.vanilla)
    assert ablations.count('class="errorbar"') == n_rows
    low, high = caveated.macro["disca_paper"].mis_interval
    assert f"macro MIS 95% interval [{low:.3f}, {high:.3f}]" in ablations
    bare = dataclasses.replace(
        caveated,
        countries={
            iso: dataclasses.replace(
                c,
                methods={
                    k: dataclasses.replace(m, mis_interval=None) for k, m in c.methods.items()
                },
            )
            for iso, c in caveated.countries.items()
        },  # fmt: skip
        macro={k: dataclasses.replace(m, mis_interval=None) for k, m in caveated.macro.items()},
    )
    assert 'class="errorbar"' not in figures.html_report([("runs/a", bare)])
