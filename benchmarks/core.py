"""Throughput of the DISCA core (`disca_edge.maths.core.correct`) on one CPU core.

Run: ``python benchmarks/core.py`` (``--help`` for sizes). Prints scenarios/s for
both variants (best and median of the repeats, after a warm-up), the machine, and
one final JSON line for records. Goal: >= 200,000 scenarios/s at S = 100,000,
N = 4, K_half = 64.
"""

from __future__ import annotations

import os

# one thread for any BLAS/OpenMP pool, set before NumPy is imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from disca_edge.maths.core import DiscaParams, correct, draws  # noqa: E402

__all__ = ["main"]


def _inputs(n_s: int, n_p: int, k_half: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 1.0, n_s)
    personas = base[:, None] + rng.normal(0.0, 0.5, (n_s, n_p))
    z = rng.standard_normal((n_s, 2, k_half))
    return base, personas, z


def _time(fn, repeats: int) -> list[float]:
    fn()  # warm-up: page faults, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=100_000, help="S (default 100000)")
    parser.add_argument("--personas", type=int, default=4, help="N (default 4)")
    parser.add_argument("--k-half", type=int, default=64, help="K_half (default 64)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    parser.add_argument("--pin", type=int, default=None, help="pin the process to this CPU")
    args = parser.parse_args(argv)
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})

    machine = machine_info()
    n_s = args.scenarios
    base, personas, z = _inputs(n_s, args.personas, args.k_half)
    print(f"DISCA core benchmark: S={n_s:,} N={args.personas} K_half={args.k_half}, one thread")
    print(
        f"machine: {machine.get('cpu_model', machine['processor'])} | {machine['uname']} | "
        f"{machine['cpu_count']} CPUs | numpy {machine['numpy']} | "
        f"load(1m) {machine.get('loadavg_1m_before', '?')}"
    )
    cases = {
        "paper": DiscaParams("paper"),
        "reference": DiscaParams("reference"),
        "paper+floor0.5": DiscaParams("paper", utility_floor=0.5),
    }
    results = {}
    for name, prm in cases.items():
        times = _time(lambda prm=prm: correct(base, personas, z, prm), args.repeats)
        best, median = min(times), statistics.median(times)
        results[name] = {
            "best_s": round(best, 4),
            "median_s": round(median, 4),
            "scenarios_per_s_best": round(n_s / best),
            "scenarios_per_s_median": round(n_s / median),
        }
        print(
            f"  {name:<16} best {best:.3f} s = {n_s / best:>9,.0f} scen/s   "
            f"median {median:.3f} s = {n_s / median:>9,.0f} scen/s"
        )
    n_draw = 10_000
    times = _time(lambda: draws(42, range(n_draw), args.k_half), max(1, args.repeats // 2))
    results["draws"] = {"indices": n_draw, "rows_per_s_best": round(n_draw / min(times))}
    print(f"  draws(42, range({n_draw:,}))  {n_draw / min(times):>9,.0f} rows/s (per-index PRNG)")
    if hasattr(os, "getloadavg"):
        machine["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    goal = 200_000
    ok = results["paper"]["scenarios_per_s_best"] >= goal
    print(f"goal >= {goal:,} scen/s (paper, best): {'met' if ok else 'NOT met'}")
    record = {
        "benchmark": "core.correct",
        "scenarios": n_s,
        "personas": args.personas,
        "k_half": args.k_half,
        "repeats": args.repeats,
        "threads": 1,
        "results": results,
        "machine": machine,
    }
    print(json.dumps(record, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
