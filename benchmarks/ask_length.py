"""Time of one `disca ask` against the dilemma's length, beside plain llama-cpp-python.

Run: ``python benchmarks/ask_length.py`` (``--help`` for options). For each thread count
one process loads the model twice, once as the engine and once as a plain
``llama_cpp.Llama`` with the same threads and kernel settings (KV type, flash attention,
batch and micro-batch), and for each target length (the user turn, frame included:
about 100, 200, 400 and 800 tokens; a custom dilemma of repeated sentences):

* ``ask``: one `disca ask` answer (the ten prompts of the JP panel, both option orders)
  after a short warm-up ask, so the five system prompts are pinned, as in any ask
  after the first;
* with ``--budget-only``, the ask again with every group held to its cell target, as
  the engine planned before issue 20 (the two option orders of a long dilemma then
  went to separate groups);
* ``naive``: the same ten token lists, each evaluated by ``Llama.reset`` +
  ``Llama.eval`` from an empty cache, reading the decision logits of its last token
  (what one would write without the engine).

The prefix cache is off. Prints, per length, both times, naive / ask (above 1: the
engine is faster), the tokens each decodes, the engine's groups, and the largest
|logit| difference between the two (0 when the kernels agree bit for bit), then one
final JSON line with every figure and the machine (load average included: other
processes on the machine slow every figure).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _machine import machine_info  # noqa: E402

from disca_edge import pipeline  # noqa: E402
from disca_edge.ask import run as ask  # noqa: E402
from disca_edge.ask.inputs import AskInput, make_input  # noqa: E402
from disca_edge.content.personas import load_panel  # noqa: E402
from disca_edge.engine import ChatPrompt, EngineOptions  # noqa: E402
from disca_edge.engine.plan import plan  # noqa: E402
from disca_edge.maths.core import DiscaParams  # noqa: E402
from disca_edge.models.open import open_engine  # noqa: E402

__all__ = ["main"]

_SENTENCE = (
    "The tram carries workers home along the river while the evening market closes, "
    "and the driver sees the signal fail just before the junction. "
)
_GGML_TYPE = {"f32": 0, "f16": 1, "q8_0": 8, "bf16": 30}


def _dilemma_of(run, target: int) -> tuple[AskInput, int]:
    """A custom dilemma whose longest user turn is close to `target` tokens."""
    best = None
    for repeats in range(1, 200):
        item = make_input(
            "swerve onto the side track",
            "stay on the main track",
            dilemma=(_SENTENCE * repeats) + "What should the driver do?",
        )
        n = run.check_length(pipeline.Dilemma.from_scenario(item.scenario(), index=0))
        if best is None or abs(n - target) < abs(best[1] - target):
            best = (item, n)
        if n >= target:
            break
    return best


def _prompts(engine, systems, item: AskInput) -> list[tuple[list[int], tuple[int, int], int]]:
    """The ask's ten prompts as (tokens, decision ids, pinned length), as the engine sees them."""
    dilemma = pipeline.Dilemma.from_scenario(item.scenario(), index=0)
    out = []
    for user in (dilemma.user_orig, dilemma.user_swap):
        for system in systems:
            prompt = ChatPrompt(system, user)
            text = engine.render(prompt)
            tokens = engine.chat.encode(prompt, text)
            ids = engine.chat.decision_tokens(text, tokens, prompt)
            out.append((tokens, ids, engine.chat.pinned_len(prompt, tokens)))
    return out


def _plain_llama(model_path: str, settings: dict):
    """A plain `llama_cpp.Llama` with the engine's threads and kernel settings."""
    from llama_cpp import Llama

    return Llama(
        model_path,
        n_ctx=settings["n_ctx"],
        n_batch=settings["n_batch"],
        n_ubatch=settings["n_ubatch"],
        n_threads=settings["n_threads"],
        n_threads_batch=settings["n_threads"],  # it defaults to every core otherwise
        flash_attn=settings["flash_attn"] == 1,
        type_k=_GGML_TYPE[settings["kv_type"]],
        type_v=_GGML_TYPE[settings["kv_type"]],
        n_gpu_layers=settings["n_gpu_layers"],
        verbose=False,
    )


def _naive(llm, prompts) -> tuple[float, np.ndarray]:
    """Seconds to evaluate each prompt from an empty cache, and its (A, B) logits."""
    import llama_cpp

    out = np.empty((len(prompts), 2))
    t0 = time.perf_counter()
    for k, (tokens, (id_a, id_b), _) in enumerate(prompts):
        llm.reset()
        llm.eval(tokens)
        row = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),)
        )
        out[k] = row[id_a], row[id_b]
    return time.perf_counter() - t0, out


