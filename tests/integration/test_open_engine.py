"""`models.open_engine` on real SmolLM2-135M weights: the context is sized once, for the prompts.

A Burmese panel (~8,000 SmolLM2 tokens of system prompts) does not fit the registry's
4,096-token context. `open_engine(..., fit=...)` must measure it with the model's own
tokenizer after the weights load and before the context is made: one `Engine`, one
load of the weights, at the final size.
"""

from __future__ import annotations

import time

import pytest

from disca_edge.ask.run import ask_context
from disca_edge.content.personas import load_panel
from disca_edge.engine import EngineOptions
from disca_edge.models import open as model_open
from disca_edge.models.open import ContextTooSmallError, open_engine
from disca_edge.pipeline import panel_prompts

pytestmark = pytest.mark.model


@pytest.fixture
def constructions(monkeypatch):
    """Every `Engine` `open_engine` constructs, and every weight load inside one."""
    made: list = []
    real = model_open.Engine

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            made.append("engine")
            super().__init__(*args, **kwargs)

        def _load_model(self, internals):
            made.append("weights")
            return super()._load_model(internals)

    monkeypatch.setattr(model_open, "Engine", Counting)
    return made


def test_a_native_panel_is_sized_for_once(smollm2_path, n_threads, constructions, caplog):
    demand = ask_context([panel_prompts(load_panel("MMR"), "native")])
    options = EngineOptions(model=str(smollm2_path), n_threads=n_threads)
    t0 = time.perf_counter()
    engine, info = open_engine(options, fit=demand)
    seconds = time.perf_counter() - t0
    with engine:
        need = demand.tokens(engine)  # the same count, now with the finished engine
        assert constructions == ["engine", "weights"]
        assert need > 4096 and engine.n_ctx == -(-(need + 512) // 256) * 256
        assert info.settings["n_ctx"] == engine.n_ctx
    (warning,) = [r.getMessage() for r in caplog.records if "sizing the context" in r.getMessage()]
    assert f"from 4096 to {engine.n_ctx} before the run" in warning
    assert seconds < 60  # one load; on 2 cores it takes a few seconds


def test_a_given_context_too_small_fails_before_any_work(smollm2_path, n_threads, constructions):
    demand = ask_context([panel_prompts(load_panel("MMR"), "native")])
    options = EngineOptions(model=str(smollm2_path), n_threads=n_threads, n_ctx=4096)
    with pytest.raises(ContextTooSmallError, match=r"^--n-ctx 4096 is too small for these"):
        open_engine(options, fit=demand)
    assert constructions == ["engine", "weights"]  # measured with the loaded vocabulary


def test_english_prompts_keep_the_registry_context(smollm2_path, n_threads, constructions):
    demand = ask_context([panel_prompts(load_panel("USA"), "en")])
    engine, _ = open_engine(EngineOptions(model=str(smollm2_path), n_threads=n_threads), fit=demand)
    with engine:
        assert engine.n_ctx == 4096 and demand.tokens(engine) + 512 < 4096
