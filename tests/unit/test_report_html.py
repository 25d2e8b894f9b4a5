"""`disca report --format html`: the page's figures, counted in a real headless Chromium.

Runs come from synthetic logits (`test_report.make_run`); the page is written by the CLI,
opened with Debian's ``chromium`` (installed by ``.ci/run``), its DOM dumped after load,
a screenshot taken, and the browser's console log read. The figures are matplotlib's
SVG with their marks tagged (`views.plots`): marks are counted per figure and compared
with what the results (and the persona effects of the samples) say should be drawn.
Negative controls show the console and network checks can fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_report import human_targets, make_run, write_run

from disca_edge.cli import cli
from disca_edge.evals.persona_effects import persona_effects
from disca_edge.evals.scoring import score_run
from disca_edge.views import figures

COUNTRIES = ("USA", "JPN", "DEU")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--enable-logging=stderr", "--v=0",
]  # fmt: skip


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"
    if os.environ.get("DISCA_REQUIRE_BROWSER"):
        pytest.fail(message + " and DISCA_REQUIRE_BROWSER is set")
    pytest.skip(message)


def browse(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """Open `page` in a fresh headless Chromium profile; returns the finished process."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def console_errors(stderr: str) -> list[str]:
    """The page's console messages in Chromium's log (``...:CONSOLE:N] "text", source: ...``).

    The log does not say a message's level, and the page has no scripts, so every
    console message counts: errors, uncaught exceptions, failed resource loads.
    """
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class Marks(HTMLParser):
    """Tagged elements per figure (the enclosing svg's data-figure), by class.

    A mark is ``<g class="mark" data-series=… data-value=…>`` around what matplotlib drew
    for it; the first ``<use>`` inside (a marker) gives its position.
    """

    def __init__(self) -> None:
        super().__init__()
        self.figure: str | None = None
        self.counts: dict[str, list[dict]] = {}  # class "mark" only
        self.tagged: dict[tuple[str, str], int] = {}  # (figure, class) -> count
        self.figures: list[str] = []
        self.open: list[dict | None] = []  # per open <g>: the mark it starts, if any

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self.figure = attrs.get("data-figure")
            self.figures.append(self.figure)
        elif tag == "g" and self.figure:
            kind = attrs.get("class")
            if kind in ("mark", "missing", "errorbar"):
                key = (self.figure, kind)
                self.tagged[key] = self.tagged.get(key, 0) + 1
            mark = {"tag": tag, **attrs} if kind == "mark" else None
            if mark is not None:
                self.counts.setdefault(self.figure, []).append(mark)
            self.open.append(mark)
        elif tag == "use" and self.figure:
            mark = next((m for m in reversed(self.open) if m is not None), None)
            if mark is not None and "x" not in mark:
                mark["x"] = float(attrs["x"])

    def handle_endtag(self, tag):
        if tag == "svg":
            self.figure = None
        elif tag == "g" and self.open:
            self.open.pop()


def expected_marks(runs) -> dict[str, int]:
    """What the figures must draw: a mark per value present in the results (and effects)."""
    dumbbell = dims = ablation = personas = 0
    for res, effects in runs:
        primary = res.run.primary
        for entry in res.countries.values():
            v = entry.methods["vanilla_raw"].mis
            d = entry.methods[primary].mis
            dumbbell += (v is not None) + (d is not None) + (v is not None and d is not None)
            for vector in (
                entry.human,
                entry.methods["vanilla_raw"].vector,
                entry.methods[primary].vector,
            ):
                dims += sum(x is not None for x in vector)
        rows = [res.macro[primary].mis]
        rows += [r.mis for r in res.ablations.values()]
        rows += [res.macro[v].mis for v in res.run.vanilla]
        ablation += sum(x is not None for x in rows)
        personas += sum(
            x is not None
            for per in effects.countries.values()
            for values in per.values()
            for x in values
        )
    return {"dumbbell": dumbbell, "dimensions": dims, "ablations": ablation, "personas": personas}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    out = []
    for name, variant, seed in (("a", "paper", 0), ("b", "reference", 1)):
        header, records = make_run(COUNTRIES, n=40, variant=variant, seed=seed)
        results = score_run(header, records, targets=human_targets(COUNTRIES))
        write_run(folder / name, header, records, results)
        out.append((folder / name, results, persona_effects(records, results.run.primary)))
    return out


