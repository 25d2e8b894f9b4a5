"""matplotlib, drawn for reports: one `Plot` per figure, written as SVG, PNG or PDF.

matplotlib is an extra (``pip install 'disca-edge[plots]'``) and is imported only when a
figure is drawn (`figure`), so ``disca --help`` and the text reports never load it; a
missing matplotlib is one `DiscaError` naming the extra.

A `Plot` keeps a record of its data marks: `Plot.mark` gives an artist an SVG id and
remembers its series, value and hover text; `Plot.svg` writes the figure as an inline
SVG element whose root carries ``data-figure=NAME`` and in which every data mark is a
``<g class="mark" data-series=… data-value=…>`` with a ``<title>``; missing values
(drawn hatched) are ``class="missing"`` and intervals ``class="errorbar"``. Tests and
scripts count them. Text is drawn as paths (``svg.fonttype = path``), so a figure looks
the same in every browser and nothing overprints that did not overprint here.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import DiscaError

__all__ = ["EXPORT_FORMATS", "PLOTS_EXTRA", "Plot", "figure", "nice_ceiling"]

#: File formats a figure is written in.
EXPORT_FORMATS = ("svg", "png", "pdf")

#: The install line the figures need.
PLOTS_EXTRA = "pip install 'disca-edge[plots]'"

_STYLE = {
    "svg.fonttype": "path",
    "svg.hashsalt": "disca-edge",  # clip-path ids: the same figure gives the same bytes
    "font.size": 8.5,
    "font.family": "DejaVu Sans",
    "axes.axisbelow": True,  # gridlines behind bars and dots
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "grid.color": "#e2e2e2",
    "grid.linewidth": 0.7,
    "legend.frameon": False,
    "hatch.color": "#b5b5b5",
    "hatch.linewidth": 0.6,
}
_METADATA = {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": {"Software": None}}


def _matplotlib() -> Any:
    """The matplotlib module, or one line on how to install it."""
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401 - the Figure class `figure` makes
    except ImportError:
        raise DiscaError(f"figures need matplotlib: {PLOTS_EXTRA}") from None
    return matplotlib


@contextmanager
def _style() -> Iterator[Any]:
    matplotlib = _matplotlib()
    with matplotlib.rc_context(_STYLE):
        yield matplotlib


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= `value` (> 0)."""
    if value <= 0:
        return 1.0
    import math

    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10 * power  # pragma: no cover - the loop ends at 10


@dataclass
class Plot:
    """A matplotlib figure and the record of its marks.

    Attributes:
        name: the figure's name (``data-figure``).
        title: what it shows, one line (the SVG's accessible name).
        fig: the `matplotlib.figure.Figure`.
        prefix: prefix of the SVG ids of its marks, unique within a page.
        marks: SVG id -> (class, series, value, hover text).
    """

    name: str
    title: str
    fig: Any
    prefix: str
    marks: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)

    def mark(
        self, artist: Any, series: str, value: float | None, tip: str, kind: str = "mark"
    ) -> Any:
        """Tag `artist` as a data mark (kind ``mark``, ``missing`` or ``errorbar``)."""
        gid = f"{self.prefix}-{len(self.marks)}"
        artist.set_gid(gid)
        shown = "" if value is None else repr(float(value))
        self.marks[gid] = (kind, series, shown, tip)
        return artist

    def svg(self) -> str:
        """The figure as an ``<svg>`` element for an HTML page (no XML prolog, no metadata).

        Raises:
            RuntimeError: a tagged mark is not in the SVG matplotlib wrote.
        """
        text = self._save("svg").decode("utf-8")
        text = text[text.index("<svg") :]
        text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
        esc = html.escape
        root = f'<svg data-figure="{esc(self.name)}" role="img" aria-label="{esc(self.title)}" '
        text = text.replace("<svg ", root, 1)
        for gid, (kind, series, value, tip) in self.marks.items():
            opening = f'<g id="{gid}">'
            if opening not in text:
                raise RuntimeError(f"figure {self.name}: mark {gid} was not drawn")
            attrs = f'class="{kind}" data-series="{esc(series)}" data-value="{value}"'
            text = text.replace(opening, f'<g id="{gid}" {attrs}><title>{esc(tip)}</title>', 1)
        return text

    def file_bytes(self, fmt: str) -> bytes:
        """The figure as a file: ``svg`` (a standalone document), ``png`` (150 dpi) or ``pdf``."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"fmt must be one of {EXPORT_FORMATS}, got {fmt!r}")
        return self._save(fmt)

    def _save(self, fmt: str) -> bytes:
        buffer = io.BytesIO()
        with _style():
            self.fig.savefig(buffer, format=fmt, dpi=150, metadata=_METADATA[fmt])
        return buffer.getvalue()


@contextmanager
def figure(
    name: str, title: str, size: tuple[float, float], prefix: str | None = None, **kw: Any
) -> Iterator[Plot]:
    """A new `Plot` (constrained layout), drawn in the report style inside the block.

    Args:
        name: the figure's name.
        title: its one-line description.
        size: (width, height) in inches.
        prefix: prefix of its marks' SVG ids (default: `name`).
        **kw: passed to `matplotlib.figure.Figure`.

    Raises:
        DiscaError: matplotlib is not installed.
    """
    with _style() as matplotlib:
        fig = matplotlib.figure.Figure(figsize=size, layout="constrained", **kw)
        yield Plot(name, title, fig, prefix or name)
