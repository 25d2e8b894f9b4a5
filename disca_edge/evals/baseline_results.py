"""The typed baseline results of a run: Table 1's rows and the DISCA sensitivity sweeps.

`BaselineResults` is the ``baselines`` section of ``results.json`` (`results.Results`),
present only when the run's config names baselines (`baseline_scores.score_baselines`
builds it). Every row is scored against the run's headline DISCA method (``reference``)
*on the same scenarios and the same bootstrap resamples*: a baseline scored on all of a
country's scenarios shares DISCA's own resamples; one scored on the released 75% test
split (the oracles, DiffPO) is compared with DISCA on those rows. A difference is
MIS(row) − MIS(DISCA): above 0, DISCA is closer to the humans.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BaselineCountry", "BaselineRow", "BaselineResults"]


def _known(cls: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class BaselineCountry:
    """One row in one country.

    Attributes:
        mis: MIS over the scored scenarios (None: not scored, see the notes).
        n: scenarios scored.
        mis_interval: [low, high] of MIS (None without intervals).
        reference_mis: DISCA's MIS on the same scenarios.
        difference: mis − reference_mis.
        difference_interval: its [low, high], paired resamples.
        fit: what was fitted or estimated: an oracle's ``value``, ``loss``, ``at_edge``
            and ``n_cal``; the static bias's ``b_a``, ``b_b`` and ``n_sentences``;
            DiffPO's ``alpha``.
    """

    mis: float | None
    n: int = 0
    mis_interval: list[float] | None = None
    reference_mis: float | None = None
    difference: float | None = None
    difference_interval: list[float] | None = None
    fit: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BaselineRow:
    """One baseline, read-out or sweep point over the run's countries.

    Attributes:
        label: the variant label (``oracle_temp:released``), a method name
            (``vanilla_raw``, the DISCA method) or a sweep point (``persona_count=5``).
        title: its name in Table 1.
        human_data: what human data it uses.
        note: how it is built.
        mis: macro MIS over the countries with one.
        mis_interval: its [low, high].
        reference_mis: DISCA's macro MIS over the same countries and scenarios.
        difference: macro mean of the per-country differences (row − DISCA).
        difference_interval: its [low, high].
        disca_wins: countries where DISCA's MIS is below the row's (the raw count).
        disca_wins_significant: countries whose difference interval lies above 0.
        row_wins_significant: countries whose difference interval lies below 0.
        n: countries with both MIS values.
        countries: ISO3 -> the country's values.
        point: the sweep value (None outside sweeps).
    """

    label: str
    title: str
    human_data: str
    note: str
    mis: float | None
    mis_interval: list[float] | None = None
    reference_mis: float | None = None
    difference: float | None = None
    difference_interval: list[float] | None = None
    disca_wins: int = 0
    disca_wins_significant: int | None = None
    row_wins_significant: int | None = None
    n: int = 0
    countries: dict[str, BaselineCountry] = field(default_factory=dict)
    point: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineRow:
        """Read a row's mapping."""
        countries = {
            iso: BaselineCountry(**_known(BaselineCountry, c))
            for iso, c in (data.get("countries") or {}).items()
        }
        return cls(**{**_known(cls, data), "countries": countries})


@dataclass(frozen=True)
class BaselineResults:
    """The ``baselines`` section of ``results.json``.

    Attributes:
        reference: the DISCA method every row is compared with (the run's headline).
        labels: the baseline labels the run's config names.
        rows: Table 1, in order: the vanilla read-outs, the baselines, DISCA.
        sweeps: sweep name (``persona_count``, ``tcat_scale``, ``global_tcat``) -> its
            points, in order.
        notes: what could not be scored, and why.
    """

    reference: str
    labels: list[str]
    rows: dict[str, BaselineRow]
    sweeps: dict[str, list[BaselineRow]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready mapping."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineResults:
        """Read the mapping back (KeyError or TypeError when malformed)."""
        return cls(
            reference=str(data["reference"]),
            labels=list(data.get("labels") or []),
            rows={k: BaselineRow.from_dict(v) for k, v in data["rows"].items()},
            sweeps={
                k: [BaselineRow.from_dict(p) for p in points]
                for k, points in (data.get("sweeps") or {}).items()
            },
            notes=list(data.get("notes") or []),
        )
