"""Scenario bootstrap of MIS (`disca_edge.maths.bootstrap`) at paper20 size, one thread.

Run: ``python benchmarks/bootstrap.py`` (``--help`` for sizes). For 20 countries x 310
scenarios x M methods it draws B stratified resamples per country, scores every method
on them, and takes the per-method intervals and the paired differences against vanilla,
as `results.json` stores them. It times the vectorised path against a per-resample loop
on the same draws, side by side, checks they agree, and prints one JSON line.
Goal: paper20 x 1,000 resamples in under a second.

Then it times the whole of `scoring.score_run` on synthetic records of the same size
(the paper variant's 8 methods, random gaps), with B resamples and with one: the
difference is what the intervals add to scoring a run (and to every rescoring).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import pandas as pd  # noqa: E402
from _machine import machine_info  # noqa: E402

from disca_edge.content.personas import PAPER20, load_panel  # noqa: E402
from disca_edge.content.scenarios import disca_pool  # noqa: E402
from disca_edge.evals.loop import EvalConfig, build_header  # noqa: E402
from disca_edge.evals.scoring import score_run  # noqa: E402
from disca_edge.maths import bootstrap, categories  # noqa: E402
from disca_edge.maths.methods import method_suite  # noqa: E402


def _country_inputs(n_countries, n_scenarios, n_methods, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_countries):
        dims = rng.integers(0, 6, size=n_scenarios)
        p = rng.uniform(size=(n_methods, n_scenarios))
        human = rng.uniform(0.4, 0.9, size=6)
        out.append((p, dims, human))
    return out


def _vectorised(inputs, n_resamples, seed):
    res = []
    for c, (p, dims, human) in enumerate(inputs):
        rng = np.random.default_rng([seed, c])
        vectors = bootstrap.resampled_vectors(p, dims, n_resamples=n_resamples, rng=rng)
        mis = bootstrap.resampled_mis(vectors, human)
        res.append(
            (bootstrap.percentile_interval(mis), bootstrap.percentile_interval(mis[1:] - mis[0]))
        )
    return res


def _loop(inputs, n_resamples, seed):
    res = []
    for c, (p, dims, human) in enumerate(inputs):
        rng = np.random.default_rng([seed, c])
        vectors = np.full((p.shape[0], n_resamples, 6), np.nan)
        for d in range(6):
            members = np.flatnonzero(dims == d)
            if members.size == 0:
                continue
            picks = rng.integers(0, members.size, size=(n_resamples, members.size))
            for b in range(n_resamples):
                vectors[:, b, d] = p[:, members[picks[b]]].mean(axis=1)
        mis = np.sqrt(np.nansum((vectors - human) ** 2, axis=-1))
        res.append(
            (bootstrap.percentile_interval(mis), bootstrap.percentile_interval(mis[1:] - mis[0]))
        )
    return res


def _run_inputs(n_scenarios: int, seed: int = 0):
    """A paper20 run's header, records (random gaps through every method) and targets."""
    countries = PAPER20
    suite = method_suite("paper")
    pool = disca_pool()[:n_scenarios]
    cfg = EvalConfig(out=None, countries=tuple(countries), limit=n_scenarios)
    model = {"name": "synthetic", "sha256": "0" * 64, "settings": {}}
    panels = {iso: load_panel(iso) for iso in countries}
    header = build_header(cfg, model, suite, panels, len(disca_pool()))
    rng = np.random.default_rng(seed)
    records = []
    for iso in countries:
        for position, v in enumerate(pool):
            gaps = {
                name: float(g) for name, g in zip(suite, rng.normal(0, 1, len(suite)), strict=True)
            }
            records.append({
                "country": iso, "scenario_id": v.scenario_id, "pool_position": position,
                "category": v.category, "preferred_right": bool(v.preferred_right),
                "unordered_key": v.unordered_key, "delta_micro": gaps,
                "delta_bar": {n: gaps[n] for n, m in suite.items() if m.kind == "disca"},
                "diagnostics": {"disca_paper": {"sigma": float(rng.uniform(0.3, 0.6))}},
            })  # fmt: skip
    targets = pd.DataFrame(rng.uniform(0.4, 0.9, size=(len(countries), 6)),
                           index=list(countries), columns=list(categories.DIMENSIONS))  # fmt: skip
    return header, records, targets


def _time_score_run(n_scenarios: int, n_resamples: int, repeats: int) -> dict:
    """Best wall time of `score_run` with B resamples and with 1 (no intervals to speak of)."""
    header, records, targets = _run_inputs(n_scenarios)
    times = {}
    for b in (n_resamples, 1):
        score_run(header, records, targets=targets, n_resamples=b)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            score_run(header, records, targets=targets, n_resamples=b)
            best = min(best, time.perf_counter() - t0)
        times[b] = best
    return {"records": len(records), "with_intervals_s": times[n_resamples],
            "one_resample_s": times[1]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--countries", type=int, default=20)
    parser.add_argument("--scenarios", type=int, default=310)
    parser.add_argument("--methods", type=int, default=10, help="methods scored per country")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    machine = machine_info()
    inputs = _country_inputs(args.countries, args.scenarios, args.methods)
    print(
        f"bootstrap benchmark: {args.countries} countries x {args.scenarios} scenarios x "
        f"{args.methods} methods x {args.resamples} resamples, one thread"
    )
    _vectorised(inputs, args.resamples, 42)  # warm-up
    fast = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        got = _vectorised(inputs, args.resamples, 42)
        fast.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    want = _loop(inputs, args.resamples, 42)
    slow = time.perf_counter() - t0
    agree = all(
        np.allclose(a[0], b[0], rtol=1e-12) and np.allclose(a[1], b[1], rtol=1e-12)
        for a, b in zip(got, want, strict=True)
    )
    best = min(fast)
    print(f"  vectorised  best {best:.3f} s  (median {sorted(fast)[len(fast) // 2]:.3f} s)")
    print(f"  loop        {slow:.3f} s   ratio loop/vectorised {slow / best:.1f}x   agree: {agree}")
    ok = best < 1.0
    print(f"goal: under 1 s at paper20 x 1,000 resamples: {'met' if ok else 'NOT met'}")
    scoring = _time_score_run(args.scenarios, args.resamples, max(1, args.repeats // 2))
    added = scoring["with_intervals_s"] - scoring["one_resample_s"]
    print(
        f"  score_run on {scoring['records']:,} records: {scoring['with_intervals_s']:.2f} s "
        f"with {args.resamples} resamples, {scoring['one_resample_s']:.2f} s with one "
        f"(the intervals add {added:.2f} s)"
    )
    record = {
        "benchmark": "bootstrap",
        "countries": args.countries,
        "scenarios": args.scenarios,
        "methods": args.methods,
        "resamples": args.resamples,
        "vectorised_best_s": round(best, 4),
        "loop_s": round(slow, 4),
        "ratio": round(slow / best, 2),
        "agree": agree,
        "score_run_s": round(scoring["with_intervals_s"], 4),
        "score_run_one_resample_s": round(scoring["one_resample_s"], 4),
        "machine": machine,
    }
    print(json.dumps(record, sort_keys=True))
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
