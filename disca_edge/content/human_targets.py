"""Human Moral Machine targets: pull, validate and store Awad et al.'s country AMCEs.

The file is `country_specific_ACME.csv` as distributed by the MultiTP authors
(causalNLP/moralmachine, MULTITP.md §8). It is third-party data: it is downloaded (or
copied with `--from FILE`) into `paths.data_dir()`, never shipped with the package.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import io
import json
import logging
import re
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from .. import paths
from ..errors import DiscaError, UnknownNameError
from ..maths.categories import DIMENSIONS
from ..progress import Progress

__all__ = [
    "MORAL_MACHINE",
    "MORAL_MACHINE_URL",
    "MORAL_MACHINE_SHA256",
    "ACME_LABELS",
    "LABEL_TO_DIMENSION",
    "DATASETS",
    "dataset_path",
    "dataset_info",
    "list_datasets",
    "validate_acme",
    "pull_moral_machine",
    "load_human_targets",
    "human_vector",
]

logger = logging.getLogger(__name__)

MORAL_MACHINE = "moral-machine"
_FILENAME = "country_specific_ACME.csv"

#: Pinned to the repository HEAD recorded in shared/data/multitp/PROVENANCE.md, so the
#: bytes cannot drift with a branch (the file itself last changed in a64e1c0).
MORAL_MACHINE_URL = (
    "https://raw.githubusercontent.com/causalNLP/moralmachine/"
    "1987958a9453ac9e8647352af83a47622eca3523/data/country_specific_ACME.csv"
)
#: SHA-256 of that file (2,548 rows); a different file is accepted if it validates,
#: and the sidecar records whether it matched.
MORAL_MACHINE_SHA256 = "8dcf1f16cbd11a75e8053cfc0452b82132e25c6c32214700ade87be9e74a9004"

#: The 13 labels of the long file (MULTITP.md §8).
ACME_LABELS: tuple[str, ...] = (
    "Intervention",
    "Relation to AV",
    "Law",
    "Gender",
    "Fitness",
    "Social Status",
    "Age",
    "No. Characters",
    "Species",
    "No. Characters_1",
    "No. Characters_2",
    "No. Characters_3",
    "No. Characters_4",
)

#: Label -> MultiTP dimension; the `No. Characters_k` rows are not used.
LABEL_TO_DIMENSION: dict[str, str] = {
    "Species": "Species_Humans",
    "Gender": "Gender_Female",
    "Fitness": "Fitness_Fit",
    "Social Status": "SocialValue_High",
    "Age": "Age_Young",
    "No. Characters": "Utilitarianism_More",
}

#: Datasets `disca data` knows: name -> (file name, description).
DATASETS: dict[str, tuple[str, str]] = {
    MORAL_MACHINE: (_FILENAME, "Moral Machine country AMCEs (Awad et al. 2018), 196 countries"),
}

_COLUMNS = ("Estimates", "se", "Label", "Country")
_ISO3 = re.compile(r"[A-Z]{3}")
_TIMEOUT_S = 30.0
_CHUNK = 1 << 16


def dataset_path(name: str = MORAL_MACHINE) -> Path:
    """Where a dataset's file is (or would be) stored under `paths.data_dir()`."""
    if name not in DATASETS:
        raise UnknownNameError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})")
    return paths.data_dir() / name / DATASETS[name][0]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def dataset_info(name: str = MORAL_MACHINE) -> dict:
    """Status of one dataset: name, description, path, pulled, plus the sidecar fields.

    Returns:
        dict with keys name, description, path, pulled and, once pulled, sha256, source,
        rows, countries, pulled_at, matches_pinned_sha256.
    """
    path = dataset_path(name)
    info: dict = {
        "name": name,
        "description": DATASETS[name][1],
        "path": str(path),
        "pulled": path.is_file(),
    }
    if info["pulled"] and _sidecar(path).is_file():
        info.update(json.loads(_sidecar(path).read_text(encoding="utf-8")))
    return info


def list_datasets() -> list[dict]:
    """`dataset_info` for every known dataset."""
    return [dataset_info(name) for name in DATASETS]


def _fail(source: str, problem: str) -> DiscaError:
    return DiscaError(f"{source}: {problem}")


def _first(mask) -> int:
    """Position of the first True in a boolean Series or array."""
    return int(np.flatnonzero(np.asarray(mask))[0])


