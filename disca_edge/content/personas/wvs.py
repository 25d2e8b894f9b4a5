"""Build persona panels from WVS-7 microdata the user supplies (PERSONAS.md §3-§4).

WVS terms forbid shipping the file, so `disca personas build` reads the user's copy once,
in chunks, and writes one panel file per country with ``provenance = "wvs7-microdata"``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ... import __version__
from ...errors import DiscaError
from ...paths import atomic_write_text, check_writable_dir, shipped_dir
from ...progress import Progress
from .files import PersonaFileError, panel_to_toml
from .panel import Panel, load_file, resolve_country
from .render import COHORTS, WVS_DIMENSION_SPECS, WVS_DIMENSIONS, normalised_score, score_to_level

__all__ = ["WVS_ITEM_RANGES", "WvsFileError", "build_from_wvs"]

log = logging.getLogger(__name__)


class WvsFileError(DiscaError):
    """The WVS-7 input file cannot be used (missing columns, no respondents, unreadable)."""


# --- builder: WVS-7 microdata -> panels (PERSONAS.md §3-§4) ------------------------------

#: Valid codes of each item in the inverted WVS-7 CSV (WVS-7 codebook; LEVELS.md §3).
#: Anything outside counts as missing, like the negative survey codes.
WVS_ITEM_RANGES: dict[str, tuple[float, float]] = {
    "Q6P": (1, 4), "Q17P": (0, 1),
    **{f"Q{n}": (1, 10) for n in range(177, 183)},
    "Q57P": (1, 2), "Q199P": (1, 4), "Q200P": (1, 3), "Q254P": (1, 4), "Q46P": (1, 4),
    "Q29P": (1, 4), "Q30P": (1, 4), "Q31P": (1, 4), "Q33P": (1, 5),
    "Q152": (1, 4), "Q153": (1, 4),
    **{f"Q{n}P": (0, 1) for n in range(19, 24)},
}  # fmt: skip

_COUNTRY_COL = "B_COUNTRY_ALPHA"
_YEAR_COL = "A_YEAR"
_BIRTH_COL = "Q261"


class _CountingReader(io.RawIOBase):
    """A raw binary stream over a file that hashes and counts every byte read."""

    def __init__(self, handle: io.BufferedReader):
        self._handle = handle
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._handle.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.bytes_read += n
        return n or 0

    def close(self) -> None:
        self._handle.close()
        super().close()


def _column_key(name: object) -> str:
    return str(name).strip().lstrip("\ufeff").strip('"').strip().upper()


def _sniff_header(path: Path) -> tuple[str, list[str]]:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        line = handle.readline()
    if not line.strip():
        raise WvsFileError(f"{path}: empty file")
    sep = max((",", ";", "\t"), key=line.count)
    return sep, [_column_key(c) for c in line.rstrip("\r\n").split(sep)]


def _resolve_build_countries(countries: Iterable[str] | None) -> set[str] | None:
    if countries is None:
        return None
    wanted: set[str] = set()
    for query in countries:
        query = query.strip()
        if not query:
            continue
        if re.fullmatch(r"[A-Za-z]{3}", query):
            wanted.add(query.upper())
        else:
            wanted.add(resolve_country(query))
    return wanted


def _check_columns(csv_path: Path, header: list[str]) -> dict[str, list[str]]:
    """The item columns present per dimension; refuses a file without the needed columns."""
    for required in (_COUNTRY_COL, _YEAR_COL, _BIRTH_COL):
        if required not in header:
            raise WvsFileError(
                f"{csv_path}: column {required} not found; expected the WVS-7 cross-national "
                "CSV (WVS_Cross-National_Wave_7_inverted_csv_v6_0.csv)"
            )
    all_items = [item for spec in WVS_DIMENSION_SPECS for item in spec.items]
    missing = [item for item in all_items if item not in header]
    if len(missing) == len(all_items):
        raise WvsFileError(
            f"{csv_path}: none of the DISCA item columns (Q6P, Q17P, ...) found; "
            "expected the *inverted* WVS-7 CSV, whose flipped items carry a P suffix"
        )
    for item in missing:
        log.warning("%s: column %s not found; it is left out of its dimension", csv_path, item)
    return {spec.key: [i for i in spec.items if i in header] for spec in WVS_DIMENSION_SPECS}


def _add_chunk(
    chunk: Any,
    wanted: set[str] | None,
    present: Mapping[str, list[str]],
    sums: dict[tuple[str, str, str], list[float]],
    respondents: dict[tuple[str, str], int],
    out_of_range: dict[str, int],
    csv_path: Path,
) -> None:
    """Add one chunk's kept respondents and valid item values to the running sums.

    Valid: within the item's `WVS_ITEM_RANGES`; values outside it (other than the
    negative survey codes) are counted into `out_of_range`; inf is an error.
    """
    import pandas as pd  # heavy: only a build reads a CSV

    chunk.columns = [_column_key(c) for c in chunk.columns]
    country = chunk[_COUNTRY_COL].fillna("").str.strip().str.upper()
    year = pd.to_numeric(chunk[_YEAR_COL], errors="coerce")
    birth = pd.to_numeric(chunk[_BIRTH_COL], errors="coerce")
    keep = (birth >= 1900) & (birth <= 2010) & (year >= 2015)
    keep &= country.str.fullmatch(r"[A-Z]{3}")
    if wanted is not None:
        keep &= country.isin(wanted)
    if not keep.any():
        return
    age = (year - birth)[keep]
    cohort = np.where(age < 36, "young", np.where(age <= 55, "middle", "older"))
    keys = pd.MultiIndex.from_arrays([country[keep].to_numpy(), cohort], names=["iso3", "cohort"])
    for (iso3, coh), n in pd.Series(1, index=keys).groupby(level=[0, 1]).sum().items():
        respondents[(iso3, coh)] = respondents.get((iso3, coh), 0) + int(n)
    for key, items in present.items():
        if not items:
            continue
        values = chunk.loc[keep, items].apply(pd.to_numeric, errors="coerce")
        _check_finite(values, csv_path)
        lo = pd.Series({i: WVS_ITEM_RANGES[i][0] for i in items})
        hi = pd.Series({i: WVS_ITEM_RANGES[i][1] for i in items})
        valid = values.ge(lo, axis=1) & values.le(hi, axis=1)  # NaN is False
        outside = (values >= 0) & ~valid  # negatives are survey codes
        for item, n in outside.sum().items():
            out_of_range[item] += int(n)
        frame = pd.DataFrame(
            {
                "sum": values.where(valid, 0.0).sum(axis=1).to_numpy(),
                "count": valid.sum(axis=1).to_numpy(),
            },
            index=keys,
        )
        for (iso3, coh), row in frame.groupby(level=[0, 1]).sum().iterrows():
            acc = sums.setdefault((iso3, coh, key), [0.0, 0])
            acc[0] += float(row["sum"])
            acc[1] += int(row["count"])


@dataclass(frozen=True)
class _Tally:
    """What one pass over the WVS file counted.

    Attributes:
        sums: (iso3, cohort, dimension) -> [sum, count] of its valid item values.
        respondents: (iso3, cohort) -> respondents kept.
        missing: DISCA item columns the file lacks.
        sha256: the file's hash.
        out_of_range: item -> values outside `WVS_ITEM_RANGES` (only items with some).
    """

    sums: dict[tuple[str, str, str], list[float]]
    respondents: dict[tuple[str, str], int]
    missing: list[str]
    sha256: str
    out_of_range: dict[str, int]

    def mean(self, iso3: str, cohort: str, key: str) -> float | None:
        """Mean valid value of a dimension in a cohort (``all``: the three pooled)."""
        cohorts = COHORTS[:3] if cohort == "all" else (cohort,)
        total = sum(self.sums.get((iso3, c, key), (0.0, 0))[0] for c in cohorts)
        count = sum(self.sums.get((iso3, c, key), (0.0, 0))[1] for c in cohorts)
        return total / count if count else None


def _accumulate(
    csv_path: Path,
    wanted: set[str] | None,
    progress: Progress | None,
    chunksize: int,
) -> _Tally:
    """One streaming pass: sums and counts of valid values per (country, cohort, dimension)."""
    import pandas as pd  # heavy: only a build reads a CSV

    sep, header = _sniff_header(csv_path)
    present = _check_columns(csv_path, header)
    all_items = [item for spec in WVS_DIMENSION_SPECS for item in spec.items]
    missing = [item for item in all_items if item not in header]
    wanted_cols = {_COUNTRY_COL, _YEAR_COL, _BIRTH_COL, *(i for i in all_items if i in header)}

    sums: dict[tuple[str, str, str], list[float]] = {}
    respondents: dict[tuple[str, str], int] = {}
    out_of_range = {item: 0 for items in present.values() for item in items}
    with open(csv_path, "rb") as handle:
        raw = _CountingReader(handle)
        stream = io.BufferedReader(raw, buffer_size=1 << 20)
        reported = 0
        try:
            reader = pd.read_csv(
                stream,
                sep=sep,
                usecols=lambda c: _column_key(c) in wanted_cols,
                dtype=str,
                chunksize=chunksize,
                encoding="utf-8",
                encoding_errors="replace",
            )
            for chunk in reader:
                _add_chunk(chunk, wanted, present, sums, respondents, out_of_range, csv_path)
                if progress is not None:
                    progress.update(raw.bytes_read - reported)
                    reported = raw.bytes_read
            while stream.read(1 << 20):  # hash any tail pandas did not need
                pass
            if progress is not None and raw.bytes_read > reported:
                progress.update(raw.bytes_read - reported)
        except (pd.errors.ParserError, UnicodeError, ValueError) as exc:
            raise WvsFileError(f"{csv_path}: cannot parse as CSV: {exc}") from None
    for item, n in out_of_range.items():
        if n:
            lo, hi = WVS_ITEM_RANGES[item]
            log.warning(
                "%s: %d value(s) of %s outside its range %g-%g counted as missing",
                csv_path, n, item, lo, hi,
            )  # fmt: skip
    counts = {item: n for item, n in out_of_range.items() if n}
    return _Tally(sums, respondents, missing, raw.sha256.hexdigest(), counts)


def _check_finite(values: Any, csv_path: Path) -> None:
    """Refuse inf/-inf (NaN is a blank or a word: missing), naming column and data row."""
    bad = np.isinf(values.to_numpy(dtype=float))
    if bad.any():
        row, col = (int(x[0]) for x in np.nonzero(bad))
        raise WvsFileError(
            f"{csv_path}: column {values.columns[col]} holds a non-finite value "
            f"({values.iat[row, col]}) in data row {int(values.index[row]) + 1}; "
            "WVS item values are small integer codes"
        )


def build_from_wvs(
    csv_path: str | Path,
    out_dir: str | Path,
    countries: Iterable[str] | None = None,
    progress: Progress | None = None,
    *,
    chunksize: int = 20_000,
) -> list[Path]:
    """Build panels from the WVS-7 cross-national CSV the user downloaded (PERSONAS.md §3-§4).

    Reads the file once in chunks (only the needed columns), keeps respondents with birth
    year Q261 in 1900-2010 and survey year A_YEAR >= 2015, splits them by age = A_YEAR - Q261
    into young (< 36), middle (36-55) and older (> 55), pools all valid item values (within
    `WVS_ITEM_RANGES`; negative survey codes and out-of-range values count as missing, the
    latter counted per column in a warning and in ``source.out_of_range_values``)
    per dimension without weights, scores the mean and cuts it into a level. Every cohort is
    measured, so `estimated` is false. Country names and language are taken from the
    shipped panel of the same ISO3 when there is one.

    Args:
        csv_path: WVS_Cross-National_Wave_7_inverted_csv_v6_0.csv or a file shaped like it.
        out_dir: folder for the ISO3.toml files (created if needed).
        countries: ISO3/ISO2/names to build; default every country in the file.
        progress: a started bytes display; gets `update(n)` with the bytes consumed.
        chunksize: rows per chunk.

    Returns:
        The written files, in ISO3 order.

    Raises:
        WvsFileError: the file lacks the needed columns, a used item value is infinite,
            or a requested country has no valid respondents.
    """
    csv_path = Path(csv_path)
    out_dir = Path(out_dir)
    if not csv_path.is_file():
        raise WvsFileError(f"{csv_path}: file not found")
    check_writable_dir(out_dir)  # before reading a 1 GB CSV
    wanted = _resolve_build_countries(countries)
    tally = _accumulate(csv_path, wanted, progress, chunksize)
    found = _found_countries(csv_path, wanted, tally)
    shipped = {iso3: _shipped_panel(iso3) for iso3 in found}
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for iso3 in found:
        path = out_dir / f"{iso3}.toml"
        atomic_write_text(path, _panel_text(csv_path, iso3, tally, shipped[iso3]))
        written.append(path)
    return written


def _found_countries(csv_path: Path, wanted: set[str] | None, tally: _Tally) -> list[str]:
    """The countries with respondents, in ISO3 order; refuses a requested one without any."""
    found = sorted({iso3 for iso3, _ in tally.respondents})
    if wanted is not None:
        absent = sorted(wanted - set(found))
        if absent:
            raise WvsFileError(
                f"{csv_path}: no valid respondents for {', '.join(absent)} "
                "(check B_COUNTRY_ALPHA codes and the Q261/A_YEAR filters)"
            )
    if not found:
        raise WvsFileError(f"{csv_path}: no valid respondents (Q261 1900-2010, A_YEAR >= 2015)")
    return found


def _shipped_panel(iso3: str) -> Panel | None:
    """The shipped panel of a country (its names and language), if there is a usable one."""
    path = shipped_dir() / "personas" / f"{iso3}.toml"
    if not path.is_file():
        return None
    try:
        return load_file(path)
    except PersonaFileError as exc:  # pragma: no cover - shipped files are tested
        log.warning("%s", exc)
        return None


def _measured_personas(iso3: str, tally: _Tally) -> list[dict[str, Any]]:
    """The four personas of a country, every dimension scored from the respondents."""
    personas = []
    for cohort in COHORTS:
        scores: dict[str, float | None] = {}
        levels: dict[str, int | None] = {}
        for key in WVS_DIMENSIONS:
            score = normalised_score(key, tally.mean(iso3, cohort, key))
            scores[key] = None if score is None else round(score, 6)
            levels[key] = score_to_level(score)
        personas.append({"cohort": cohort, "estimated": False, "levels": levels, "scores": scores})
    return personas


def _panel_text(csv_path: Path, iso3: str, tally: _Tally, meta: Panel | None) -> str:
    """The panel file of one country; names and language from its shipped panel `meta`."""
    n_by_cohort = {c: tally.respondents.get((iso3, c), 0) for c in COHORTS[:3]}
    n_by_cohort["all"] = sum(n_by_cohort.values())
    header = {
        "iso3": iso3,
        "iso2": meta.iso2 if meta else "",
        "name": meta.name if meta else iso3,
        "native_name": meta.native_name if meta else iso3,
        "country_name": meta.country_name if meta else iso3,
        "language": meta.language if meta else "und",
        "aliases": list(meta.aliases) if meta else [],
    }
    source = {
        "input_file": csv_path.name,
        "input_sha256": tally.sha256,
        "built_with": f"disca-edge {__version__} (disca personas build)",
        "method": "PERSONAS.md §3-§4: unweighted pooled item means, quartile cut",
        "missing_items": tally.missing,
        **({"out_of_range_values": tally.out_of_range} if tally.out_of_range else {}),
        "n_respondents": n_by_cohort,
    }
    comment = f"DISCA persona panel for {header['name']}, built from WVS-7 microdata."
    if meta is None:
        comment += "\nFill in iso2, name, native_name, country_name and language by hand."
    return panel_to_toml(
        {
            **header,
            "provenance": "wvs7-microdata",
            "provenance_note": (
                f"All four personas computed from {csv_path.name} by disca personas build."
            ),
            "source": source,
            "personas": _measured_personas(iso3, tally),
        },
        comment=comment
        + "\nPersona text is rendered by disca_edge.content.personas from the levels.",
    )
