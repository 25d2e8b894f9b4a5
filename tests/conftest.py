"""Shared fixtures: an isolated DISCA_HOME per test, the shared data dir, real GGUF models."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own empty DISCA_HOME (cache/data dirs), like llm's user dir."""
    home = tmp_path_factory.mktemp("disca_home")
    monkeypatch.setenv("DISCA_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout (third-party data, never committed)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party data not available: {SHARED_DATA} is absent")
    return SHARED_DATA
