"""Progress displays: one protocol, with rich, plain and no-op implementations (``--display``).

Long-running work reports through `Progress` (``start``, ``stage``, ``update``,
``close``) and never draws itself; a command picks the display with ``--display``
(`make_progress`): ``auto`` (rich on a terminal, else none), ``rich``, ``plain`` (a
line every few seconds, for logs) or ``none``. Two units: ``scenarios`` (eval runs,
per country) and ``bytes`` (downloads, file reads). `download_bar` adapts a display to
the ``progress(done, total)`` callbacks of the model pulls. Everything goes to stderr.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichBar
from rich.text import Text

__all__ = [
    "DISPLAYS",
    "UNITS",
    "Progress",
    "NullProgress",
    "RichProgress",
    "PlainProgress",
    "make_progress",
    "download_bar",
    "working",
]

#: Values of ``--display``.
DISPLAYS = ("auto", "rich", "plain", "none")

#: What a display counts.
UNITS = ("scenarios", "bytes")


class Progress(Protocol):
    """What long-running work reports to a display (every display, eval runs, file reads).

    The caller that makes a display starts and closes it; code it hands the display to
    reports with ``stage`` and ``update`` only (a file reader just calls ``update``).
    """

    def start(self, total: int | None, done: int = 0) -> None:
        """All work of this call: ``total`` units (None: unknown), ``done`` already done."""

    def stage(self, label: str, total: int, done: int) -> None:
        """A stage begins (a country of an eval run): its size and how much was done."""

    def update(self, n: int) -> None:
        """``n`` more units finished."""

    def close(self) -> None:
        """The work ended (normally or not)."""


class NullProgress:
    """A display that shows nothing (``--display none``, tests, pipes)."""

    def start(self, total: int | None, done: int = 0) -> None:
        """Show nothing."""

    def stage(self, label: str, total: int, done: int) -> None:
        """Show nothing."""

    def update(self, n: int) -> None:
        """Show nothing."""

    def close(self) -> None:
        """Show nothing."""


def _check_unit(unit: str) -> str:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    return unit


class _ScenarioRate(ProgressColumn):
    """Scenarios per second, as the rich bar's rate column."""

    def render(self, task: Any) -> Text:
        """The rate, or an ellipsis before there is one."""
        speed = task.speed
        return Text("…  scen/s" if speed is None else f"{speed:5.2f} scen/s")


