"""Time of one `disca ask` against the dilemma's length, on SmolLM2-135M (issue 10).

Run: ``python benchmarks/ask_length.py`` (``--help`` for options). For each thread count
one process loads the model, answers a short dilemma first (so the five system prompts
are evaluated and pinned, as in a warm ask) and then times one ask per target length:
a custom dilemma whose user turn (frame included) is about 100, 200, 420 and 850 tokens.
The prefix cache is off. Prints a table (seconds, and the ratio to the previous length)
and one final JSON line with every figure and the machine (load average included:
other processes on the machine slow every figure).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _machine import machine_info  # noqa: E402

from disca_edge import pipeline  # noqa: E402
from disca_edge.ask import run as ask
from disca_edge.ask.inputs import AskInput, make_input
from disca_edge.content.personas import load_panel  # noqa: E402
from disca_edge.engine import EngineOptions
from disca_edge.maths.core import DiscaParams  # noqa: E402
from disca_edge.models.open import open_engine

__all__ = ["main"]

_SENTENCE = (
    "The tram carries workers home along the river while the evening market closes, "
    "and the driver sees the signal fail just before the junction. "
)


def _dilemma_of(engine, run, target: int) -> tuple[AskInput, int]:
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


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--lengths", default="100,200,420,850", help="target user-turn tokens")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    targets = [int(n) for n in args.lengths.split(",")]
    panel = load_panel("JP")
    params = DiscaParams("paper")
    rows: dict[int, list] = {}
    for n_threads in threads:
        engine, info = open_engine(EngineOptions(model=args.model, n_threads=n_threads))
        with engine:
            run = ask._Run(engine, info, panel, params, 42)
            run.systems = pipeline.panel_system_prompts(panel.texts())
            warm = make_input("a boy", "two elderly women")
            ask.answer(engine, info, panel, warm, params)
            for target in targets:
                item, n_tokens = _dilemma_of(engine, run, target)
                t0 = time.perf_counter()
                ask.answer(engine, info, panel, item, params)
                seconds = time.perf_counter() - t0
                rows.setdefault(target, []).append((n_tokens, seconds))
                print(f"threads={n_threads} tokens={n_tokens} {seconds:.1f} s", flush=True)
    print(f"\n{'user turn':>10} | " + " | ".join(f"{t} thread(s)  ratio" for t in threads))
    previous = None
    for target in targets:
        cells = []
        for k, (_n, seconds) in enumerate(rows[target]):
            ratio = "" if previous is None else f"x{seconds / previous[k][1]:.1f}"
            cells.append(f"{seconds:9.1f} s {ratio:>6}")
        print(f"{rows[target][0][0]:>10} | " + " | ".join(cells))
        previous = rows[target]
    record = {
        "benchmark": "ask_length",
        "model": args.model,
        "threads": threads,
        "rows": [
            {
                "tokens": rows[t][0][0],
                "seconds": {str(n): rows[t][k][1] for k, n in enumerate(threads)},
            }
            for t in targets
        ],
        "machine": machine_info(),
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
