"""Shared-prefix engine vs naive re-evaluation, side by side in one run.

    python benchmarks/engine.py [--scenarios 20] [--country JPN] [--threads 2]
                                [--config NAME:key=value,...] [--check 3]

Takes one country's real persona panel and M DISCA-frame MultiTP scenarios (10 prompts
each) on SmolLM2-135M and measures, each part in its own process (so peak RSS is its own):

  naive   every prompt from an empty cache with llama-cpp-python's high-level API
          (Llama.reset + Llama.eval, its default micro-batch of 512, flash attention auto);
  engine  disca_edge.engine at its default settings, cold cache;
  NAME    the engine with other settings, one part per ``--config`` (Engine keyword
          arguments, e.g. ``--config ub512:n_ubatch=512``).

For every part the table shows seconds, tokens decoded, tok/s, the KV cells visible to
the average decode call (what attention scans), and exactness: the largest |logit|
difference between the part and isolated evaluation (each prompt alone from an empty
cache) *at the part's own settings*, over the first ``--check`` scenarios (0 = exact).
Naive has no such figure: it is the reference for speed, and its logits differ from
the engine's kernels by up to ~0.5 on SmolLM2 (see ``max_abs_diff_vs_naive``).

The token limit is the time the engine's own tokens would take at naive's tok/s;
efficiency = token limit / engine seconds (1.0: the engine decodes as fast per token as
naive; the rest of its speedup comes from decoding fewer tokens).

Prints a table and one JSON line (naive_s, engine_s, speedup_vs_naive, token_ratio,
tokens_naive, tokens_engine, efficiency, peak_rss_mb, configs, machine, ...).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))


def _prompts(country: str, n_scenarios: int):
    from disca_edge.content import personas, scenarios
    from disca_edge.engine import ChatPrompt
    from disca_edge.pipeline import panel_system_prompts

    systems = panel_system_prompts(personas.load_panel(country).texts())
    prompts = []
    for vignette in scenarios.disca_pool()[:n_scenarios]:
        orig, swap = scenarios.disca_user_prompts(vignette)
        for user in (orig, swap) if swap else (orig,):
            prompts += [ChatPrompt(system, user) for system in systems]
    return prompts


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parse_config(text: str) -> tuple[str, dict]:
    """``NAME:key=value,key=value`` -> (NAME, `EngineOptions` fields); ints stay ints."""
    name, _, body = text.partition(":")
    kwargs = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        kwargs[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value.strip()
    return name, kwargs


def part(name: str, kwargs: dict, args) -> dict:
    """Run one measured part in this process and return its figures."""
    import numpy as np

    from disca_edge.engine import Engine, EngineOptions
    from disca_edge.models.open import resolve_model

    model = str(resolve_model("smollm2-135m")[1])
    prompts = _prompts(args.country, args.scenarios)
    if name == "naive":
        import llama_cpp
        from llama_cpp import Llama

        renderer = Engine(model, EngineOptions(n_threads=args.threads, n_ctx=512))
        work = []
        for p in prompts:
            text = renderer.render(p)
            tokens = renderer.tokenize(text)
            work.append((tokens, renderer.decision_tokens(text, tokens)))
        renderer.close()
        # n_threads_batch too: llama-cpp-python defaults it to every core, whatever n_threads says
        llm = Llama(
            model, n_ctx=4096, n_threads=args.threads, n_threads_batch=args.threads, verbose=False
        )
        t0 = time.perf_counter()
        logits = []
        for tokens, (id_a, id_b) in work:
            llm.reset()
            llm.eval(tokens)
            row = np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),)
            )
            logits.append((float(row[id_a]), float(row[id_b])))
        elapsed = time.perf_counter() - t0
        tokens = sum(len(t) for t, _ in work)
        return {
            "seconds": elapsed,
            "tokens": tokens,
            "decode_calls": len(work),
            "visible_cells": tokens / len(work),  # one call per prompt, over its own cells
            "logits": logits,
            "exact_diff": None,
            "peak_rss_mb": _peak_rss_mb(),
        }
    engine = Engine(model, EngineOptions(n_threads=args.threads, **kwargs))
    t0 = time.perf_counter()
    result = engine.logits_ab(prompts)
    elapsed = time.perf_counter() - t0
    stats = engine.stats.as_dict()
    checked = prompts[: 10 * args.check]
    exact_diff = None
    if checked:
        isolated = engine.logits_ab_isolated(checked)
        shared = np.stack([result.logit_a, result.logit_b], axis=1)[: len(checked)]
        alone = np.stack([isolated.logit_a, isolated.logit_b], axis=1)
        exact_diff = float(np.abs(shared - alone).max())
    return {
        "seconds": elapsed,
        "tokens": stats["tokens_evaluated"],
        "decode_calls": stats["decode_calls"],
        "visible_cells": stats["visible_cells"] / max(stats["decode_calls"], 1),
        "prompt_tokens": stats["prompt_tokens"],
        "logits": list(zip(result.logit_a.tolist(), result.logit_b.tolist(), strict=True)),
        "exact_diff": exact_diff,
        "peak_rss_mb": _peak_rss_mb(),
        "settings": engine.settings,
    }


def _run_part(name: str, kwargs: dict, args) -> dict:
    command = [sys.executable, __file__, "--part", name, "--scenarios", str(args.scenarios)]
    command += ["--country", args.country, "--threads", str(args.threads)]
    command += ["--check", str(args.check), "--kwargs", json.dumps(kwargs)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20)
    parser.add_argument("--country", default="JPN")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check", type=int, default=3, help="scenarios checked for exactness")
    parser.add_argument(
        "--config", action="append", default=[], help="NAME:key=value,... (EngineOptions fields)"
    )
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--kwargs", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        print(json.dumps(part(args.part, json.loads(args.kwargs), args)))
        return

    import numpy as np
    from _machine import machine_info

    machine = machine_info()
    configs = [("engine", {})] + [_parse_config(c) for c in args.config]
    results = {"naive": _run_part("naive", {}, args)}
    for name, kwargs in configs:
        results[name] = _run_part(name, kwargs, args)
    naive, engine = results["naive"], results["engine"]
    naive_rate = naive["tokens"] / naive["seconds"]

    rows = {}
    print(
        f"{'part':10} {'seconds':>8} {'tokens':>7} {'tok/s':>6} {'cells/decode':>12} "
        f"{'calls':>6} {'speedup':>7} {'effic.':>6} {'exact Δ':>9} {'Δ vs naive':>10}"
    )
    for name, r in results.items():
        limit_s = r["tokens"] / naive_rate
        diff_naive = float(np.abs(np.array(r["logits"]) - np.array(naive["logits"])).max())
        rows[name] = {
            "seconds": round(r["seconds"], 3),
            "tokens": r["tokens"],
            "tok_per_s": round(r["tokens"] / r["seconds"], 1),
            "visible_cells_per_decode": round(r["visible_cells"], 1),
            "decode_calls": r["decode_calls"],
            "speedup_vs_naive": round(naive["seconds"] / r["seconds"], 3),
            "token_limit_s": round(limit_s, 3),
            "efficiency": round(limit_s / r["seconds"], 3),
            "max_abs_diff_vs_isolated": r["exact_diff"],
            "max_abs_diff_vs_naive": diff_naive,
            "settings": r.get("settings"),
        }
        row = rows[name]
        exact = "—" if r["exact_diff"] is None else f"{r['exact_diff']:.3g}"
        print(
            f"{name:10} {r['seconds']:8.2f} {r['tokens']:7d} {row['tok_per_s']:6.0f} "
            f"{r['visible_cells']:12.0f} {r['decode_calls']:6d} {row['speedup_vs_naive']:6.2f}x "
            f"{row['efficiency']:6.2f} {exact:>9} {diff_naive:10.3g}"
        )
    limit_s = engine["tokens"] / naive_rate
    summary = {
        "benchmark": "engine",
        "model": "smollm2-135m",
        "country": args.country,
        "scenarios": args.scenarios,
        "prompts": len(naive["logits"]),
        "threads": args.threads,
        "naive_s": round(naive["seconds"], 3),
        "engine_s": round(engine["seconds"], 3),
        "speedup_vs_naive": round(naive["seconds"] / engine["seconds"], 3),
        "tokens_naive": naive["tokens"],
        "tokens_engine": engine["tokens"],
        "token_ratio": round(naive["tokens"] / engine["tokens"], 3),
        "token_limit_s": round(limit_s, 3),
        "efficiency": round(limit_s / engine["seconds"], 3),
        "max_abs_diff_vs_isolated": engine["exact_diff"],
        "exactness_checked_prompts": min(10 * args.check, len(naive["logits"])),
        "peak_rss_mb": round(engine["peak_rss_mb"], 1),
        "engine_settings": engine["settings"],
        "parts": rows,
        "machine": machine,
    }
    if hasattr(__import__("os"), "getloadavg"):
        summary["machine"]["loadavg_1m_after"] = round(__import__("os").getloadavg()[0], 2)
    print(
        f"speedup vs naive {summary['speedup_vs_naive']}x = token ratio "
        f"{summary['token_ratio']} x efficiency {summary['efficiency']}; exact Δ "
        f"{engine['exact_diff']}; load {machine.get('loadavg_1m_before')} -> "
        f"{summary['machine'].get('loadavg_1m_after')}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