class RichProgress:
    """A rich progress bar on stderr.

    Scenarios: stage (country) with its own done/total, bar, done/total, scenarios/s,
    ETA. Bytes: description, bar, size, transfer speed, ETA; removed when closed.
    """

    def __init__(self, description: str = "", unit: str = "scenarios", console: Any = None) -> None:
        self._description = description
        self._unit = _check_unit(unit)
        self._console = console
        self._progress: Any = None
        self._task: Any = None
        self._stage = ("", 0, 0)

    def _columns(self) -> list[Any]:
        if self._unit == "bytes":
            return [
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            ]
        return [
            TextColumn("[bold]{task.fields[stage]}[/] {task.fields[in_stage]}"),
            BarColumn(),
            MofNCompleteColumn(),
            _ScenarioRate(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]

    def start(self, total: int | None, done: int = 0) -> None:
        """Draw the bar."""
        console = self._console or Console(stderr=True)
        self._progress = RichBar(*self._columns(), console=console, transient=self._unit == "bytes")
        self._progress.start()
        self._task = self._progress.add_task(
            self._description, total=total, completed=done, stage="", in_stage=""
        )

    def stage(self, label: str, total: int, done: int) -> None:
        """Name the stage now running and its own done/total."""
        self._stage = (label, total, done)
        if self._progress is not None:
            self._progress.update(self._task, stage=label, in_stage=f"{done}/{total}")

    def update(self, n: int) -> None:
        """Advance by ``n`` units."""
        label, total, done = self._stage
        done += n
        self._stage = (label, total, done)
        if self._progress is not None:
            self._progress.update(self._task, advance=n, in_stage=f"{done}/{total}")

    def close(self) -> None:
        """Stop the bar (a scenarios bar stays on screen, a bytes bar goes)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class PlainProgress:
    """One line per stage and at most one line every ``every`` seconds, on stderr."""

    def __init__(
        self,
        description: str = "",
        unit: str = "scenarios",
        stream: Any = None,
        every: float = 10.0,
    ) -> None:
        self._description = description
        self._unit = _check_unit(unit)
        self._stream = stream or sys.stderr
        self._every = every
        self._total: int | None = None
        self._done = self._new = 0
        self._t0 = self._last = 0.0
        self._stage = ("", 0, 0)

    def _line(self) -> None:
        elapsed = time.monotonic() - self._t0
        rate = self._new / elapsed if elapsed > 0 and self._new else 0.0
        left = None if self._total is None else self._total - self._done
        eta = f"{left / rate:.0f}s" if rate > 0 and left is not None else "?"
        if self._unit == "bytes":
            total = "?" if self._total is None else f"{self._total / 1e6:.1f}"
            text = (
                f"{self._description} {self._done / 1e6:.1f}/{total} MB | "
                f"{rate / 1e6:.2f} MB/s | ETA {eta}"
            )
        else:
            label, stage_total, stage_done = self._stage
            text = (
                f"{label} {stage_done}/{stage_total} | all {self._done}/{self._total} | "
                f"{rate:.2f} scen/s | ETA {eta}"
            )
        print(text.strip(), file=self._stream, flush=True)

    def start(self, total: int | None, done: int = 0) -> None:
        """Remember the totals and start the clock."""
        self._total, self._done = total, done
        self._t0 = self._last = time.monotonic()

    def stage(self, label: str, total: int, done: int) -> None:
        """Print one line as a stage (country) begins."""
        self._stage = (label, total, done)
        self._line()

    def update(self, n: int) -> None:
        """Count ``n`` units; print a line when ``every`` seconds have passed."""
        label, total, done = self._stage
        self._stage = (label, total, done + n)
        self._done += n
        self._new += n
        if time.monotonic() - self._last >= self._every:
            self._last = time.monotonic()
            self._line()

    def close(self) -> None:
        """Print the final line."""
        if self._total or self._new:
            self._line()


def make_progress(
    display: str = "auto", *, unit: str = "scenarios", description: str = ""
) -> Progress:
    """The display ``--display`` names.

    Args:
        display: ``auto`` (rich on a terminal, else none), ``rich``, ``plain`` or ``none``.
        unit: ``scenarios`` or ``bytes``.
        description: what is being done (shown by the bytes displays).

    Returns:
        A `Progress`.

    Raises:
        ValueError: an unknown display or unit.
    """
    _check_unit(unit)
    if display == "auto":
        display = "rich" if sys.stderr.isatty() else "none"
    if display == "rich":
        return RichProgress(description, unit)
    if display == "plain":
        return PlainProgress(description, unit)
    if display == "none":
        return NullProgress()
    raise ValueError(f"display must be one of {', '.join(DISPLAYS)}, got {display!r}")


@contextlib.contextmanager
def download_bar(
    display: str = "auto", description: str = "downloading"
) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a bytes display (the one download bar).

    The display starts on the first callback only, so a file already in the cache shows
    nothing, and is closed when the block ends.

    Args:
        display: as for `make_progress`.
        description: what is being downloaded.

    Yields:
        The callback: bytes done so far and the total.
    """
    progress = make_progress(display, unit="bytes", description=description)
    state = {"started": False, "done": 0}

    def update(done: int, total: int) -> None:
        if not state["started"]:
            progress.start(total, 0)
            state["started"] = True
        progress.update(done - state["done"])
        state["done"] = done

    try:
        yield update
    finally:
        if state["started"]:
            progress.close()


@contextlib.contextmanager
def working(display: str = "auto", description: str = "working", after_s: float = 2.0) -> Iterator:
    """Show that a step of unknown length is running, once it has taken `after_s` seconds.

    For a step that reports nothing (one engine call on a long dilemma): ``rich`` draws a
    spinner with the elapsed time (removed at the end), ``plain`` writes one line, ``none``
    nothing. A step that ends sooner shows nothing.

    Args:
        display: as for `make_progress`.
        description: what is running.
        after_s: seconds before anything is shown.

    Yields:
        Nothing; the display ends with the block.
    """
    if display == "auto":
        display = "rich" if sys.stderr.isatty() else "none"
    if display not in DISPLAYS:
        raise ValueError(f"display must be one of {', '.join(DISPLAYS)}, got {display!r}")
    if display == "none":
        yield
        return
    if display == "plain":
        shown: Any = None

        def show() -> None:
            print(f"{description} ...", file=sys.stderr, flush=True)

    else:
        shown = RichBar(
            SpinnerColumn(), TextColumn(description), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
        )  # fmt: skip
        shown.add_task(description, total=None)
        show = shown.start
    timer = threading.Timer(after_s, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        if shown is not None and shown.live.is_started:
            shown.stop()
