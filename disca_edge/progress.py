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
    "eta_seconds",
    "Waiting",
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


def eta_seconds(
    total: float | None, done_at_start: float, done: float, elapsed: float
) -> float | None:
    """Seconds left at this session's rate: what it did since it started, over its time.

    A resumed run starts with ``done_at_start`` units already done; counting them as done
    in this session's time would make the rate, and so the ETA, wrong.

    Returns:
        None until the session has done something (or when the total is unknown).
    """
    new = done - done_at_start
    if total is None or new <= 0 or elapsed <= 0:
        return None
    return max(0.0, (total - done) * elapsed / new)


def _clock(seconds: float | None) -> str:
    """``h:mm:ss``, or ``?`` when not known."""
    if seconds is None:
        return "?"
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class _SessionRate(ProgressColumn):
    """Scenarios per second in this session (the rich bar's rate column)."""

    def render(self, task: Any) -> Text:
        """The rate, or an ellipsis before there is one."""
        new, elapsed = task.completed - task.fields.get("done0", 0), task.elapsed
        if not new or not elapsed:
            return Text("…  scen/s")
        return Text(f"{new / elapsed:5.2f} scen/s")


class _SessionEta(ProgressColumn):
    """Time left at this session's rate (`eta_seconds`), also after a resume."""

    def render(self, task: Any) -> Text:
        """``ETA h:mm:ss``, or ``ETA ?`` before the first unit of this session."""
        done0, elapsed = task.fields.get("done0", 0), task.elapsed or 0.0
        return Text(f"ETA {_clock(eta_seconds(task.total, done0, task.completed, elapsed))}")


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
            _SessionRate(),
            _SessionEta(),
        ]

    def start(self, total: int | None, done: int = 0) -> None:
        """Draw the bar."""
        console = self._console or Console(stderr=True)
        self._progress = RichBar(*self._columns(), console=console, transient=self._unit == "bytes")
        self._progress.start()
        self._task = self._progress.add_task(
            self._description, total=total, completed=done, stage="", in_stage="", done0=done
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
        left = eta_seconds(self._total, self._done - self._new, self._done, elapsed)
        eta = "?" if left is None else f"{left:.0f}s"
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


class _WaitEta(ProgressColumn):
    """Time left for a `Waiting` count, from its rate since it was made."""

    def render(self, task: Any) -> Text:
        """``ETA h:mm:ss``, ``ETA ?`` before the first part is done; nothing without a total."""
        if task.total is None:
            return Text("")
        elapsed = time.monotonic() - task.fields["t0"]
        return Text(f"ETA {_clock(eta_seconds(task.total, 0, task.completed, elapsed))}")


class Waiting:
    """A count of finished parts, shown while the caller waits for the next ones.

    For a step that reports little (an ask: each engine call answers some dilemmas):
    `advance` counts what is done, and `shown` wraps each wait; a wait that takes over
    `after_s` seconds shows the count, ``done/total`` with the time left (a spinner with
    the elapsed time when the total is not known), and removes it when it ends, so
    results printed between waits are not drawn over. ``rich`` draws it, ``plain`` writes
    one line, ``none`` nothing.

    Args:
        display: as for `make_progress`.
        description: what is running.
        total: the parts to do (None: not known).
        unit: what a part is called.
        after_s: seconds a wait takes before anything is shown.
    """

    def __init__(self, display: str = "auto", description: str = "working",
                 total: int | None = None, unit: str = "answers",
                 after_s: float = 2.0) -> None:  # fmt: skip
        if display == "auto":
            display = "rich" if sys.stderr.isatty() else "none"
        if display not in DISPLAYS:
            raise ValueError(f"display must be one of {', '.join(DISPLAYS)}, got {display!r}")
        self.display, self.description, self.unit = display, description, unit
        self.total, self.done, self.after_s = total, 0, after_s
        self._t0 = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def advance(self, n: int = 1) -> None:
        """``n`` more parts are done."""
        self.done += n
        bar = self._bar
        if bar is not None:
            bar.update(self._task, completed=self.done)

    def _line(self) -> str:
        total = "?" if self.total is None else str(self.total)
        left = eta_seconds(self.total, 0, self.done, time.monotonic() - self._t0)
        eta = "" if self.total is None else f", ETA {_clock(left)}"
        return f"{self.description}: {self.done}/{total} {self.unit}{eta} ..."

    def _show(self) -> None:
        if self.display == "plain":
            print(self._line(), file=sys.stderr, flush=True)
            return
        bar = RichBar(
            SpinnerColumn(), TextColumn(self.description), BarColumn(),
            TextColumn(f"{{task.completed}}/{{task.total}} {self.unit}"), _WaitEta(),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        ) if self.total is not None else RichBar(
            SpinnerColumn(), TextColumn(self.description),
            TextColumn(f"{{task.completed}} {self.unit}"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
        )  # fmt: skip
        self._task = bar.add_task(self.description, total=self.total, completed=self.done,
                                  t0=self._t0)  # fmt: skip
        bar.start()
        self._bar = bar  # last: `advance` (another thread) updates it from now on

    @contextlib.contextmanager
    def shown(self) -> Iterator[None]:
        """Show the count while the block runs, once it has taken `after_s` seconds."""
        if self.display == "none":
            yield
            return
        timer = threading.Timer(self.after_s, self._show)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            timer.join()
            if self._bar is not None:
                self._bar.stop()
                self._bar = None
