"""`views.figures` and `views.plots`: matplotlib figures, their marks and their files.

Runs come from synthetic logits (`test_report.make_run`). The page in a real browser is
`test_report_html`; here: every figure written as SVG, PNG and PDF (by the CLI), zero
drawn apart from missing, round ticks, the persona effects against the records, and one
line when matplotlib is missing.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from test_report import human_targets, make_run, write_run

from disca_edge.cli import cli
from disca_edge.errors import DiscaError
from disca_edge.evals.persona_effects import persona_effects
from disca_edge.evals.scoring import score_run
from disca_edge.maths import categories
from disca_edge.views import figures, plots

COUNTRIES = ("USA", "JPN", "DEU")
MAGIC = {"svg": b"<?xml", "png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    header, records = make_run(COUNTRIES, n=40)
    results = score_run(header, records, targets=human_targets(COUNTRIES))
    folder = tmp_path_factory.mktemp("run") / "a"
    write_run(folder, header, records, results)
    return folder, records, results


def marks(svg: str, kind: str = "mark") -> list[dict[str, str]]:
    """The attributes of every ``<g class=KIND ...>`` in an SVG text."""
    found = re.findall(rf'<g id="([^"]+)" class="{kind}" ([^>]*)>', svg)
    return [{"id": gid, **dict(re.findall(r'([\w-]+)="([^"]*)"', attrs))} for gid, attrs in found]


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_every_figure_is_written_as_a_file(run, tmp_path, fmt):
    folder, _, _ = run
    for name in figures.FIGURES:
        out = tmp_path / f"{name}.{fmt}"
        result = CliRunner().invoke(cli, ["report", str(folder), "--figure", name, "-o", str(out)])
        assert result.exit_code == 0, result.output
        data = out.read_bytes()
        assert data.startswith(MAGIC[fmt]) and len(data) > 10_000, (name, len(data))
        assert f"wrote {out} ({name}, {fmt}" in result.output
    if fmt == "svg":
        text = (tmp_path / "dumbbell.svg").read_text(encoding="utf-8")
        assert "<svg" in text and text.rstrip().endswith("</svg>")
    # --format names the file type whatever the suffix says
    odd = tmp_path / "figure.bin"
    result = CliRunner().invoke(
        cli, ["report", str(folder), "--figure", "ablations", "--format", fmt, "-o", str(odd)]
    )
    assert result.exit_code == 0 and odd.read_bytes().startswith(MAGIC[fmt])


def test_svg_goes_to_stdout_and_bad_figure_options_are_one_line(run, tmp_path):
    folder, _, _ = run
    shown = CliRunner().invoke(cli, ["report", str(folder), "--figure", "dumbbell"])
    assert shown.exit_code == 0 and shown.output.startswith("<?xml")
    for args, message in (
        (["--figure", "dumbbell", "-o", str(tmp_path / "x.txt")], "svg, png or pdf"),
        (["--figure", "dumbbell", "--format", "png"], "needs --out FILE"),
        (["--format", "pdf", "-o", str(tmp_path / "x.pdf")], "give --figure NAME"),
        (["--figure", "dims"], "Invalid value for '--figure'"),
        (["--figure", "dumbbell", "--country", "JP"], "--country is for tables"),
    ):
        result = CliRunner().invoke(cli, ["report", str(folder), *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_figure_marks_hold_the_results_values(run):
    _, records, res = run
    effects = persona_effects(records, res.run.primary)
    svg = figures.make_figure("ablations", [("a", res)]).svg()
    assert svg.startswith('<svg data-figure="ablations"') and "<metadata>" not in svg
    bars = marks(svg)
    want = [res.macro[res.ablation_base].mis, *(r.mis for r in res.ablations.values()),
            *(res.macro[v].mis for v in res.run.vanilla)]  # fmt: skip
    assert [float(m["data-value"]) for m in bars] == want
    cells = marks(figures.make_figure("personas", [("a", res)], effects=effects).svg())
    assert len(cells) == len(COUNTRIES) * 4 * 6
    usa_old = [m for m in cells if m["data-series"] == "older"][0]
    assert float(usa_old["data-value"]) == effects.countries["USA"]["older"][0]
    with pytest.raises(ValueError, match="persona effects"):
        figures.make_figure("personas", [("a", res)])
    with pytest.raises(ValueError, match="unknown figure"):
        figures.make_figure("pie", [("a", res)])


def test_zero_is_drawn_and_missing_is_hatched_apart(run):
    _, _, res = run
    usa = res.countries["USA"]
    vector = list(usa.methods["disca_paper"].vector)
    vector[0], vector[1] = 0.0, None
    methods = {**usa.methods, "disca_paper": dataclasses.replace(usa.methods["disca_paper"],
                                                                 vector=vector)}  # fmt: skip
    odd = dataclasses.replace(
        res, countries={**res.countries, "USA": dataclasses.replace(usa, methods=methods)}
    )
    svg = figures.make_figure("dimensions", [("a", odd)]).svg()
    disca = [m for m in marks(svg) if m["data-series"] == "disca_paper"]
    assert len(disca) == 3 * 6 - 1 and float(disca[0]["data-value"]) == 0.0
    (missing,) = marks(svg, "missing")
    assert "USA Gender, disca_paper: no data" in svg
    # the zero bar: a path with no width, stroked, so a line shows at 0
    zero = svg.split(f'<g id="{disca[0]["id"]}"', 1)[1].split("</g>", 1)[0]
    xs = {float(x) for x in re.findall(r"[ML] ([\d.]+) [\d.]+", zero)}
    assert len(xs) == 1 and "stroke: #1f77b4" in zero  # no width, a stroked edge
    untouched = figures.make_figure("dimensions", [("a", res)]).svg()
    assert marks(untouched, "missing") == [] and "no data" not in untouched


def test_value_axes_have_round_ticks():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    for hi, step in ((1.0, 0.2), (0.5, 0.1), (0.25, 0.05), (2.5, 0.5)):
        figures._value_axis(ax, hi, "MIS")
        ticks = [t for t in ax.get_xticks() if 0 <= t <= hi + 1e-9]
        assert ticks[0] == 0 and np.allclose(np.diff(ticks), step), (hi, ticks)
    assert [plots.nice_ceiling(x) for x in (0.83, 0.5, 0.26, 3.1, 0.0)] == [1.0, 0.5, 0.5, 5.0, 1.0]


def test_persona_effects_are_the_oriented_mean_per_dimension(run):
    _, records, res = run
    effects = persona_effects(records, "disca_paper")
    assert effects.personas == ("young", "middle", "older", "all")
    usa = [r for r in records if r["country"] == "USA"]
    for d, dim in enumerate(categories.DIMENSIONS):
        mine = [r for r in usa if categories.DIMENSION_OF_CATEGORY[r["category"]] == dim]
        diag = [r["diagnostics"]["disca_paper"] for r in mine]
        sign = [1 if r["preferred_right"] else -1 for r in mine]
        older = [
            s * (g["delta_personas"][2] - g["delta_base"]) for s, g in zip(sign, diag, strict=True)
        ]
        assert effects.countries["USA"]["older"][d] == pytest.approx(np.mean(older), rel=1e-12)
        assert effects.n["USA"][dim] == len(mine)
    none = persona_effects([{**r, "diagnostics": {}} for r in records], "disca_paper")
    assert none.countries == {}


def test_without_matplotlib_figures_fail_with_one_line(run, tmp_path, monkeypatch):
    folder, _, res = run
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    with pytest.raises(DiscaError, match=re.escape(plots.PLOTS_EXTRA)):
        figures.html_report([("a", res)])
    for args in (["--format", "html"], ["--figure", "dumbbell"]):
        result = CliRunner().invoke(cli, ["report", str(folder), *args])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output == f"Error: figures need matplotlib: {plots.PLOTS_EXTRA}\n"
    tables = CliRunner().invoke(cli, ["report", str(folder), "--format", "csv"])
    assert tables.exit_code == 0  # the tables need no matplotlib


def test_csv_out_writes_a_long_table_and_its_notes_beside_it(run, tmp_path):
    folder, _, res = run
    out = tmp_path / "mis.csv"
    result = CliRunner().invoke(cli, ["report", str(folder), "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)  # no options
    assert set(frame["table"]) == {"countries", "ablations"}
    mis = frame[(frame["table"] == "countries") & (frame["variable"] == "disca_paper")]
    assert list(mis["iso3"]) == [*COUNTRIES, "Mean"]
    assert list(mis["value"][:3]) == [
        res.countries[c].methods["disca_paper"].mis for c in COUNTRIES
    ]
    notes = json.loads((tmp_path / "mis.csv.json").read_text(encoding="utf-8"))
    assert [t["name"] for t in notes["tables"]] == ["countries", "ablations"]
    assert any("personas: authored" in n for n in notes["tables"][0]["notes"])
    piped = CliRunner().invoke(cli, ["report", str(folder), "--format", "csv"])
    assert piped.exit_code == 0 and not piped.stdout.startswith("#")
    assert "# MultiTP MIS per country" in piped.stderr
