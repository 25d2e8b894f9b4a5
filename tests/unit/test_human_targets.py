"""Moral Machine targets: pull (--from / download), validation, storage and loading."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from disca_edge import paths
from disca_edge.cli import cli
from disca_edge.content import human_targets as data
from disca_edge.errors import DiscaError, UnknownNameError
from disca_edge.maths.categories import DIMENSIONS

USA = {
    "Species_Humans": 0.792,
    "Gender_Female": 0.560,
    "Fitness_Fit": 0.588,
    "SocialValue_High": 0.679,
    "Age_Young": 0.745,
    "Utilitarianism_More": 0.766,
}
DISCA_20 = {
    "USA", "GBR", "DEU", "ARG", "BRA", "MEX", "COL", "VNM", "MMR", "THA",
    "MYS", "IDN", "CHN", "JPN", "BGD", "IRN", "SRB", "ROU", "KGZ", "ETH",
}  # fmt: skip


@pytest.fixture()
def pulled(acme) -> Path:
    return data.pull_moral_machine(acme)


def _synthetic(countries=("AAA", "BBB")) -> pd.DataFrame:
    """A small valid long file: Estimates = 0.05 * (label position) - 0.2 for every country."""
    rows = [
        {"Estimates": 0.05 * i - 0.2, "se": 0.01, "Label": label, "Country": code}
        for code in countries
        for i, label in enumerate(data.ACME_LABELS)
    ]
    return pd.DataFrame(rows, columns=["Estimates", "se", "Label", "Country"])


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, quoting=1)
    return path


# --- pulling the real file --------------------------------------------------------------------


def test_pull_from_file_stores_atomically_with_sidecar(acme, pulled):
    assert pulled == paths.data_dir() / "moral-machine" / "country_specific_ACME.csv"
    assert pulled.read_bytes() == acme.read_bytes()
    meta = json.loads(pulled.with_name(pulled.name + ".json").read_text())
    assert meta["sha256"] == hashlib.sha256(acme.read_bytes()).hexdigest()
    assert meta["sha256"] == data.MORAL_MACHINE_SHA256 and meta["matches_pinned_sha256"]
    assert meta["source"] == str(acme.resolve())
    assert (meta["rows"], meta["countries"]) == (2548, 196)
    assert meta["pulled_at"].endswith("+00:00")
    assert not list(pulled.parent.glob(".*.tmp"))


def test_usa_example_values(pulled):
    # MULTITP.md §8 example, p = (1 + AMCE) / 2
    vector = data.human_vector("usa")
    np.testing.assert_allclose(vector, [USA[d] for d in DIMENSIONS], atol=5e-4)
    targets = data.load_human_targets()
    assert list(targets.columns) == list(DIMENSIONS)
    assert targets.index.name == "ISO3" and len(targets) == 196
    assert ((targets >= 0) & (targets <= 1)).all().all()


def test_matches_derived_vectors_for_the_disca_20(pulled, shared_data):
    derived = pd.read_csv(shared_data / "multitp" / "human_preference_vectors_by_country.csv")
    disca = derived[derived["in_disca_20"] == 1].set_index("ISO3")
    assert set(disca.index) == DISCA_20
    targets = data.load_human_targets()
    for iso3 in sorted(DISCA_20):
        expected = disca.loc[iso3, [f"p_{d}" for d in DIMENSIONS]].to_numpy(dtype=float)
        np.testing.assert_allclose(targets.loc[iso3].to_numpy(), expected, atol=1e-9)


def test_unknown_country_suggests(pulled):
    with pytest.raises(UnknownNameError, match="did you mean .*USA"):
        data.human_vector("USB")


def test_not_pulled_message():
    with pytest.raises(DiscaError, match=r"not found; run `disca data pull moral-machine`"):
        data.load_human_targets()
    assert not data.dataset_info()["pulled"]


def test_no_network_gives_clear_message(monkeypatch):
    monkeypatch.setattr(data, "MORAL_MACHINE_URL", "http://127.0.0.1:9/country_specific_ACME.csv")
    with pytest.raises(DiscaError) as info:
        data.pull_moral_machine()
    message = str(info.value)
    assert message.startswith("could not download http://127.0.0.1:9/")
    assert "disca data pull moral-machine --from FILE" in message
    assert "\n" not in message
    assert not data.dataset_path().exists()


# --- validation -------------------------------------------------------------------------


def test_synthetic_file_loads_and_is_marked_unpinned(tmp_path):
    path = data.pull_moral_machine(_write(_synthetic(), tmp_path / "small.csv"))
    assert not data.dataset_info()["matches_pinned_sha256"]
    targets = data.load_human_targets()
    # Species is label 8 -> AMCE 0.2 -> p 0.6; No. Characters is label 7 -> 0.15 -> 0.575
    assert targets.loc["AAA", "Species_Humans"] == pytest.approx(0.6)
    assert targets.loc["BBB", "Utilitarianism_More"] == pytest.approx(0.575)
    assert data.load_human_targets(path).equals(targets)


def _corrupt(kind: str) -> pd.DataFrame:
    frame = _synthetic()
    if kind == "column":
        return frame.drop(columns=["se"])
    if kind == "label":
        frame.loc[3, "Label"] = "Gendre"
    elif kind == "numeric":
        frame["Estimates"] = frame["Estimates"].astype(object)
        frame.loc[4, "Estimates"] = "n/a"
    elif kind == "range":
        frame.loc[4, "Estimates"] = 1.5
    elif kind == "iso3":
        frame.loc[frame["Country"] == "BBB", "Country"] = "Bb1"
    elif kind == "duplicate":
        frame.loc[1, "Label"] = frame.loc[0, "Label"]
        frame = pd.concat([frame, frame.iloc[[1]].assign(Label=data.ACME_LABELS[1])])
    elif kind == "incomplete":
        frame = frame[~((frame["Country"] == "BBB") & (frame["Label"] == "Age"))]
    return frame


@pytest.mark.parametrize(
    "kind, message",
    [
        ("column", r"missing column\(s\) se"),
        ("label", r"unexpected Label value\(s\) 'Gendre'"),
        ("numeric", r"non-numeric Estimates 'n/a' on line 6"),
        ("range", r"outside \[-1, 1\]"),
        ("iso3", r"Country 'Bb1' on line \d+ is not an ISO3 code"),
        ("duplicate", r"duplicate row for AAA / 'Intervention'"),
        ("incomplete", r"country BBB lacks Label\(s\) Age"),
    ],
)
def test_malformed_files_are_rejected(tmp_path, kind, message):
    path = _write(_corrupt(kind), tmp_path / f"{kind}.csv")
    with pytest.raises(DiscaError, match=message) as info:
        data.pull_moral_machine(path)
    assert str(info.value).startswith(str(path.resolve()))
    assert "\n" not in str(info.value)
    assert not data.dataset_path().exists()


def test_unreadable_and_missing_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DiscaError, match="not a readable CSV"):
        data.pull_moral_machine(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text('"Estimates","se","Label","Country"\n')
    with pytest.raises(DiscaError, match="no data rows"):
        data.pull_moral_machine(header_only)
    with pytest.raises(DiscaError, match="file not found"):
        data.pull_moral_machine(tmp_path / "absent.csv")


# --- CLI ------------------------------------------------------------------------------------


def test_cli_pull_list_path(acme):
    runner = CliRunner()
    result = runner.invoke(cli, ["data", "pull", "moral-machine", "--from", str(acme)])
    assert result.exit_code == 0, result.output
    assert "2548 rows, 196 countries" in result.output
    assert data.MORAL_MACHINE_SHA256 in result.output
    listed = runner.invoke(cli, ["data", "list", "--json"])
    assert listed.exit_code == 0
    (info,) = json.loads(listed.output)
    assert info["pulled"] and info["sha256"] == data.MORAL_MACHINE_SHA256
    table = runner.invoke(cli, ["data", "list"])
    assert "moral-machine" in table.output and "yes" in table.output
    where = runner.invoke(cli, ["data", "path", "moral-machine"])
    assert where.output.strip() == str(data.dataset_path())
    assert runner.invoke(cli, ["data", "path"]).output.strip() == str(paths.data_dir())


def test_cli_errors_are_one_line(tmp_path, monkeypatch):
    runner = CliRunner()
    bad = _write(_corrupt("label"), tmp_path / "bad.csv")
    result = runner.invoke(cli, ["data", "pull", "moral-machine", "--from", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    monkeypatch.setattr(data, "MORAL_MACHINE_URL", "http://127.0.0.1:9/x.csv")
    offline = runner.invoke(cli, ["data", "pull", "moral-machine"])
    assert offline.exit_code == 1 and "could not download" in offline.output
    assert runner.invoke(cli, ["data", "pull", "wvs"]).exit_code == 2
