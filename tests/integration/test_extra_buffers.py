"""`extra_buffers` from the CLI and the environment reaches llama.cpp and every result."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from disca_edge.cli import cli
from disca_edge.engine import hardware

pytestmark = pytest.mark.model


def _ask_engine_settings(model_path, n_threads, args=(), env=None) -> dict:
    result = CliRunner().invoke(
        cli,
        ["ask", "-c", "JP", "--lang", "en", "a boy", "two elderly women", "--json", "--threads", str(n_threads),
         "--no-prefix-cache", "--model", str(model_path), *args],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])["engine"]


@pytest.mark.parametrize(
    ("args", "env", "setting", "on"),
    [
        (["--extra-buffers", "off"], {"DISCA_EXTRA_BUFFERS": "on"}, "off", False),
        ([], {"DISCA_EXTRA_BUFFERS": "off"}, "off", False),
    ],
)
def test_extra_buffers_override_is_recorded_end_to_end(
    smollm2_path, n_threads, args, env, setting, on
):
    settings = _ask_engine_settings(smollm2_path, n_threads, args, env)
    assert (settings["extra_buffers"], settings["use_extra_bufts"]) == (setting, on)


def test_extra_buffers_auto_follows_this_cpu(smollm2_path, monkeypatch, n_threads):
    import llama_cpp

    from disca_edge.engine import Engine, EngineOptions

    monkeypatch.delenv("DISCA_EXTRA_BUFFERS", raising=False)
    features = hardware.cpu_features(llama_cpp.llama_print_system_info().decode())
    with Engine(smollm2_path, EngineOptions(n_ctx=512, n_threads=n_threads)) as engine:
        assert engine.settings["extra_buffers"] == "auto"
        assert engine.settings["use_extra_bufts"] is hardware.extra_buffers_on("auto", features)
