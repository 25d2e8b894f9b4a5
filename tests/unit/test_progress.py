"""progress: one protocol (rich, plain, none displays) and `--display` on every long command."""

from __future__ import annotations

import io
import typing

import pytest
from click.testing import CliRunner
from rich.console import Console

from disca_edge import progress as display
from disca_edge.cli import cli
from disca_edge.content import human_targets
from disca_edge.content.personas import wvs


def test_make_progress_picks_the_display():
    assert isinstance(display.make_progress("auto"), display.NullProgress)  # not a TTY
    assert isinstance(display.make_progress("none"), display.NullProgress)
    assert isinstance(display.make_progress("plain"), display.PlainProgress)
    assert isinstance(display.make_progress("rich", unit="bytes"), display.RichProgress)
    with pytest.raises(ValueError, match="display"):
        display.make_progress("fancy")
    with pytest.raises(ValueError, match="unit"):
        display.make_progress("plain", unit="apples")


def test_plain_scenarios_lines():
    stream = io.StringIO()
    plain = display.PlainProgress(stream=stream, every=0.0)
    plain.start(total=6, done=2)
    plain.stage("USA", 3, 1)
    plain.update(2)
    plain.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("USA 1/3 | all 2/6")
    assert lines[-1].startswith("USA 3/3 | all 4/6") and "scen/s" in lines[-1]


def test_plain_bytes_lines():
    stream = io.StringIO()
    plain = display.PlainProgress("reading WVS", "bytes", stream=stream, every=0.0)
    plain.start(total=3_000_000)
    plain.update(1_500_000)
    plain.close()
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("reading WVS 1.5/3.0 MB") and "MB/s" in lines[-1]


def test_rich_scenarios_bar():
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    bar = display.RichProgress(console=console)
    bar.start(total=6, done=2)
    bar.stage("JPN", 3, 0)
    bar.update(3)
    bar.close()
    assert "JPN" in console.file.getvalue() and "scen/s" in console.file.getvalue()


def test_download_bar_starts_on_the_first_callback_only(monkeypatch):
    stream = io.StringIO()
    made = []

    def plain(display_name, *, unit, description):
        made.append((display_name, unit, description))
        return display.PlainProgress(description, unit, stream=stream, every=0.0)

    monkeypatch.setattr(display, "make_progress", plain)
    with display.download_bar("plain", "pulling x"):
        pass  # cached: no callback, nothing drawn
    assert stream.getvalue() == ""
    with display.download_bar("plain", "pulling x") as update:
        update(1_000_000, 4_000_000)
        update(4_000_000, 4_000_000)
    assert made == [("plain", "bytes", "pulling x")] * 2
    assert stream.getvalue().splitlines()[-1].startswith("pulling x 4.0/4.0 MB")


@pytest.mark.parametrize(
    "command",
    [
        ["ask"],
        ["eval", "multitp"],
        ["models", "pull"],
        ["data", "pull"],
        ["personas", "build"],
    ],
)
def test_every_long_running_command_takes_display(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--display [auto|rich|plain|none]" in result.output


def test_data_pull_reports_bytes_with_plain_display(tmp_path, acme):
    result = CliRunner().invoke(
        cli, ["data", "pull", "moral-machine", "--from", str(acme), "--display", "plain"]
    )
    assert result.exit_code == 0, result.output
    assert "Stored" in result.stdout


@pytest.mark.parametrize("display_name", ["none", "plain", "rich"])
def test_every_display_is_a_progress(display_name):
    made = display.make_progress(display_name)
    for method in ("start", "stage", "update", "close"):
        assert callable(getattr(made, method))
    assert not hasattr(made, "country")  # one name per call: `stage`


def test_the_file_readers_take_the_one_protocol():
    for function in (wvs.build_from_wvs, human_targets.pull_moral_machine):
        hint = typing.get_type_hints(function)["progress"]
        assert display.Progress in typing.get_args(hint)


def test_eta_after_a_resume_comes_from_this_sessions_rate():
    # resumed at 60 of 100; this session did 10 in 20 s: 30 left at 0.5/s
    assert display.eta_seconds(100, 60, 70, 20.0) == 60.0
    assert display.eta_seconds(100, 0, 70, 20.0) == pytest.approx(30 / (70 / 20))  # a fresh run
    assert display.eta_seconds(100, 60, 60, 20.0) is None  # nothing done yet in this session
    assert display.eta_seconds(None, 0, 5, 1.0) is None


def test_resumed_rich_bar_shows_an_eta_from_this_session(monkeypatch):
    """A bar resumed at 6 of 10: one scenario in 20 s leaves 3, 60 s (not "?", and not
    a rate that counts the 6 done before)."""
    import types

    task = types.SimpleNamespace(total=10, completed=7, elapsed=20.0, fields={"done0": 6})
    assert display._SessionEta().render(task).plain == "ETA 0:01:00"
    assert display._SessionRate().render(task).plain == " 0.05 scen/s"
    fresh = types.SimpleNamespace(total=10, completed=6, elapsed=3.0, fields={"done0": 6})
    assert display._SessionEta().render(fresh).plain == "ETA ?"
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    bar = display.RichProgress(console=console)
    bar.start(total=10, done=6)
    assert bar._progress.tasks[0].fields["done0"] == 6
    bar.close()


def test_plain_eta_after_a_resume(monkeypatch):
    clock = iter([0.0, 0.0, 0.0, 20.0, 20.0, 20.0])
    monkeypatch.setattr(display.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    plain = display.PlainProgress(stream=stream, every=0.0)
    plain.start(total=10, done=6)
    plain.stage("USA", 4, 0)
    plain.update(1)
    assert stream.getvalue().splitlines() == [
        "USA 0/4 | all 6/10 | 0.00 scen/s | ETA ?",
        "USA 1/4 | all 7/10 | 0.05 scen/s | ETA 60s",
    ]


def test_waiting_shows_the_count_only_while_a_wait_runs_long(capsys):
    import time

    waiting = display.Waiting("plain", "asking", total=4, after_s=0.05)
    with waiting.shown():
        waiting.advance(1)
    assert capsys.readouterr().err == ""  # a short wait shows nothing
    with waiting.shown():
        time.sleep(0.3)
    waiting.advance(2)
    line = capsys.readouterr().err.strip()
    assert line.startswith("asking: 1/4 answers, ETA ") and line.endswith(" ...")
    assert waiting.done == 3
    unknown = display.Waiting("plain", "asking", after_s=0.0)
    with unknown.shown():
        time.sleep(0.1)
    assert capsys.readouterr().err.strip() == "asking: 0/? answers ..."
