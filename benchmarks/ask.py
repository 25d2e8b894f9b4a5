"""Latency of `disca ask` on SmolLM2-135M: cold process, warm second ask, 20 dilemmas via --input.

Run: ``python benchmarks/ask.py`` (``--help`` for options). Measured side by side in one
run, on the model in the real cache (pulled on first use):

* **cold**: ``disca ask --country JP --json "a boy" "two elderly women"`` in a fresh
  process, from process start to exit (import, model load, the five system prompts, the
  10 evaluations); median of ``--repeats``.
* **in-process**: one process loads the model (``load``), answers a first dilemma
  (``first ask``: the five system prompts are evaluated and pinned) and then other
  dilemmas (``warm ask``: only the user turns are decoded); median of the warm asks.
* **--input**: 20 pool dilemmas in one ``disca ask --input FILE`` process, start to exit.

Prints a table and one final JSON line with every figure (seconds) and ratio.

Hook for the persona-prefix KV cache (spec §10 reuse across processes): a ``cold
(cached prefixes)`` row belongs next to ``cold``: run ``cold`` once to fill the on-disk
cache, then time the same command again. Add it as another entry of `_CASES`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from disca_edge import __version__
from disca_edge.ask.inputs import make_input
from disca_edge.ask.run import answer
from disca_edge.content import scenarios  # noqa: E402
from disca_edge.content.personas import load_panel  # noqa: E402
from disca_edge.engine import EngineOptions, llama_cpp_version  # noqa: E402
from disca_edge.maths.core import DiscaParams  # noqa: E402
from disca_edge.models.open import open_engine, resolve_model

__all__ = ["main"]

COUNTRY = "JP"
QUESTION = ["--category", "age", "a boy", "two elderly women"]
_CLI = "from disca_edge.cli import main; main()"


def _pool_lines(n: int) -> list[dict]:
    """n trolley dilemmas from the DISCA pool, as --input lines."""
    lines = []
    for v in scenarios.disca_pool()[:n]:
        lines.append(
            {
                "left": scenarios.disca_group_text(v.first_role, v.first_count),
                "right": scenarios.disca_group_text(v.second_role, v.second_count),
                "category": v.category,
            }
        )
    return lines


def _disca(args: argparse.Namespace, *cli_args: str, stdin: str | None = None) -> float:
    """Seconds for one `disca` process, start to exit; raises if it fails."""
    # English prompts, as the in-process figures (`ask.run.answer`'s default) and as measured
    # before `disca ask` defaulted to --lang native
    command = [sys.executable, "-c", _CLI, *cli_args, "--lang", "en", "--model", args.model]
    if args.threads:
        command += ["--threads", str(args.threads)]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, input=stdin, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return elapsed


def cold(args: argparse.Namespace) -> dict:
    """A fresh `disca ask --json` process per repeat, persona prefixes computed from scratch."""
    times = [
        _disca(args, "ask", "-c", COUNTRY, "--json", "--no-prefix-cache", *QUESTION)
        for _ in range(args.repeats)
    ]
    return {"cold_s": statistics.median(times), "cold_best_s": min(times), "cold_runs": times}


def cold_cached(args: argparse.Namespace) -> dict:
    """Fresh processes that load the persona-prefix KV states saved by an earlier run."""
    _disca(args, "ask", "-c", COUNTRY, "--json", *QUESTION)  # populate the state cache
    times = [_disca(args, "ask", "-c", COUNTRY, "--json", *QUESTION) for _ in range(args.repeats)]
    return {"cold_cached_s": statistics.median(times), "cold_cached_runs": times}


def in_process(args: argparse.Namespace) -> dict:
    """Model load, first ask and warm asks in this process."""
    t0 = time.perf_counter()
    engine, info = open_engine(EngineOptions(model=args.model, n_threads=args.threads))
    load = time.perf_counter() - t0
    panel = load_panel(COUNTRY)
    params = DiscaParams("paper")
    lines = _pool_lines(args.warm + 1)
    items = [make_input(x["left"], x["right"], category=x["category"]) for x in lines]
    times = []
    with engine:
        for item in items:
            t0 = time.perf_counter()
            answer(engine, info, panel, item, params, seed=42)
            times.append(time.perf_counter() - t0)
        stats = engine.stats.as_dict()
    return {
        "load_s": load,
        "first_ask_s": times[0],
        "warm_ask_s": statistics.median(times[1:]),
        "warm_runs": times[1:],
        "engine_stats": stats,
    }


def input_file(args: argparse.Namespace) -> dict:
    """`disca ask --input` on n pool dilemmas, one process."""
    lines = _pool_lines(args.dilemmas)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dilemmas.jsonl"
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
        total = _disca(args, "ask", "-c", COUNTRY, "--input", str(path))
    return {"input_n": len(lines), "input_s": total, "input_per_dilemma_s": total / len(lines)}


_CASES = [cold, cold_cached, in_process, input_file]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table and a JSON line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m", help="registry name or .gguf path")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="cold processes (default 3)")
    parser.add_argument("--warm", type=int, default=3, help="warm asks after the first (3)")
    parser.add_argument("--dilemmas", type=int, default=20, help="--input lines (default 20)")
    args = parser.parse_args(argv)
    resolve_model(args.model)  # pull before timing anything
    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None

    figures: dict = {}
    for case in _CASES:
        figures.update(case(args))
    figures["warm_over_cold"] = figures["warm_ask_s"] / figures["cold_s"]
    figures["cold_over_cached"] = figures["cold_s"] / figures["cold_cached_s"]
    figures["input_per_dilemma_over_cold"] = figures["input_per_dilemma_s"] / figures["cold_s"]
    figures["input_per_dilemma_over_warm"] = figures["input_per_dilemma_s"] / figures["warm_ask_s"]

    rows = [
        ("cold ask (process start to exit)", figures["cold_s"], 1.0),
        ("cold ask, cached persona prefixes", figures["cold_cached_s"], figures["cold_cached_s"] / figures["cold_s"]),
        ("  model load (in process)", figures["load_s"], figures["load_s"] / figures["cold_s"]),
        ("  first ask (in process)", figures["first_ask_s"], None),
        ("warm second ask (same process)", figures["warm_ask_s"], figures["warm_over_cold"]),
        (f"--input, {figures['input_n']} dilemmas (total)", figures["input_s"], None),
        ("--input, per dilemma", figures["input_per_dilemma_s"], figures["input_per_dilemma_over_cold"]),
    ]  # fmt: skip
    print(f"disca ask latency: {args.model}, country {COUNTRY}, threads {args.threads or 'all'}")
    print(f"{'case':<40}{'seconds':>10}{'x cold':>10}")
    for name, seconds, ratio in rows:
        print(f"{name:<40}{seconds:>10.2f}{'' if ratio is None else f'{ratio:.2f}':>10}")
    machine = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "disca_edge": __version__,
        "llama_cpp_python": llama_cpp_version(),
    }
    if hasattr(os, "getloadavg"):  # other processes on the cores skew every figure
        machine["loadavg_1m_before"] = load_before
        machine["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps({"benchmark": "ask", "model": args.model, **figures, "machine": machine}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
