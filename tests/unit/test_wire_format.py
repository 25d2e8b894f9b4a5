"""The wire formats do not move: `ask-result/1` lines and `results.json` equal, byte for byte,
what the code wrote before the issue-17 relayout (7aa5333) for the same fixed inputs.

`tests/golden/` was written by that commit's code from the inputs rebuilt below (synthetic
logits, synthetic human targets; version strings, the shipped folder and the creation time
masked). The two `results-*.json` were regenerated since, by `results_text` below, when
issue 18 added fields to format 1 (intervals, paired differences, significant wins,
prompt variant, paper_backbone, sigma_at_floor, bootstrap): every line of the old files is
still there, unchanged. Floats go
through NumPy's exp/log/power, whose last bit can depend on the CPU's SIMD path: where this
machine's NumPy disagrees with the canary recorded beside the goldens, the comparison falls
back to 1e-12 relative on floats and says so, instead of failing on a rounding difference.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from disca_edge import pipeline
from disca_edge.ask.inputs import make_input
from disca_edge.ask.result import Versions, answers_from_logits, apply_prior
from disca_edge.content.personas import load_panel
from disca_edge.content.scenarios import disca_pool
from disca_edge.evals import runlog
from disca_edge.evals.loop import EvalConfig, build_header
from disca_edge.evals.scoring import score_run
from disca_edge.evals.worker import record_chunk
from disca_edge.maths import categories, core
from disca_edge.maths.methods import compute_methods, method_suite
from disca_edge.models.open import ModelInfo
from disca_edge.paths import shipped_dir

GOLDEN = Path(__file__).parents[1] / "golden"
VERSIONS = Versions(disca_edge="X", llama_cpp_python="X", numpy="X")
FAKE_MODEL = ModelInfo(
    name="fake", path="/models/fake.gguf", sha256="0" * 64, settings={"n_ctx": 4096}
)
MODEL_INFO = {
    "name": "fake-model",
    "path": "/nowhere/fake.gguf",
    "sha256": "f" * 64,
    "llama_cpp_python": "0.0",
    "settings": {"n_batch": 512, "n_ubatch": 63, "flash_attn": 1, "n_gpu_layers": 0,
                 "kv_unified": True, "n_threads": 2},
}  # fmt: skip


def _canary_holds() -> bool:
    canary = json.loads((GOLDEN / "canary.json").read_text())["canary"]
    x = np.linspace(-30, 30, 257)
    now = {
        "exp": [float(v).hex() for v in np.exp(x)],
        "log1p": [float(v).hex() for v in np.log1p(np.abs(x))],
        "power": [float(v).hex() for v in np.power(np.abs(x), 0.88)],
    }
    return now == canary


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def assert_same(text: str, golden: str, *, lines: bool = False) -> None:
    if _canary_holds():
        assert text == golden
        return
    now_parts = text.splitlines() if lines else [text]
    gold = golden.splitlines() if lines else [golden]
    assert len(now_parts) == len(gold)
    for now, then in zip(now_parts, gold, strict=True):
        assert _close(json.loads(now), json.loads(then)), "differs beyond NumPy rounding"
    pytest.xfail("NumPy rounds differently on this CPU: checked to 1e-12 instead of bytes")


def ask_inputs():
    return [
        make_input("a boy", "two elderly women", category="Age", index=0),
        make_input("swerve", "stay", dilemma="Should the car swerve?", index=1, id="q2"),
        make_input("a dog", "a man", category="species", index=7, line=3, country="JP"),
    ]


def ask_logits(seed: int) -> pipeline.PanelLogits:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(3, 2, 5, 2)) + 20.0
    ids = np.broadcast_to(np.array([49, 50]), (3, 2, 5, 2)).copy()
    texts = [
        [f"prompt {s} {o} {a}" for o in pipeline.ORDERS for a in pipeline.AGENTS] for s in range(3)
    ]
    return pipeline.PanelLogits(logits, np.array([True, True, False]), ids, texts)


def ask_lines() -> str:
    lines = []
    for iso, variant, lang, seed in (
        ("JPN", "paper", "en", 42),
        ("USA", "reference", "en", 7),
        ("DEU", "reference", "native", 42),
    ):
        panel = load_panel(iso)
        params = core.DiscaParams(variant)
        results = answers_from_logits(
            ask_inputs(),
            ask_logits(seed),
            model_info=FAKE_MODEL,
            panel=panel,
            params=params,
            seed=seed,
            n_tokens=[[100 + k for k in range(10)]] * 3,
            prompts=pipeline.panel_prompts(panel, lang),
        )
        for result in apply_prior(results, params):
            result = dataclasses.replace(result, versions=VERSIONS)
            lines.append(json.dumps(result.to_dict(), ensure_ascii=False))
    shipped = f"{shipped_dir() / 'personas'}/"
    return "\n".join(lines).replace(shipped, "SHIPPED/personas/") + "\n"


def human_targets(countries) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        rng.uniform(0.45, 0.85, size=(len(countries), 6)),
        index=list(countries),
        columns=list(categories.DIMENSIONS),
    )


def make_run(countries, n, variant, seed):
    cfg = EvalConfig(out=None, countries=tuple(countries), limit=n, variant=variant)
    suite = method_suite(variant)
    panels = {iso: load_panel(iso) for iso in countries}
    pool = disca_pool()
    header = build_header(cfg, MODEL_INFO, suite, panels, len(pool))
    header.update(status="success", fingerprint=runlog.fingerprint(header["config"]))
    rng = np.random.default_rng(seed)
    items = [(p, pool[p]) for p in range(n)]
    records = []
    for c, iso in enumerate(countries):
        logits = rng.normal(0, 1.5, size=(len(items), 2, 5, 2)) + 20.0
        logits[:, 0, :, 0] += 0.8 + 0.3 * c
        panel = pipeline.PanelLogits(
            logits=logits,
            has_swap=np.ones(len(items), bool),
            token_ids=np.zeros((len(items), 2, 5, 2), dtype=np.int64),
            texts=[[f"{iso}{p}-{k}" for k in range(10)] for p, _ in items],
        )
        outputs = compute_methods(
            logits,
            panel.has_swap,
            [v.category for _, v in items],
            np.array([v.preferred_right for _, v in items]),
            core.draws(42, [v.vignette_index for _, v in items], 64),
            suite,
        )
        records += record_chunk(iso, items, panel, outputs, suite)
    return header, records


def results_text(variant: str, n: int, seed: int) -> str:
    countries = ("USA", "JPN", "DEU")
    header, records = make_run(countries, n, variant, seed)
    results = score_run(header, records, targets=human_targets(countries)).to_dict()
    return json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False)


def _mask_created(text: str) -> str:
    return re.sub(r'"created": "[^"]*"', '"created": "X"', text, count=1)


def test_ask_result_lines_are_unchanged():
    golden = (GOLDEN / "ask-results.jsonl").read_text(encoding="utf-8")
    assert_same(ask_lines(), golden, lines=True)


@pytest.mark.parametrize(("variant", "n", "seed"), [("paper", 40, 0), ("reference", 80, 1)])
def test_results_json_is_unchanged(variant, n, seed):
    text = _mask_created(results_text(variant, n, seed))
    golden = _mask_created((GOLDEN / f"results-{variant}.json").read_text(encoding="utf-8"))
    assert_same(text, golden)
