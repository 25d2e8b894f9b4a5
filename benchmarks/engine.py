"""Shared-prefix engine vs naive re-evaluation, side by side in one run.

    python benchmarks/engine.py [--scenarios 20] [--country JPN] [--threads 2]

Takes one country's real persona panel and M DISCA-frame MultiTP scenarios (10 prompts
each) on SmolLM2-135M and measures, each part in its own process (so peak RSS is its own):

  (a) naive   - every prompt from an empty cache with llama-cpp-python's high-level API
                (Llama.reset + Llama.eval; its default micro-batch of 512);
  (b) engine  - disca_edge.engine with default (bit-exact) settings, cold cache;
  (b') engine_ub512 - the same with n_ubatch=512 (faster on CPU, not bit-identical to (a));
  (c) ceiling - one sequence at a time evaluating as many tokens as (b) decoded, with the
                engine's own context settings: the prompt-processing ceiling.

Prints a table and one JSON line (naive_s, engine_s, speedup_vs_naive, tokens_naive,
tokens_engine, ceiling_efficiency = ceiling_s / engine_s, peak_rss_mb, ...).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _prompts(country: str, n_scenarios: int):
    from disca_edge import personas, scenarios
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


def _kv_cache_mb(engine) -> float:
    meta = engine.metadata
    arch = meta["general.architecture"]
    layers = int(meta[f"{arch}.block_count"])
    heads = int(meta[f"{arch}.attention.head_count"])
    kv_heads = int(meta.get(f"{arch}.attention.head_count_kv", heads))
    head_dim = int(meta[f"{arch}.embedding_length"]) // heads
    return engine.n_ctx * layers * 2 * kv_heads * head_dim * 2 / 2**20  # f16 K and V


def part(name: str, args) -> dict:
    """Run one measured part in this process and return its figures."""
    import numpy as np

    from disca_edge import models
    from disca_edge.engine import Engine

    model = str(models.resolve_model("smollm2-135m")[1])
    prompts = _prompts(args.country, args.scenarios)
    if name == "naive":
        import llama_cpp
        from llama_cpp import Llama

        renderer = Engine(model, n_threads=args.threads)
        work = []
        for p in prompts:
            text = renderer.render(p)
            tokens = renderer.tokenize(text)
            work.append((tokens, renderer.decision_tokens(text, tokens)))
        renderer.close()
        llm = Llama(model, n_ctx=4096, n_threads=args.threads, verbose=False)
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
        return {
            "seconds": elapsed,
            "tokens": sum(len(t) for t, _ in work),
            "logits": logits,
            "peak_rss_mb": _peak_rss_mb(),
        }
    if name in ("engine", "engine_ub512"):
        ubatch = 512 if name == "engine_ub512" else None
        engine = Engine(model, n_threads=args.threads, n_ubatch=ubatch)
        t0 = time.perf_counter()
        result = engine.logits_ab(prompts)
        elapsed = time.perf_counter() - t0
        return {
            "seconds": elapsed,
            "tokens": engine.stats.tokens_evaluated,
            "prompt_tokens": engine.stats.prompt_tokens,
            "logits": list(zip(result.logit_a.tolist(), result.logit_b.tolist(), strict=True)),
            "peak_rss_mb": _peak_rss_mb(),
            "kv_cache_mb": _kv_cache_mb(engine),
            "settings": engine.settings,
        }
    if name == "ceiling":
        engine = Engine(model, n_threads=args.threads)
        stream = []
        for p in prompts:
            stream += engine.tokenize(engine.render(p))
        stream = stream[: args.ceiling_tokens]
        span = engine.n_ctx - 16
        t0 = time.perf_counter()
        for start in range(0, len(stream), span):
            engine.clear()
            engine._decode_trie([(stream[start : start + span], 0, [16])])
        elapsed = time.perf_counter() - t0
        return {"seconds": elapsed, "tokens": len(stream), "peak_rss_mb": _peak_rss_mb()}
    raise SystemExit(f"unknown part {name}")


def _run_part(name: str, args, extra: list[str] = ()) -> dict:
    command = [sys.executable, __file__, "--part", name, "--scenarios", str(args.scenarios)]
    command += ["--country", args.country, "--threads", str(args.threads), *extra]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20)
    parser.add_argument("--country", default="JPN")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-tokens", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        print(json.dumps(part(args.part, args)))
        return

    import numpy as np

    from disca_edge import models

    engine = _run_part("engine", args)
    naive = _run_part("naive", args)
    fast = _run_part("engine_ub512", args)
    ceiling = _run_part("ceiling", args, ["--ceiling-tokens", str(engine["tokens"])])
    gguf_mb = models.resolve_model("smollm2-135m")[1].stat().st_size / 2**20

    diff = np.abs(np.array(engine["logits"]) - np.array(naive["logits"])).max()
    diff_fast = np.abs(np.array(fast["logits"]) - np.array(naive["logits"])).max()
    summary = {
        "benchmark": "engine",
        "model": "smollm2-135m",
        "country": args.country,
        "scenarios": args.scenarios,
        "prompts": args.scenarios * 10,
        "threads": args.threads,
        "naive_s": round(naive["seconds"], 3),
        "engine_s": round(engine["seconds"], 3),
        "engine_ub512_s": round(fast["seconds"], 3),
        "ceiling_s": round(ceiling["seconds"], 3),
        "speedup_vs_naive": round(naive["seconds"] / engine["seconds"], 2),
        "speedup_ub512_vs_naive": round(naive["seconds"] / fast["seconds"], 2),
        "tokens_naive": naive["tokens"],
        "tokens_engine": engine["tokens"],
        "token_ratio": round(naive["tokens"] / engine["tokens"], 2),
        "ceiling_efficiency": round(ceiling["seconds"] / engine["seconds"], 3),
        "max_abs_logit_diff_engine_vs_naive": float(diff),
        "max_abs_logit_diff_ub512_vs_naive": float(diff_fast),
        "peak_rss_mb": round(engine["peak_rss_mb"], 1),
        "rss_budget_mb": round(gguf_mb + engine["kv_cache_mb"] + 300, 1),
        "gguf_mb": round(gguf_mb, 1),
        "kv_cache_mb": round(engine["kv_cache_mb"], 1),
        "machine": f"{platform.machine()} {platform.processor() or ''} cpus={__import__('os').cpu_count()}",
    }
    rows = [
        ("naive (high-level API, empty cache each prompt)", naive["seconds"], naive["tokens"]),
        ("engine (shared prefixes, exact)", engine["seconds"], engine["tokens"]),
        ("engine, n_ubatch=512 (not bit-exact)", fast["seconds"], fast["tokens"]),
        ("ceiling (one sequence, same tokens as engine)", ceiling["seconds"], ceiling["tokens"]),
    ]
    print(f"{'part':52} {'seconds':>9} {'tokens':>8} {'tok/s':>7}")
    for label, seconds, tokens in rows:
        print(f"{label:52} {seconds:9.2f} {tokens:8d} {tokens / seconds:7.0f}")
    print(
        f"speedup vs naive {summary['speedup_vs_naive']}x (ub512: "
        f"{summary['speedup_ub512_vs_naive']}x), ceiling efficiency "
        f"{summary['ceiling_efficiency']}, peak RSS {summary['peak_rss_mb']} MB "
        f"(budget {summary['rss_budget_mb']} MB), max |Δlogit| vs naive {diff:.2e}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
