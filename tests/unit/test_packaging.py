"""A non-editable wheel, installed and run from another directory, finds its shipped files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_models_toml_and_personas_and_finds_them(tmp_path):
    pytest.importorskip("hatchling")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(dist), str(REPO)],
        check=True,
    )  # fmt: skip
    wheel = next(dist.glob("disca_edge-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "disca_edge/_shipped/models.toml" in names
    assert (
        sum(n.startswith("disca_edge/_shipped/personas/") and n.endswith(".toml") for n in names)
        == 20
    )
    for name in (
        "disca_i18n.json",
        "baseline_texts.json",
        "LICENSE",
        "PROVENANCE.md",
    ):  # MIT notice travels with it
        assert f"disca_edge/_shipped/i18n/{name}" in names

    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import disca_edge, disca_edge.paths as p, disca_edge.content.personas as pe, disca_edge.models.registry as m;"
        "print(disca_edge.__file__); print(p.shipped_dir());"
        "print(len(pe.list_panels())); print(m.default_model_name());"
        "import disca_edge.content.i18n as i; print(len(i.tables().languages))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=elsewhere,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0].startswith(str(site))  # the installed copy, not the checkout
    assert out[1] == str(site / "disca_edge" / "_shipped")
    assert out[2:] == ["20", "smollm2-135m", "17"]