# a reference to anything outside the page (a fragment reference, url(#clip), is inside it)
NETWORK = r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(?!#)|@import|<script"""


@pytest.mark.slow
def test_page_is_self_contained_and_counts_marks_in_chromium(runs, tmp_path):
    (a, res_a, fx_a), (b, res_b, fx_b) = runs
    page = tmp_path / "report.html"
    made = CliRunner().invoke(
        cli, ["report", str(a), "--compare", str(b), "--format", "html", "-o", str(page)]
    )
    assert made.exit_code == 0, made.output
    text = page.read_text(encoding="utf-8")
    assert not re.search(NETWORK, text)
    assert "url(#" in text  # matplotlib clips to paths defined in the page itself

    shot = tmp_path / "report.png"
    shown = browse(page, tmp_path, "--window-size=1200,2400", f"--screenshot={shot}")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert console_errors(shown.stderr) == []
    if os.environ.get("DISCA_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["DISCA_KEEP_SCREENSHOT"])

    dumped = browse(page, tmp_path, "--dump-dom")
    assert dumped.returncode == 0 and console_errors(dumped.stderr) == []
    marks = Marks()
    marks.feed(dumped.stdout)
    assert marks.figures.count("dumbbell") == 1 and marks.figures.count("ablations") == 1
    assert marks.figures.count("dimensions") == 2 and marks.figures.count("personas") == 2
    counts = {name: len(found) for name, found in marks.counts.items()}
    assert counts == expected_marks([(res_a, fx_a), (res_b, fx_b)])
    assert not any(kind == "missing" for _, kind in marks.tagged)  # every value is present
    series = [m["data-series"] for m in marks.counts["dumbbell"]]
    assert series.count("vanilla") == series.count("disca") == 2 * len(COUNTRIES)
    # run a's DISCA dots (rows alternate a, b per country) hold the MIS values, and sit
    # left to right in the order of those values
    dots = [m for m in marks.counts["dumbbell"] if m["data-series"] == "disca"][::2]
    values = [res_a.countries[c].methods["disca_paper"].mis for c in COUNTRIES]
    assert [float(m["data-value"]) for m in dots] == values
    assert sorted(range(3), key=lambda i: dots[i]["x"]) == sorted(range(3), key=values.__getitem__)
    cells = [m for m in marks.counts["personas"] if m["data-series"] == "young"]
    assert float(cells[0]["data-value"]) == fx_a.countries["USA"]["young"][0]
    assert str(a) in dumped.stdout and "IS seed 42" in dumped.stdout


@pytest.mark.slow
def test_console_errors_and_network_references_are_caught(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('boom'); undefinedCall();</script>")
    errors = console_errors(browse(bad, tmp_path, "--dump-dom").stderr)
    assert any("boom" in line for line in errors) and any("Uncaught" in line for line in errors)


def test_single_run_page_has_every_figure_and_the_metadata(runs):
    (a, res_a, fx_a), _ = runs
    page = figures.html_report([(str(a), res_a)], effects=[fx_a])
    for name in figures.FIGURES:
        assert page.count(f'data-figure="{name}"') == 1
    for text in ("model", "fake-model", "variant", "paper", "IS seed 42", "language"):
        assert text in page
    assert not re.search(NETWORK, page)
    without = figures.html_report([(str(a), res_a)])  # no samples read: a note, no figure
    assert 'data-figure="personas"' not in without and "No persona effects" in without
    result = CliRunner().invoke(cli, ["report", str(a), "--format", "html"])
    assert result.exit_code == 0 and result.output.startswith("<!DOCTYPE html>")
    assert result.output.count('data-figure="personas"') == 1


def test_network_check_tells_outside_references_from_fragments():
    for outside in ('<img src="https://x/y.png">', "url( 'http://x/f.woff')", '<a href="//x">',
                    "@import 'a.css'", "<script>"):  # fmt: skip
        assert re.search(NETWORK, outside), outside
    assert not re.search(NETWORK, '<path clip-path="url(#p1a2b)"/><use xlink:href="#m1"/>')
