"""The shared engine options: same names on every model-loading command, passed to the engine."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from disca_edge.cli import cli
from disca_edge.models import open as model_open


class _Opened(Exception):
    """Raised by the fake `open_engine` to stop the command once the options arrived."""


@pytest.fixture
def opened(monkeypatch):
    """Capture the keyword arguments `open_engine` receives; no model is loaded."""
    seen: dict = {}

    def fake_open_engine(name_or_path=None, **kwargs):
        seen.update(kwargs, model=name_or_path)
        raise _Opened

    monkeypatch.setattr(model_open, "open_engine", fake_open_engine)
    monkeypatch.setattr("disca_edge.commands.ask.open_engine", fake_open_engine)
    return seen


COMMANDS = [["ask"], ["eval", "multitp"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_the_shared_options(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    for flag in ("--model", "-m,", "-t,", "--threads", "--n-ctx", "-ngl,", "--n-gpu-layers"):
        assert flag in result.output, flag
    assert "--gpu-layers " not in result.output  # the old name is a hidden alias


@pytest.mark.parametrize(
    "spelling", [["-ngl", "7"], ["--n-gpu-layers", "7"], ["--gpu-layers", "7"]]
)
def test_ask_passes_engine_options(opened, spelling):
    args = ["ask", "-c", "JP", "-m", "some-model", "-t", "3", "--n-ctx", "1024", *spelling]
    result = CliRunner().invoke(cli, [*args, "a boy", "a girl"])
    assert isinstance(result.exception, _Opened), result.output
    assert opened["model"] == "some-model"
    assert (opened["n_threads"], opened["n_ctx"], opened["n_gpu_layers"]) == (3, 1024, 7)


def test_ask_c_is_still_country():
    result = CliRunner().invoke(cli, ["ask", "-c", "Atlantis", "a", "b"])
    assert result.exit_code == 1
    assert "unknown country 'Atlantis'" in result.output


def test_old_and_new_gpu_layer_names_must_agree(opened):
    args = ["ask", "-c", "JP", "--gpu-layers", "2", "-ngl", "3", "a boy", "a girl"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "old name of --n-gpu-layers" in result.output


def test_eval_passes_engine_options(opened, tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd

    from disca_edge.content import human_targets as data
    from disca_edge.maths import categories

    frame = pd.DataFrame(np.full((1, 6), 0.7), index=["USA"], columns=list(categories.DIMENSIONS))
    monkeypatch.setattr(data, "load_human_targets", lambda path=None: frame.copy())
    args = ["eval", "multitp", "--countries", "USA", "--out", str(tmp_path / "run"), "--limit", "1"]
    args += ["-m", "some-model", "-t", "2", "--n-ctx", "2048", "-ngl", "0", "--display", "none"]
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, _Opened), result.output
    assert opened["model"] == "some-model"
    assert (opened["n_threads"], opened["n_ctx"], opened["n_gpu_layers"]) == (2, 2048, 0)


@pytest.mark.parametrize("value", ["-2", "x"])
def test_bad_gpu_layers_is_a_usage_error(value):
    result = CliRunner().invoke(cli, ["ask", "-c", "JP", "-ngl", value, "a", "b"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
