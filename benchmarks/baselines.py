"""Cost of each Table-1 baseline per scenario, relative to DISCA's 10 prompts, in one run.

    python benchmarks/baselines.py [--model smollm2-135m] [--countries USA,DEU] [--limit 4]
                                   [--threads N] [--lang native|en]

Loads the model once and, per country, sends the first ``--limit`` pool scenarios through
every part side by side, twice: a cold pass (system prefixes decoded) and a warm pass
(prefixes resident: the steady state of a long run, whose per-country prefixes amortise
over 310 scenarios). The parts:

  disca            the panel's 10 prompts per scenario (`pipeline.evaluate_panel`);
  <label>          each per-scenario prompt baseline (B1, B2, B3 short and long, B4,
                   wvs_prompt:paper; prism:suffix as a raw string): 1 prompt per scenario;
  persona_count    the two persona-count anchors in both orders: 4 prompts per scenario;
  static_bias:*    the country's corpus prompts: per country, amortised here over the
                   310-scenario pool;
  steer:*          the steered vanilla prompt, 1 full decode per scenario in the hooked
                   context (no shared prefix); the country's pair captures (10 or 40
                   short decodes) are the cold pass's one-off cost;
  mc_dropout:emulated  8 full masked decodes per scenario (refused, and left out, where
                   the model's graph has no attn_out/ffn_out tensors);
  stored           every baseline and sweep scored from stored logits (oracles, DiffPO,
                   static-bias application, T_cat and persona-count sweeps): `score_run`
                   with and without baselines on the records tiled to 310 per country;
                   no tokens, NumPy time only.

Prints, per part, prompts, tokens decoded and seconds per scenario (warm pass), each as a
multiple of DISCA's, and the cold pass's extra one-off cost per country; then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from disca_edge.content import baselines as texts  # noqa: E402
from disca_edge.content.personas import load_panel, parse_countries  # noqa: E402
from disca_edge.content.variants import pool, record_ids  # noqa: E402
from disca_edge.engine import ChatPrompt, EngineOptions  # noqa: E402
from disca_edge.evals.baselines import BaselineRunner, select  # noqa: E402
from disca_edge.evals.loop import EvalConfig, build_header  # noqa: E402
from disca_edge.evals.model_calls import DROPOUT_PASSES, ModelCalls  # noqa: E402
from disca_edge.evals.scoring import score_run  # noqa: E402
from disca_edge.evals.worker import record_chunk  # noqa: E402
from disca_edge.maths import categories, core  # noqa: E402
from disca_edge.maths.methods import compute_methods, method_suite  # noqa: E402
from disca_edge.models.open import open_engine  # noqa: E402
from disca_edge.pipeline import context_demand, evaluate_panel, panel_prompts  # noqa: E402

__all__ = ["main"]

FULL_POOL = 310
LABELS = select("all")
CHAT = [b for b in LABELS if texts.BASELINES[b].kind == "prompt"]
CORPORA = [b for b in LABELS if texts.BASELINES[b].kind == "corpus"]
HOOKED = [b for b in LABELS if texts.BASELINES[b].kind == "hook"]


def _parts(
    engine: Any, runner: BaselineRunner, calls: ModelCalls, prompts: Any, dilemmas: list
) -> dict:
    """Part name -> (prompts per scenario, the call that evaluates the chunk's prompts)."""
    country = runner.country(prompts)
    users = [d.user_orig for d in dilemmas]
    parts: dict[str, tuple[float, Callable[[], Any]]] = {
        "disca": (10, lambda: evaluate_panel(engine, prompts.systems, dilemmas)),
    }
    for label in CHAT:
        chats = [ChatPrompt(*country.turn(label, u)) for u in users]
        parts[label] = (1, lambda chats=chats: engine.logits_ab(chats))
    suffix = engine.chat.generation_suffix()
    raw = [country.raw_user("prism:suffix", u) + suffix for u in users]
    parts["prism:suffix"] = (1, lambda: engine.logits_ab_raw(raw))
    anchors = [ChatPrompt(a, u) for d in dilemmas for u in (d.user_orig, d.user_swap or d.user_orig)
               for a in country.anchors]  # fmt: skip
    parts["persona_count"] = (4, lambda: engine.logits_ab(anchors))
    for label in CORPORA:
        chats = [ChatPrompt(country.base_system, prompts.frame.user_turn(s))
                 for s in country.corpora[label]]  # fmt: skip
        per = len(chats) / FULL_POOL
        parts[label] = (per, lambda chats=chats: engine.logits_ab(chats))
    for label in HOOKED:
        if calls.refusal(engine, label) is None:
            per = DROPOUT_PASSES if label.startswith("mc_dropout") else 1
            parts[label] = (per, lambda label=label: calls.logits(engine, label, country,
                                                                  dilemmas))  # fmt: skip
    return parts


def _tokens(engine: Any) -> int:
    """Tokens decoded so far, by the engine and by its hooked context."""
    return engine.stats.tokens_evaluated + engine.hooks.tokens_evaluated


def _timed(engine: Any, call: Callable[[], Any]) -> tuple[Any, int, float]:
    before = _tokens(engine)
    t0 = time.perf_counter()
    out = call()
    return out, _tokens(engine) - before, time.perf_counter() - t0


def _records(iso: str, vignettes: list, outs: dict, prompts: Any) -> list[dict]:
    """The chunk's run records with its baseline logits, as a run with --baselines all."""
    suite = method_suite("paper")
    panel = outs["disca"]
    items = list(enumerate(vignettes))
    outputs = compute_methods(panel.logits, panel.has_swap, [v.category for v in vignettes],
                              np.array([v.preferred_right for v in vignettes]),
                              core.draws(42, [v.vignette_index for v in vignettes], 64), suite)  # fmt: skip
    records = record_chunk(iso, items, panel, outputs, suite, prompts.rendering.to_dict())
    for s, record in enumerate(records):
        record["baseline_logits"] = {
            b: [float(outs[b].logit_a[s]), float(outs[b].logit_b[s])]
            for b in [*CHAT, "prism:suffix"]
        }
        pairs = np.stack([outs["persona_count"].logit_a, outs["persona_count"].logit_b], -1)
        record["anchor_logits"] = pairs.reshape(len(vignettes), 2, 2, 2)[s].tolist()
        record["baseline_corpus_logits"] = {
            b: np.stack([outs[b].logit_a, outs[b].logit_b], -1).tolist() for b in CORPORA
        }
        record["baseline_logits"].update({b: outs[b][s].tolist() for b in HOOKED if b in outs})
    return records


def _tiled(records: list[dict], vignettes: list) -> list[dict]:
    """Each country's records repeated over the 310 pool positions (their own vignettes)."""
    ids = record_ids(vignettes)
    by_country: dict[str, list[dict]] = {}
    for r in records:
        by_country.setdefault(r["country"], []).append(r)
    out = []
    for recs in by_country.values():
        for p, v in enumerate(vignettes):
            out.append({**recs[p % len(recs)], "scenario_id": ids[p], "pool_position": p,
                        "vignette_index": v.vignette_index, "category": v.category,
                        "preferred_right": bool(v.preferred_right)})  # fmt: skip
    return out


def _scoring_seconds(countries: tuple[str, ...], info: dict, records: list[dict]) -> tuple:
    """score_run seconds on 310 records a country, without and with every baseline."""
    vignettes = pool()
    suite = method_suite("paper")
    panels = {iso: load_panel(iso) for iso in countries}
    tiled = _tiled(records, vignettes)
    targets = pd.DataFrame(np.full((len(countries), 6), 0.6), index=list(countries),
                           columns=list(categories.DIMENSIONS))  # fmt: skip
    times = []
    for labels in ((), LABELS):
        cfg = EvalConfig(out=Path("."), countries=countries, baselines=tuple(labels))
        header = build_header(cfg, info, suite, panels, len(vignettes))
        t0 = time.perf_counter()
        score_run(header, tiled, targets=targets)
        times.append(time.perf_counter() - t0)
    return times[0], times[1], len(tiled)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--countries", default="USA,DEU")
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--lang", default="native", choices=("native", "en"))
    args = parser.parse_args(argv)
    machine = machine_info()
    countries = tuple(parse_countries(args.countries))
    vignettes = pool()[: args.limit]
    runner = BaselineRunner(LABELS)
    calls = ModelCalls(seed=42)
    prompts = {iso: panel_prompts(load_panel(iso), args.lang) for iso in countries}
    demand = runner.context_demand(context_demand(list(prompts.values()), vignettes),
                                   list(prompts.values()))  # fmt: skip
    engine, info = open_engine(EngineOptions(model=args.model, n_threads=args.threads), fit=demand)
    cost: dict[str, dict[str, float]] = {}
    records: list[dict] = []
    for iso in countries:
        dilemmas = [prompts[iso].vignette(v) for v in vignettes]
        parts = _parts(engine, runner, calls, prompts[iso], dilemmas)
        outs = {}
        for phase in ("cold", "warm"):
            for name, (per, call) in parts.items():
                outs[name], tokens, seconds = _timed(engine, call)
                entry = cost.setdefault(name, {"prompts": per})
                entry[f"{phase}_tokens"] = entry.get(f"{phase}_tokens", 0) + tokens
                entry[f"{phase}_seconds"] = entry.get(f"{phase}_seconds", 0.0) + seconds
        records += _records(iso, vignettes, outs, prompts[iso])
    engine.close()
    plain_s, full_s, n_tiled = _scoring_seconds(countries, info.as_dict(), records)
    _report(cost, countries, args, machine, (plain_s, full_s, n_tiled))
    return 0


def _report(cost: dict, countries: tuple, args: Any, machine: dict, scoring: tuple) -> None:
    n = len(countries) * args.limit
    disca = cost["disca"]
    rows = []
    for name, c in cost.items():
        amortised = name in CORPORA  # per country: spread over the pool
        scale = len(countries) * FULL_POOL if amortised else n
        tokens, seconds = c["warm_tokens"] / scale, c["warm_seconds"] / scale
        rows.append({
            "part": name, "prompts_per_scenario": round(c["prompts"], 4),
            "tokens_per_scenario": round(tokens, 2),
            "tokens_vs_disca": round(tokens / (disca["warm_tokens"] / n), 4),
            "seconds_per_scenario": round(seconds, 5),
            "seconds_vs_disca": round(seconds / (disca["warm_seconds"] / n), 4),
            "one_off_tokens_per_country": round((c["cold_tokens"] - c["warm_tokens"]) /
                                                len(countries), 1),
            "one_off_seconds_per_country": round((c["cold_seconds"] - c["warm_seconds"]) /
                                                 len(countries), 3),
        })  # fmt: skip
    plain_s, full_s, n_tiled = scoring
    stored = (full_s - plain_s) / n_tiled
    rows.append({"part": "stored (oracles, DiffPO, static-bias apply, sweeps)",
                 "prompts_per_scenario": 0, "tokens_per_scenario": 0, "tokens_vs_disca": 0,
                 "seconds_per_scenario": round(stored, 6),
                 "seconds_vs_disca": round(stored / (disca["warm_seconds"] / n), 5),
                 "one_off_tokens_per_country": 0, "one_off_seconds_per_country": 0})  # fmt: skip
    print(f"baseline cost: {args.model}, {', '.join(countries)} x {args.limit} scenarios, "
          f"--lang {args.lang}; load(1m) {machine.get('loadavg_1m_before')}, "
          f"{machine['cpu_count']} CPUs; warm pass per scenario (corpora: per country / 310)")  # fmt: skip
    print(f"  {'part':<52} {'prompts':>8} {'tokens':>8} {'×DISCA':>7} {'s':>8} {'×DISCA':>7} "
          f"{'one-off tok':>11} {'one-off s':>9}")  # fmt: skip
    for r in rows:
        print(f"  {r['part']:<52} {r['prompts_per_scenario']:>8.3g} {r['tokens_per_scenario']:>8.1f} "
              f"{r['tokens_vs_disca']:>7.3f} {r['seconds_per_scenario']:>8.4f} "
              f"{r['seconds_vs_disca']:>7.3f} {r['one_off_tokens_per_country']:>11.0f} "
              f"{r['one_off_seconds_per_country']:>9.2f}")  # fmt: skip
    print(f"  scoring {n_tiled} records: {plain_s:.2f} s without baselines, {full_s:.2f} s with")
    print(json.dumps({"benchmark": "baselines", "model": args.model, "countries": countries,
                      "limit": args.limit, "lang": args.lang, "rows": rows,
                      "scoring_seconds": [round(plain_s, 3), round(full_s, 3)],
                      "scored_records": n_tiled, "machine": machine}, sort_keys=True))  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