def validate_acme(data: bytes, source: str) -> pd.DataFrame:
    """Parse and check a `country_specific_ACME.csv` file.

    Checks: columns Estimates, se, Label, Country; Label values exactly the 13 labels;
    numeric Estimates in [-1, 1] and numeric se; ISO3 country codes; no duplicate
    (Country, Label); every country has the six labels MultiTP uses.

    Args:
        data: the file's bytes.
        source: name for messages (a path or URL).

    Returns:
        pd.DataFrame with the four columns (Estimates and se as float).

    Raises:
        DiscaError: one line naming `source` and the first problem found.
    """
    frame = _read_acme_csv(data, source)
    _check_labels(frame, source)
    _check_numbers(frame, source)
    _check_rows(frame, source)
    return frame


def _read_acme_csv(data: bytes, source: str) -> pd.DataFrame:
    """The file as text columns; refuses an unreadable file, missing columns, no rows."""
    import pandas as pd  # heavy: only reading the targets needs it

    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(source, f"not a readable CSV ({first_line})") from None
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise _fail(
            source,
            f"missing column(s) {', '.join(missing)} (expected {', '.join(_COLUMNS)}; "
            f"found {', '.join(map(str, frame.columns))})",
        )
    if frame.empty:
        raise _fail(source, "no data rows")
    return frame


def _check_labels(frame: pd.DataFrame, source: str) -> None:
    """Label holds exactly the 13 labels of the file format."""
    labels = set(frame["Label"])
    unknown = sorted(labels - set(ACME_LABELS))
    if unknown:
        raise _fail(source, f"unexpected Label value(s) {', '.join(map(repr, unknown[:5]))}")
    absent = [label for label in ACME_LABELS if label not in labels]
    if absent:
        raise _fail(source, f"missing Label(s) {', '.join(map(repr, absent))}")


