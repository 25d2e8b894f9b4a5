"""Time of `disca eval rescore` at the size of the full paper20 run (20 countries x 310).

    python benchmarks/rescore.py RUN [--seeds 42,101,2026]

RUN is a real run folder (any size, e.g. a ``--limit 2`` run). Its records are tiled
into a temporary folder of the full run's size: every one of the 20 paper countries x
310 pool positions gets the logits of a real record of the same position modulo the
run's size, with the position's own vignette (so categories, swaps and IS draws are the
full run's). The logits are therefore real model outputs but repeated: the timing is
representative, the MIS figures are meaningless and are not printed. Then it times
`rescore.rescore_run` (no model) once per seed and prints seconds and records/s, side
by side with the source run's own rescoring, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from disca_edge.content.human_targets import load_human_targets  # noqa: E402
from disca_edge.content.personas import PAPER20  # noqa: E402
from disca_edge.content.variants import pool, record_ids  # noqa: E402
from disca_edge.evals import runlog  # noqa: E402
from disca_edge.evals.rescore import parse_seeds, rescore_run  # noqa: E402

__all__ = ["main"]


def tile(source: Path, out: Path) -> int:
    """Write a paper20 x 310 run folder built from ``source``'s records; returns records."""
    header = runlog.read_header(source)
    records = runlog.read_samples(source)
    vignettes = pool(int(header["config"]["data_seed"]))
    ids = record_ids(vignettes)
    tiled = []
    for iso in PAPER20:
        for position, vignette in enumerate(vignettes):
            real = records[position % len(records)]
            tiled.append(
                {
                    **real,
                    "country": iso,
                    "scenario_id": ids[position],
                    "vignette_index": vignette.vignette_index,
                    "pool_position": position,
                    "category": vignette.category,
                    "preferred_right": bool(vignette.preferred_right),
                    "unordered_key": vignette.unordered_key,
                }
            )
    new = {k: v for k, v in header.items() if k not in ("format", "fingerprint", "invocations")}
    new["scope"] = {"countries": list(PAPER20), "limit": None, "shard": None}
    new["config"] = {**header["config"], "pool_size": len(vignettes)}
    with runlog.RunLog.open(out, new, invocation={"benchmark": "tiled"}) as run:
        run.append(tiled)
        run.finish("success")
    return len(tiled)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--seeds", default="42,101,2026")
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds) or [42]
    machine = machine_info()
    targets = load_human_targets()
    with tempfile.TemporaryDirectory() as tmp:
        small = len(runlog.read_samples(args.run))
        t0 = time.perf_counter()
        rescore_run(args.run, Path(tmp) / "small", targets=targets)
        small_s = time.perf_counter() - t0
        n = tile(args.run, Path(tmp) / "full")
        times = []
        for seed in seeds:
            t0 = time.perf_counter()
            rescore_run(Path(tmp) / "full", Path(tmp) / f"seed{seed}", seed=seed, targets=targets)
            times.append(time.perf_counter() - t0)
    print(
        f"rescore benchmark: load(1m) {machine.get('loadavg_1m_before')}, {machine['cpu_count']} CPUs"
    )
    print(f"  source run        {small:6d} records  {small_s:7.2f} s")
    for seed, seconds in zip(seeds, times, strict=True):
        print(f"  paper20 x 310     {n:6d} records  {seconds:7.2f} s  seed {seed}  "
              f"({n / seconds:,.0f} records/s)")  # fmt: skip
    record = {
        "benchmark": "rescore",
        "source_records": small,
        "source_seconds": round(small_s, 3),
        "full_records": n,
        "full_seconds": [round(t, 3) for t in times],
        "seeds": seeds,
        "machine": machine,
    }
    print(json.dumps(record, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
