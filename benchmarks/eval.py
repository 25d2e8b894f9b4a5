"""Throughput of the MultiTP evaluation (the 20-country protocol), shared-prefix vs isolated.

    python benchmarks/eval.py [--limit 2] [--chunk 1] [--threads N] [--isolated-sample 4]

Runs the evaluation loop of ``disca eval multitp`` (country by country: the persona panel,
chunks of scenarios through `pipeline.evaluate_panel`, every method from the logits with
`methods.compute_methods`; no run-log I/O) on SmolLM2-135M over the first ``--limit`` pool
scenarios of each country, twice in one process:

  shared    - the shared-prefix engine (persona prefixes once per country, the base prefix
              once per run, trie-shared suffixes), as the evaluation uses it;
  isolated  - each of a scenario's 10 prompts evaluated alone from an empty cache
              (`Engine.logits_ab_isolated`), the same scenarios (or a sample of them).

Prints scenarios/s of both, their ratio, the largest logit difference between the two
paths, and an estimate of the full 20 × 310 run on this machine, then one JSON line.
The measured shared rate includes each country's persona prefixes, amortised over only
``--limit`` scenarios; the estimate therefore splits the shared time into the first chunk
of each country (prefixes + one chunk) and the warm chunks after it (needs
``--limit`` > ``--chunk``), and extrapolates each part to 20 countries × 310 scenarios.
With the default ``--chunk 1`` every engine call is one scenario (10 prompts).

    python benchmarks/eval.py --layouts 1x2,2x1 [--countries USA,JPN] [--limit 4] [--chunk 2]
                              [--lang native|en]

compares worker layouts (jobs x threads per job) of ``disca eval multitp --jobs`` in one
run instead: for each layout it starts the workers (`executor.make_executor`, model loads
timed apart), feeds them the same work items (country, chunk), and prints scenarios/s
once loaded, the ratio to the first layout, and the ETA of the full 20 x 310 run
(start-up + per-country persona prefixes + warm scenarios), then one JSON line. The
records of every layout are checked to be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from disca_edge.content.personas import load_panel, parse_countries  # noqa: E402
from disca_edge.content.scenarios import disca_pool  # noqa: E402
from disca_edge.engine import ChatPrompt, EngineOptions  # noqa: E402
from disca_edge.evals.executor import make_executor  # noqa: E402
from disca_edge.evals.worker import WorkItem, WorkSpec  # noqa: E402
from disca_edge.maths import core  # noqa: E402
from disca_edge.maths.methods import compute_methods, method_suite  # noqa: E402
from disca_edge.models.open import open_engine, resolve_model  # noqa: E402
from disca_edge.pipeline import Dilemma, evaluate_panel, panel_system_prompts  # noqa: E402

__all__ = ["main"]

FULL_COUNTRIES, FULL_POOL = 20, 310


def _work(countries, limit):
    pool = disca_pool()[:limit]
    for iso in countries:
        systems = panel_system_prompts(load_panel(iso).texts())
        dilemmas = [Dilemma.from_vignette(v) for v in pool]
        yield iso, systems, pool, dilemmas


def run_shared(engine, countries, limit, chunk):
    """The evaluation loop.

    Returns:
        (seconds, logits by (country, position), engine stats, per-chunk timings as
        (first chunk of its country, scenarios, seconds)).
    """
    suite = method_suite("paper")
    engine.clear()
    before = engine.stats.as_dict()
    out, chunks = {}, []
    t0 = time.perf_counter()
    for iso, systems, pool, dilemmas in _work(countries, limit):
        for start in range(0, len(dilemmas), chunk):
            part = dilemmas[start : start + chunk]
            vigs = pool[start : start + chunk]
            t_chunk = time.perf_counter()
            panel = evaluate_panel(engine, systems, part)
            compute_methods(
                panel.logits,
                panel.has_swap,
                [v.category for v in vigs],
                np.array([v.preferred_right for v in vigs]),
                core.draws(42, [v.vignette_index for v in vigs], 64),
                suite,
            )
            chunks.append((start == 0, len(part), time.perf_counter() - t_chunk))
            for k in range(len(part)):
                out[(iso, start + k)] = panel.logits[k]
    seconds = time.perf_counter() - t0
    after = engine.stats.as_dict()
    return seconds, out, {k: after[k] - before.get(k, 0) for k in after}, chunks


def estimate_full(chunks, chunk):
    """Seconds for 20 countries x 310 scenarios from first-chunk and warm-chunk timings."""
    first = [(n, t) for is_first, n, t in chunks if is_first]
    warm = [(n, t) for is_first, n, t in chunks if not is_first]
    if not warm:  # nothing warm measured: scale the overall rate
        n, t = sum(n for n, _ in first), sum(t for _, t in first)
        return FULL_COUNTRIES * FULL_POOL * t / n, None
    per_warm = sum(t for _, t in warm) / sum(n for n, _ in warm)
    per_first = sum(t for _, t in first) / len(first)  # prefixes + one chunk
    prefix = max(0.0, per_first - chunk * per_warm)
    return FULL_COUNTRIES * (prefix + FULL_POOL * per_warm), (prefix, per_warm)


def run_isolated(engine, countries, limit, sample):
    """Every prompt of the (sampled) scenarios from an empty cache; returns (s, n, logits)."""
    todo = [
        (iso, pos, systems, d)
        for iso, systems, _, dilemmas in _work(countries, limit)
        for pos, d in enumerate(dilemmas)
    ]
    if sample and sample < len(todo):
        picks = np.linspace(0, len(todo) - 1, sample).round().astype(int)
        todo = [todo[i] for i in sorted(set(picks.tolist()))]
    out = {}
    t0 = time.perf_counter()
    for iso, pos, systems, d in todo:
        users = [d.user_orig] + ([d.user_swap] if d.user_swap else [])
        prompts = [ChatPrompt(s, u) for u in users for s in systems]
        res = engine.logits_ab_isolated(prompts)
        logits = np.stack([res.logit_a, res.logit_b], axis=1).reshape(len(users), len(systems), 2)
        out[(iso, pos)] = logits
    return time.perf_counter() - t0, len(todo), out


def run_layout(model, jobs, threads, countries, limit, chunk, lang):
    """Start ``jobs`` workers of ``threads`` threads and run every item once.

    Returns:
        (start seconds, run seconds, records by key, per-item (first of country, n, s)).
    """
    spec = WorkSpec(EngineOptions(model=model, n_threads=threads, prefix_cache=True), lang=lang)
    items = [
        WorkItem(iso, tuple(range(lo, min(lo + chunk, limit))))
        for iso in countries
        for lo in range(0, limit, chunk)
    ]
    executor = make_executor(spec, jobs=jobs)
    try:
        t0 = time.perf_counter()
        executor.start()
        t1 = time.perf_counter()
        records = {}
        for _, recs, _ in executor.run(items):
            for r in recs:
                records[(r["country"], r["scenario_id"])] = r
        t2 = time.perf_counter()
    finally:
        executor.close()
    return t1 - t0, t2 - t1, records


def layouts_main(args) -> int:
    """Compare worker layouts (jobs x threads) side by side; see the module docstring."""
    countries = parse_countries(args.countries)
    layouts = []
    for part in args.layouts.split(","):
        jobs, _, threads = part.strip().partition("x")
        layouts.append((int(jobs), int(threads)))
    machine = machine_info()
    n = len(countries) * args.limit
    print(
        f"MultiTP worker layouts: {args.model}, {len(countries)} countries x {args.limit} "
        f"scenarios = {n} scenarios, chunk {args.chunk}, --lang {args.lang}"
    )
    print(
        f"machine: {machine.get('cpu_model', '?')} | {machine['cpu_count']} CPUs | "
        f"load(1m) {machine.get('loadavg_1m_before', '?')}"
    )
    model = str(resolve_model(args.model)[1])  # a path: each layout gets its own empty cache
    rows, reference = [], None
    for jobs, threads in layouts:
        with tempfile.TemporaryDirectory() as home:
            os.environ["DISCA_HOME"] = home  # no persona KV states saved by a previous layout
            start_s, run_s, records = run_layout(
                model, jobs, threads, countries, args.limit, args.chunk, args.lang
            )
        if reference is None:
            reference = records
        same = records == reference
        rate = n / run_s
        # ETA: start-up once, then the measured rate (persona prefixes amortised over
        # --limit scenarios per country, so this errs on the slow side)
        eta = start_s + FULL_COUNTRIES * FULL_POOL / rate
        load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        rows.append(
            {
                "jobs": jobs,
                "threads": threads,
                "start_s": round(start_s, 2),
                "run_s": round(run_s, 2),
                "per_s": round(rate, 4),
                "identical_records": same,
                "eta_full_h": round(eta / 3600, 2),
                "load_1m_after": load,
            }
        )
        print(
            f"  {jobs} job(s) x {threads} thread(s): start {start_s:6.1f} s, "
            f"{run_s:7.1f} s for {n} scenarios = {rate:6.3f} scen/s "
            f"(x{rate / (n / rows[0]['run_s']):.2f} vs first), full {FULL_COUNTRIES} x "
            f"{FULL_POOL} ETA {eta / 3600:.1f} h, records identical: {same}, load {load}"
        )
    best = max(rows, key=lambda r: r["per_s"])
    print(f"  best layout: {best['jobs']} x {best['threads']}, full-run ETA {best['eta_full_h']} h")
    record = {
        "benchmark": "eval.layouts",
        "model": args.model,
        "countries": len(countries),
        "limit": args.limit,
        "chunk": args.chunk,
        "lang": args.lang,
        "layouts": rows,
        "best": {"jobs": best["jobs"], "threads": best["threads"]},
        "machine": machine,
    }
    print(json.dumps(record, sort_keys=True))
    return 0 if all(r["identical_records"] for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--countries", default="paper20")
    parser.add_argument("--limit", type=int, default=2, help="pool scenarios per country")
    parser.add_argument("--chunk", type=int, default=1, help="scenarios per engine call")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--n-ctx", type=int, default=None)
    parser.add_argument(
        "--isolated-sample",
        type=int,
        default=4,
        help="time the isolated path on K evenly spread scenarios (0: all; default 4)",
    )
    parser.add_argument(
        "--layouts", help="compare worker layouts JOBSxTHREADS,... (e.g. 1x2,2x1) instead"
    )
    parser.add_argument(
        "--lang",
        choices=("native", "en"),
        default="native",
        help="prompt language of the --layouts workers (default native, as eval multitp)",
    )
    args = parser.parse_args(argv)
    if args.layouts:
        return layouts_main(args)
    countries = parse_countries(args.countries)
    machine = machine_info()
    options = EngineOptions(model=args.model, n_threads=args.threads, n_ctx=args.n_ctx)
    engine, info = open_engine(options)
    n = len(countries) * args.limit
    print(
        f"MultiTP evaluation benchmark: {info.name}, {len(countries)} countries x "
        f"{args.limit} scenarios = {n} scenarios (10 prompts each), "
        f"{info.settings['n_threads']} threads, n_ctx {info.settings['n_ctx']}"
    )
    print(
        f"machine: {machine.get('cpu_model', '?')} | {machine['cpu_count']} CPUs | "
        f"load(1m) {machine.get('loadavg_1m_before', '?')}"
    )
    shared_s, shared_logits, stats, chunks = run_shared(engine, countries, args.limit, args.chunk)
    shared_rate = n / shared_s
    print(
        f"  shared-prefix engine  {shared_s:8.1f} s  {shared_rate:7.3f} scen/s  "
        f"({stats['tokens_evaluated']:,} of {stats['prompt_tokens']:,} prompt tokens decoded)"
    )
    iso_s, iso_n, iso_logits = run_isolated(engine, countries, args.limit, args.isolated_sample)
    iso_rate = iso_n / iso_s
    print(f"  isolated prompts      {iso_s:8.1f} s  {iso_rate:7.3f} scen/s  ({iso_n} scenarios)")
    diff = max(
        float(np.max(np.abs(shared_logits[key][: v.shape[0]] - v))) for key, v in iso_logits.items()
    )
    ratio = shared_rate / iso_rate
    full = FULL_COUNTRIES * FULL_POOL
    est_shared, parts = estimate_full(chunks, args.chunk)
    est_iso = full / iso_rate
    print(f"  speed-up shared / isolated: {ratio:.2f}x; max |logit difference| {diff:.3g}")
    if parts:
        print(
            f"  shared, split: {parts[0]:.1f} s persona prefixes per country, "
            f"{parts[1]:.2f} s per scenario once warm ({1 / parts[1]:.3f} scen/s)"
        )
    print(
        f"  estimated full run ({FULL_COUNTRIES} x {FULL_POOL} = {full:,} scenarios) on this "
        f"machine: shared {est_shared / 3600:.1f} h, isolated {est_iso / 3600:.1f} h"
    )
    if hasattr(os, "getloadavg"):
        machine["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    engine.close()
    record = {
        "benchmark": "eval.multitp",
        "model": info.name,
        "model_sha256": info.sha256,
        "settings": info.settings,
        "countries": len(countries),
        "limit": args.limit,
        "chunk": args.chunk,
        "shared": {"seconds": round(shared_s, 3), "scenarios": n, "per_s": round(shared_rate, 4)},
        "isolated": {"seconds": round(iso_s, 3), "scenarios": iso_n, "per_s": round(iso_rate, 4)},
        "ratio": round(ratio, 3),
        "max_abs_logit_diff": diff,
        "engine_stats": stats,
        "estimate_full_run_s": {"shared": round(est_shared), "isolated": round(est_iso)},
        "shared_split_s": None
        if parts is None
        else {"prefixes_per_country": round(parts[0], 3), "per_warm_scenario": round(parts[1], 4)},
        "machine": machine,
    }
    print(json.dumps(record, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