def _check_numbers(frame: pd.DataFrame, source: str) -> None:
    """Estimates and se are finite numbers (converted in place), Estimates in [-1, 1]."""
    import pandas as pd  # heavy: only reading the targets needs it

    for column in ("Estimates", "se"):
        numeric = pd.to_numeric(frame[column], errors="coerce")
        bad = ~np.isfinite(numeric.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = _first(bad)
            raise _fail(
                source,
                f"non-numeric {column} {frame[column].iloc[row]!r} on line {row + 2}",
            )
        frame[column] = numeric.astype(float)
    outside = (frame["Estimates"] < -1.0) | (frame["Estimates"] > 1.0)
    if outside.any():
        row = _first(outside)
        raise _fail(
            source,
            f"Estimates {frame['Estimates'].iloc[row]} on line {row + 2} is outside [-1, 1]",
        )


def _check_rows(frame: pd.DataFrame, source: str) -> None:
    """ISO3 countries, one row per (Country, Label), the six used labels per country."""
    countries = frame["Country"]
    not_iso3 = ~countries.map(lambda code: bool(_ISO3.fullmatch(code)))
    if not_iso3.any():
        row = _first(not_iso3)
        raise _fail(
            source, f"Country {countries.iloc[row]!r} on line {row + 2} is not an ISO3 code"
        )
    duplicated = frame.duplicated(subset=["Country", "Label"])
    if duplicated.any():
        row = _first(duplicated)
        raise _fail(
            source,
            f"duplicate row for {frame['Country'].iloc[row]} / {frame['Label'].iloc[row]!r} "
            f"on line {row + 2}",
        )
    used = frame[frame["Label"].isin(LABEL_TO_DIMENSION)]
    per_country = used.groupby("Country")["Label"].nunique()
    incomplete = sorted(set(frame["Country"]) - set(per_country[per_country == 6].index))
    if incomplete:
        have = set(used.loc[used["Country"] == incomplete[0], "Label"])
        lacking = [label for label in LABEL_TO_DIMENSION if label not in have]
        raise _fail(source, f"country {incomplete[0]} lacks Label(s) {', '.join(lacking)}")


def _download(url: str, progress: Progress | None) -> bytes:
    hint = f"download it yourself and run `disca data pull {MORAL_MACHINE} --from FILE`"
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            chunks = []
            while chunk := response.read(_CHUNK):
                chunks.append(chunk)
                if progress is not None:
                    progress.update(len(chunk))
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise DiscaError(
            f"could not download {url}: HTTP {exc.code} {exc.reason}; {hint}"
        ) from None
    except urllib.error.URLError as exc:
        raise DiscaError(f"could not download {url}: {exc.reason}; {hint}") from None
    except (OSError, ValueError) as exc:
        raise DiscaError(f"could not download {url}: {exc}; {hint}") from None


def pull_moral_machine(from_file: Path | None = None, progress: Progress | None = None) -> Path:
    """Fetch, validate and store `country_specific_ACME.csv`.

    Args:
        from_file: a local copy to use instead of downloading `MORAL_MACHINE_URL`.
        progress: a started bytes display, fed `update(n_bytes)` while downloading.

    Returns:
        Path of the stored file; beside it, `<file>.json` records sha256, source, rows,
        countries, pulled_at and whether the hash matches `MORAL_MACHINE_SHA256`.

    Raises:
        DiscaError: the download failed, the file is missing, or it does not validate.
        PlaceError: the data folder cannot be written (checked before downloading).
    """
    paths.check_writable_dir(dataset_path(MORAL_MACHINE).parent)
    if from_file is None:
        source = MORAL_MACHINE_URL
        data = _download(source, progress)
    else:
        from_path = Path(from_file).expanduser()
        if not from_path.is_file():
            raise DiscaError(f"{from_path}: file not found")
        source = str(from_path.resolve())
        data = from_path.read_bytes()
    frame = validate_acme(data, source)
    digest = hashlib.sha256(data).hexdigest()
    target = dataset_path(MORAL_MACHINE)
    paths.atomic_write_bytes(target, data)
    meta = {
        "sha256": digest,
        "source": source,
        "rows": len(frame),
        "countries": int(frame["Country"].nunique()),
        "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "matches_pinned_sha256": digest == MORAL_MACHINE_SHA256,
    }
    paths.atomic_write_text(_sidecar(target), json.dumps(meta, indent=2) + "\n")
    if not meta["matches_pinned_sha256"]:
        logger.warning("%s differs from the pinned MultiTP file (sha256 %s)", source, digest)
    return target


def load_human_targets(path: Path | None = None) -> pd.DataFrame:
    """Human preferences p_h = (1 + AMCE)/2 for every country in the file.

    Args:
        path: an ACME file; default the pulled one.

    Returns:
        pd.DataFrame[countries, 6] indexed by ISO3 (sorted), columns `categories.DIMENSIONS`
        in that order, values in [0, 1]. Utilitarianism uses the `No. Characters` row.

    Raises:
        DiscaError: the file was never pulled, or it does not validate.
    """
    target = Path(path) if path is not None else dataset_path(MORAL_MACHINE)
    if not target.is_file():
        if path is None:
            raise DiscaError(
                "Moral Machine targets not found; run `disca data pull moral-machine` "
                "(or with --from FILE)"
            )
        raise DiscaError(f"{target}: file not found")
    stat = target.stat()
    return _load_targets(str(target.resolve()), stat.st_mtime_ns, stat.st_size).copy()


@functools.lru_cache(maxsize=4)
def _load_targets(path: str, _mtime_ns: int, _size: int) -> pd.DataFrame:
    frame = validate_acme(Path(path).read_bytes(), path)
    used = frame[frame["Label"].isin(LABEL_TO_DIMENSION)]
    wide = used.pivot(index="Country", columns="Label", values="Estimates")
    wide = wide.rename(columns=LABEL_TO_DIMENSION)[list(DIMENSIONS)]
    targets = ((1.0 + wide) / 2.0).sort_index()  # metrics.amce_to_p, keeping the labels
    targets.index.name = "ISO3"
    targets.columns.name = None
    return targets


def human_vector(iso3: str, path: Path | None = None) -> np.ndarray:
    """One country's human preference vector.

    Args:
        iso3: ISO3 code, any case.
        path: an ACME file; default the pulled one.

    Returns:
        ndarray[6] in `categories.DIMENSIONS` order, [0, 1] scale.

    Raises:
        UnknownNameError: the country is not in the file (lists close codes).
    """
    targets = load_human_targets(path)
    code = str(iso3).strip().upper()
    if code not in targets.index:
        close = difflib.get_close_matches(code, list(targets.index), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownNameError(f"country {iso3!r} not in the Moral Machine targets{hint}")
    return targets.loc[code].to_numpy(dtype=float)