def _groups(engine, prompts) -> list[dict]:
    """The engine's plan for the prompts: cells and prompts per group."""
    from disca_edge.engine import CONTEXT_RESERVE
    from disca_edge.engine.kvcache import PINNED_SLOTS

    tokens = [t for t, _, _ in prompts]
    groups = plan(
        tokens,
        [p for _, _, p in prompts],
        first_leaf=PINNED_SLOTS,
        leaf_slots=engine.n_seq_max - PINNED_SLOTS,
        cell_budget=max(engine.group_cells, max(map(len, tokens))),
        prefix_slots=PINNED_SLOTS,
        cell_limit=engine.n_ctx - CONTEXT_RESERVE,  # as Engine.logits_ab plans them
    )
    return [{"prompts": len(g.prompts), "cells": g.cells, "steps": len(g.steps)} for g in groups]


@contextlib.contextmanager
def _groups_within_budget():
    """The engine planning as before issue 20: no group past its cell target, ever."""
    import disca_edge.engine as engine_module

    planned = engine_module.plan

    def within(*args, **kwargs):
        return planned(*args, **{**kwargs, "cell_limit": None})

    engine_module.plan = within
    try:
        yield
    finally:
        engine_module.plan = planned


def _measure(args, n_threads: int, targets: list[int]) -> list[dict]:
    """One thread count: the ask and naive figures per target length."""
    panel = load_panel("JP")
    params = DiscaParams("paper")
    engine, info = open_engine(EngineOptions(model=args.model, n_threads=n_threads))
    rows = []
    with engine:
        llm = _plain_llama(str(engine.model_path), engine.settings)
        run = ask._Run(engine, info, panel, params, 42)
        run.systems = pipeline.panel_system_prompts(panel.texts())
        ask.answer(engine, info, panel, make_input("a boy", "two elderly women"), params)
        for target in targets:
            item, n_user = _dilemma_of(run, target)
            prompts = _prompts(engine, run.systems, item)
            before = engine.stats.tokens_evaluated
            t0 = time.perf_counter()
            result = ask.answer(engine, info, panel, item, params)
            ask_s = time.perf_counter() - t0
            decoded = engine.stats.tokens_evaluated - before
            naive_s, naive_logits = _naive(llm, prompts)
            if args.budget_only:
                with _groups_within_budget():
                    t0 = time.perf_counter()
                    ask.answer(engine, info, panel, item, params)
                    budget_only_s = time.perf_counter() - t0
            ask_logits = np.array([[e.logit_a, e.logit_b] for e in result.evaluations])
            rows.append({
                "threads": n_threads,
                "user_tokens": n_user,
                "prompt_tokens": [len(t) for t, _, _ in prompts],
                "ask_s": ask_s,
                "naive_s": naive_s,
                "naive_over_ask": naive_s / ask_s,
                "ask_tokens_decoded": decoded,
                "naive_tokens_decoded": sum(len(t) for t, _, _ in prompts),
                "groups": _groups(engine, prompts),
                "max_abs_logit_diff": float(np.abs(ask_logits - naive_logits).max()),
            })  # fmt: skip
            if args.budget_only:
                rows[-1]["ask_budget_only_s"] = budget_only_s
            r = rows[-1]
            print(
                f"threads={n_threads} user={n_user} ask {ask_s:.2f} s naive {naive_s:.2f} s "
                f"(x{r['naive_over_ask']:.2f}) groups={len(r['groups'])}",
                flush=True,
            )
        llm.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--threads", default="1", help="comma-separated thread counts")
    parser.add_argument("--lengths", default="100,200,400,800", help="target user-turn tokens")
    parser.add_argument(
        "--budget-only",
        action="store_true",
        help="also time the ask with groups held to their cell target (the rule before "
        "issue 20, when the two option orders of a long dilemma went to separate groups)",
    )
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    targets = [int(n) for n in args.lengths.split(",")]
    machine = machine_info()
    rows = [row for n in threads for row in _measure(args, n, targets)]
    print(
        f"\n{'threads':>7} | {'user turn':>9} | {'ask s':>7} | {'naive s':>7} | "
        f"{'naive/ask':>9} | {'decoded ask/naive':>17} | {'groups':>6} | {'max |Δlogit|':>12}"
    )
    for r in rows:
        if "ask_budget_only_s" in r:
            print(f"{'':>7} | {'':>9} | {r['ask_budget_only_s']:7.2f} | (ask, groups within "
                  "their cell target)")  # fmt: skip
        print(
            f"{r['threads']:>7} | {r['user_tokens']:>9} | {r['ask_s']:7.2f} | "
            f"{r['naive_s']:7.2f} | {r['naive_over_ask']:8.2f}x | "
            f"{r['ask_tokens_decoded']:>8}/{r['naive_tokens_decoded']:<8} | "
            f"{len(r['groups']):>6} | {r['max_abs_logit_diff']:12.3g}"
        )
    machine["loadavg_1m_after"] = machine_info().get("loadavg_1m_before")
    print(json.dumps({"benchmark": "ask_length", "model": args.model, "rows": rows,
                      "machine": machine}))  # fmt: skip


if __name__ == "__main__":
    main()
