"""MultiTP evaluation runs: countries × DISCA pool through the engine, into a resumable run log.

`run_eval` is the orchestration behind ``disca eval multitp``. For each country it loads
the persona panel and feeds the engine chunks of a few scenarios (10 prompt evaluations
each: 2 label orders × base + 4 personas, sharing KV prefixes). From those logits
`methods.compute_methods` derives every method of the spec with no further model calls;
each chunk becomes one block of `runlog` records (appended, fsync'ed). A rerun of the same
command skips what is on disk. Finally `summarize` turns the records into
``results.json``: per country and method the 6-dim model vector, MIS, JSD, Pearson r,
Kendall τ, Spearman ρ, flip rate; macro means; %gain and wins against both vanilla
read-outs; the ablation table.

The `reference` variant's country prior is sequential in pool order, so records store
only the order-independent δ_micro; `summarize` applies the prior per country over the
records sorted by pool position (`methods.finalize`). A resumed, sharded-then-merged or
single run therefore gives identical results.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import __version__, categories, core, metrics, runlog
from .errors import DiscaError
from .machine import machine_info
from .methods import METHOD_ORDER, VANILLA, Method, compute_methods, finalize, primary_method

__all__ = [
    "EvalConfig",
    "EvalOutcome",
    "Progress",
    "NullProgress",
    "LOGIT_SETTINGS",
    "parse_countries",
    "parse_shard",
    "parse_params",
    "run_eval",
    "summarize",
    "load_results",
    "merge",
    "suite_from_config",
]

log = logging.getLogger(__name__)

#: Engine settings that can change logits (recorded in the fingerprinted config). The
#: thread count, context size and sequence slots only change speed and are not compared.
LOGIT_SETTINGS = ("n_batch", "n_ubatch", "flash_attn", "n_gpu_layers", "kv_unified")

RESULTS_FORMAT = "disca-edge-results/1"


class Progress(Protocol):
    """What the run loop reports to a display (rich bar, plain lines, or nothing)."""

    def start(self, total: int, done: int) -> None:
        """All work of this invocation: ``total`` scenarios, ``done`` already on disk."""

    def country(self, iso3: str, total: int, done: int) -> None:
        """A country begins: its scenario count and how many were already on disk."""

    def update(self, n: int) -> None:
        """``n`` more scenarios finished (and flushed)."""

    def close(self) -> None:
        """The run ended (normally or not)."""


class NullProgress:
    """A display that shows nothing (`--display none`, tests, non-TTY)."""

    def start(self, total: int, done: int) -> None:
        pass

    def country(self, iso3: str, total: int, done: int) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class EvalConfig:
    """Options of one ``disca eval multitp`` invocation.

    Attributes:
        out: the run directory.
        countries: ISO3 codes, in run order.
        model: registry name or .gguf path (None: the registry default).
        limit: only the first ``limit`` scenarios of the pool (processing order).
        variant: ablation base and headline DISCA variant (``paper`` / ``reference``).
        seed: IS seed of the noise draws (spec §4; 42 is the paper's main seed).
        data_seed: pool selection, shuffle and opener seed (42).
        shard: (i, n): this process does the pool positions p with p % n == i.
        chunk: scenarios per engine call (10 prompts each).
        overrides: DISCA parameter overrides for every method.
        n_threads, n_gpu_layers, n_ctx: engine settings (None: defaults).
        force: replace a run with a different config in ``out``.
    """

    out: Path
    countries: tuple[str, ...]
    model: str | None = None
    limit: int | None = None
    variant: str = "paper"
    seed: int = 42
    data_seed: int = 42
    shard: tuple[int, int] | None = None
    chunk: int = 4
    overrides: Mapping[str, Any] = field(default_factory=dict)
    n_threads: int | None = None
    n_gpu_layers: int | None = None
    n_ctx: int | None = None
    force: bool = False


@dataclass
class EvalOutcome:
    """What a finished (or interrupted) invocation did."""

    out: Path
    status: str
    n_new: int
    n_present: int
    n_todo: int
    seconds: float
    results: dict[str, Any] | None


# --------------------------------------------------------------------------- option parsing


def parse_countries(text: str) -> tuple[str, ...]:
    """``paper20`` or a comma-separated list of ISO3/ISO2/names -> ISO3 codes (deduplicated).

    Raises:
        UnknownNameError: a country without a persona panel.
    """
    from .personas import PAPER20, resolve_country

    out: list[str] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        codes = PAPER20 if part.lower() == "paper20" else (resolve_country(part),)
        out.extend(c for c in codes if c not in out)
    if not out:
        raise DiscaError("no countries given (use e.g. --countries USA,JPN or paper20)")
    return tuple(out)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` (0 <= i < n) -> (i, n); None or ``"0/1"`` -> None."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise DiscaError(f"--shard must look like i/n (e.g. 0/2), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise DiscaError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return None if n == 1 else (i, n)


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings -> DISCA overrides (values parsed as JSON, else text).

    Raises:
        DiscaError: malformed item or invalid parameter.
    """
    import json

    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise DiscaError(f"--param must be NAME=VALUE, got {item!r}")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        out[name.strip()] = parsed
    try:
        core.DiscaParams("paper", **out)
    except ValueError as exc:
        raise DiscaError(f"--param: {exc}") from None
    return out


# --------------------------------------------------------------------------- header


def _prompts_sha256() -> str:
    """Hash of the fixed prompt texts (frame, scenario layout, openers, base prompt)."""
    from . import scenarios

    blob = "\x00".join(
        [
            scenarios.DISCA_FRAME,
            scenarios.render_disca_scenario("{context}", "{left}", "{right}"),
            scenarios.BASE_SYSTEM_PROMPT,
            *scenarios.DISCA_OPENERS,
        ]
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _versions(model_info: Mapping[str, Any]) -> dict[str, str]:
    return {
        "disca_edge": __version__,
        "llama_cpp_python": str(model_info.get("llama_cpp_python", "")),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def build_header(
    cfg: EvalConfig,
    model_info: Mapping[str, Any],
    suite: Mapping[str, Method],
    panels: Mapping[str, Any],
    pool_size: int,
) -> dict[str, Any]:
    """The run header: the fingerprinted ``config``, the ``scope`` and the metadata."""
    settings = model_info.get("settings", {})
    config = {
        "kind": "multitp",
        "protocol": "disca-pool",
        "pool_size": pool_size,
        "data_seed": cfg.data_seed,
        "is_seed": cfg.seed,
        "prompts_sha256": _prompts_sha256(),
        "model": {"name": model_info.get("name"), "sha256": model_info.get("sha256")},
        "engine": {k: settings.get(k) for k in LOGIT_SETTINGS},
        "variant": cfg.variant,
        "overrides": dict(cfg.overrides),
        "methods": {name: m.describe() for name, m in suite.items()},
        "panels": {iso: p.sha256() for iso, p in panels.items()},
    }
    return {
        "config": config,
        "scope": {
            "countries": list(cfg.countries),
            "limit": cfg.limit,
            "shard": None if cfg.shard is None else f"{cfg.shard[0]}/{cfg.shard[1]}",
        },
        "model": dict(model_info),
        "versions": _versions(model_info),
        "machine": machine_info(),
        "seed": cfg.seed,
        "data_seed": cfg.data_seed,
        "variant": cfg.variant,
        "panels": {
            iso: {
                "sha256": p.sha256(),
                "name": p.name,
                "provenance": p.provenance,
                "provenance_statement": p.provenance_statement,
                "path": str(p.path) if p.path else None,
            }
            for iso, p in panels.items()
        },
        "run_settings": {"chunk": cfg.chunk, "n_threads": settings.get("n_threads")},
    }


def suite_from_config(config: Mapping[str, Any]) -> dict[str, Method]:
    """The methods exactly as recorded in a run's config (parameters included)."""
    suite = {}
    for name, desc in config["methods"].items():
        suite[name] = Method(
            name=name,
            label=desc["label"],
            kind=desc["kind"],
            params=core.DiscaParams(**desc["params"]),
            ablation_of=desc.get("ablation_of"),
        )
    return suite


# --------------------------------------------------------------------------- records


def _num(x: Any) -> float | None:
    value = float(x)
    return value if np.isfinite(value) else None


def _records(
    iso3: str,
    items: Sequence[tuple[int, Any]],
    panel_logits: Any,
    outputs: Mapping[str, Mapping[str, np.ndarray]],
    suite: Mapping[str, Method],
) -> list[dict[str, Any]]:
    """One JSON-ready record per scenario of a chunk."""
    from .methods import diagnostics_of

    out = []
    for s, (position, vignette) in enumerate(items):
        texts = panel_logits.texts[s]
        record = {
            "country": iso3,
            "scenario_id": vignette.scenario_id,
            "vignette_index": vignette.vignette_index,
            "pool_position": position,
            "category": vignette.category,
            "preferred_right": bool(vignette.preferred_right),
            "unordered_key": vignette.unordered_key,
            "has_swap": bool(panel_logits.has_swap[s]),
            "logits": panel_logits.logits[s].tolist(),
            "token_ids": panel_logits.token_ids[s].tolist(),
            "prompt_sha256": [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts],
            "p_spare": {
                name: _num(outputs[name]["p_spare_micro"][s])
                for name, m in suite.items()
                if not m.sequential
            },
            "delta_micro": {name: _num(outputs[name]["delta_micro"][s]) for name in suite},
            "delta_bar": {
                name: _num(outputs[name]["delta_bar"][s])
                for name in suite
                if "delta_bar" in outputs[name]
            },
            "diagnostics": {
                name: diagnostics_of(outputs[name], s)
                for name, m in suite.items()
                if m.kind == "disca" and m.ablation_of is None
            },
        }
        out.append(record)
    return out


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sigterm_as_interrupt() -> Any:
    """Make SIGTERM raise KeyboardInterrupt (main thread only); returns the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


# --------------------------------------------------------------------------- run


def run_eval(
    cfg: EvalConfig,
    *,
    progress: Progress | None = None,
    engine: Any = None,
    model_info: Mapping[str, Any] | None = None,
    argv: Sequence[str] | None = None,
) -> EvalOutcome:
    """Run (or resume) a MultiTP evaluation into ``cfg.out``.

    Args:
        cfg: the options.
        progress: a display (default: none).
        engine: an already loaded `engine.Engine` (with ``model_info``, its
            `models.ModelInfo.as_dict()`); default: `models.open_engine(cfg.model)`.
        model_info: see ``engine``.
        argv: the command line, recorded in the invocation entry.

    Returns:
        EvalOutcome. On Ctrl-C (or SIGTERM) the records so far are on disk, the status is
        ``cancelled``, partial ``results.json`` is written, and KeyboardInterrupt is
        re-raised.

    Raises:
        DiscaError: bad options, no human targets, a config clash with ``cfg.out``.
        KeyboardInterrupt: after recording the cancellation.
    """
    from . import data, models, personas, pipeline, scenarios
    from .methods import method_suite

    progress = progress or NullProgress()
    if cfg.chunk < 1:
        raise DiscaError(f"--chunk must be >= 1, got {cfg.chunk}")
    if cfg.limit is not None and cfg.limit < 1:
        raise DiscaError(f"--limit must be >= 1, got {cfg.limit}")
    try:
        suite = method_suite(cfg.variant, cfg.overrides)
    except ValueError as exc:
        raise DiscaError(str(exc)) from None
    targets = data.load_human_targets()  # fail before loading the model
    missing = [c for c in cfg.countries if c not in targets.index]
    if missing:
        raise DiscaError(f"no Moral Machine targets for {', '.join(missing)}")
    panels = {iso: personas.load_panel(iso) for iso in cfg.countries}
    pool = scenarios.disca_pool(cfg.data_seed)
    if len({v.scenario_id for v in pool}) != len(pool):
        raise DiscaError("the scenario pool repeats a scenario; records need unique ids")
    n_positions = len(pool) if cfg.limit is None else min(cfg.limit, len(pool))
    shard_i, shard_n = cfg.shard or (0, 1)
    positions = [p for p in range(n_positions) if p % shard_n == shard_i]

    own_engine = engine is None
    if own_engine:
        engine, info = models.open_engine(
            cfg.model,
            n_threads=cfg.n_threads,
            n_gpu_layers=cfg.n_gpu_layers,
            n_ctx=cfg.n_ctx,
            prefix_cache=True,  # persona prefixes restored (bit-identical) on resume/shards
        )
        model_info = info.as_dict()
    elif model_info is None:
        raise ValueError("model_info is required with an engine")
    header = build_header(cfg, model_info, suite, panels, len(pool))
    k_half = {m.params.k_half for m in suite.values()}
    if len(k_half) != 1:
        raise DiscaError("all methods must share k_half")
    k_half_value = k_half.pop()

    started = time.perf_counter()
    status, n_new = "error", 0
    old_handler = None
    try:
        with runlog.RunLog.open(
            cfg.out, header, force=cfg.force, invocation={"argv": list(argv or [])}
        ) as run:
            todo = {
                iso: [(p, pool[p]) for p in positions if (iso, pool[p].scenario_id) not in run.keys]
                for iso in cfg.countries
            }
            total = len(positions) * len(cfg.countries)
            n_todo = sum(len(v) for v in todo.values())
            old_handler = _sigterm_as_interrupt()
            stats_before = engine.stats.as_dict()
            progress.start(total, total - n_todo)
            try:
                for iso in cfg.countries:
                    items = todo[iso]
                    progress.country(iso, len(positions), len(positions) - len(items))
                    if not items:
                        continue
                    # The engine keeps the base prefix pinned for the whole run and this
                    # country's persona prefixes while it is used (LRU eviction).
                    system_prompts = pipeline.panel_system_prompts(panels[iso].texts())
                    for chunk in _chunks(items, cfg.chunk):
                        dilemmas = []
                        for _, v in chunk:
                            user_orig, user_swap = scenarios.disca_user_prompts(v, cfg.data_seed)
                            dilemmas.append(
                                pipeline.Dilemma(
                                    user_orig,
                                    user_swap,
                                    category=v.category,
                                    index=v.vignette_index,
                                )
                            )
                        logits = pipeline.evaluate_panel(engine, system_prompts, dilemmas)
                        z = core.draws(cfg.seed, [v.vignette_index for _, v in chunk], k_half_value)
                        outputs = compute_methods(
                            logits.logits,
                            logits.has_swap,
                            [v.category for _, v in chunk],
                            np.array([v.preferred_right for _, v in chunk], dtype=bool),
                            z,
                            suite,
                        )
                        n_new += run.append(_records(iso, chunk, logits, outputs, suite))
                        progress.update(len(chunk))
                status = "success"
            except KeyboardInterrupt:
                status = "cancelled"
                raise
            except BaseException as exc:
                status = "error"
                run.header["invocations"][-1]["error"] = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                progress.close()
                seconds = time.perf_counter() - started
                stats_after = engine.stats.as_dict()
                entry = run.header["invocations"][-1]
                entry["seconds"] = round(seconds, 3)
                entry["scenarios_per_s"] = round(n_new / seconds, 4) if seconds > 0 else None
                entry["engine_stats"] = {
                    k: stats_after[k] - stats_before.get(k, 0) for k in stats_after
                }
                run.finish(status)
                results = None
                if status in ("success", "cancelled"):
                    results = summarize(run.header, runlog.read_samples(cfg.out), targets=targets)
                    runlog.write_results(cfg.out, results)
            return EvalOutcome(
                out=Path(cfg.out),
                status=status,
                n_new=n_new,
                n_present=len(run.keys),
                n_todo=n_todo,
                seconds=seconds,
                results=results,
            )
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
        if own_engine:
            engine.close()


# --------------------------------------------------------------------------- results


def _or_none(x: Any) -> float | None:
    if x is None:
        return None
    value = float(x)
    return value if np.isfinite(value) else None


def _vector_metrics(vector: np.ndarray, human: np.ndarray) -> dict[str, Any]:
    """MIS over the covered dimensions; the shape metrics only with all six."""
    covered = ~np.isnan(vector)
    out: dict[str, Any] = {"dims_covered": int(covered.sum())}
    if not covered.any():
        out.update(mis=None, jsd=None, pearson=None, kendall_tau=None, spearman=None)
        out["worst_dimension"] = None
        return out
    # a missing dimension contributes 0: its model value is replaced by the human one
    out["mis"] = _or_none(metrics.mis(np.where(covered, vector, human), human))
    full = bool(covered.all())
    out["jsd"] = _or_none(metrics.jsd(vector, human)) if full else None
    out["pearson"] = _or_none(metrics.pearson(vector, human)) if full else None
    out["kendall_tau"] = _or_none(metrics.kendall_tau(vector, human)) if full else None
    out["spearman"] = _or_none(metrics.spearman(vector, human)) if full else None
    out["worst_dimension"] = metrics.worst_dimension(vector, human)
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarize(
    header: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    targets: Any = None,
) -> dict[str, Any]:
    """Results of a run from its header and records (pure apart from loading targets).

    Args:
        header: the run's ``run.json``.
        records: its sample records (any order; duplicates by key are ignored).
        targets: human targets (`data.load_human_targets()` frame); default: loaded.

    Returns:
        The ``results.json`` mapping (see the module docstring of `report` for use).
    """
    from . import data

    if targets is None:
        targets = data.load_human_targets()
    config, scope = header["config"], header.get("scope") or {}
    suite = suite_from_config(config)
    names = [n for n in METHOD_ORDER if n in suite]
    variant = config["variant"]
    primary = primary_method(variant)
    countries = list(scope.get("countries") or [])
    limit = scope.get("limit")
    pool_size = int(config["pool_size"])
    n_positions = pool_size if limit is None else min(int(limit), pool_size)
    shard = scope.get("shard")
    if shard:
        shard_i, shard_n = (int(x) for x in str(shard).split("/"))
    else:
        shard_i, shard_n = 0, 1
    expected = len([p for p in range(n_positions) if p % shard_n == shard_i])

    by_country: dict[str, dict[tuple[str, str], Mapping[str, Any]]] = {c: {} for c in countries}
    for record in records:
        iso = record["country"]
        if iso in by_country and int(record["pool_position"]) < n_positions:
            by_country[iso].setdefault(runlog.record_key(record), record)

    country_out: dict[str, Any] = {}
    sequential: dict[str, dict[str, dict[str, float]]] = {
        n: {} for n in names if suite[n].sequential
    }
    panels_meta = header.get("panels") or {}
    for iso in countries:
        recs = sorted(by_country[iso].values(), key=lambda r: int(r["pool_position"]))
        human = targets.loc[iso].to_numpy(dtype=float) if iso in targets.index else None
        if human is None:
            raise DiscaError(f"no Moral Machine targets for {iso}")
        cats = [r["category"] for r in recs]
        right = np.array([bool(r["preferred_right"]) for r in recs], dtype=bool)
        entry: dict[str, Any] = {
            "n": len(recs),
            "n_expected": expected,
            "n_per_dimension": {},
            "human": [float(x) for x in human],
            "panel_sha256": config.get("panels", {}).get(iso),
            "provenance": (panels_meta.get(iso) or {}).get("provenance"),
            "methods": {},
        }
        if recs:
            dims = [categories.DIMENSION_OF_CATEGORY[c] for c in cats]
            entry["n_per_dimension"] = {d: dims.count(d) for d in categories.DIMENSIONS}
        for name in names:
            method = suite[name]
            if not recs:
                entry["methods"][name] = {
                    "vector": [None] * 6,
                    **_vector_metrics(np.full(6, np.nan), human),
                    "flip_rate": None,
                    "option_order_consistency": None,
                }
                continue
            delta_micro = np.array([r["delta_micro"][name] for r in recs], dtype=float)
            delta_out, p_spare = finalize(delta_micro, right, method)
            vector = metrics.model_vector(p_spare, cats)
            result: dict[str, Any] = {"vector": [_or_none(v) for v in vector]}
            result.update(_vector_metrics(vector, human))
            if all(name in r.get("delta_bar", {}) for r in recs):
                delta_bar = np.array([r["delta_bar"][name] for r in recs], dtype=float)
                result["flip_rate"] = _or_none(metrics.flip_rate(delta_out, delta_bar))
            else:
                result["flip_rate"] = None
            result["option_order_consistency"] = _or_none(
                metrics.option_order_consistency(
                    p_spare, [r["unordered_key"] for r in recs], ~right
                )
            )
            entry["methods"][name] = result
            if method.sequential:
                sequential[name][iso] = {
                    r["scenario_id"]: float(p) for r, p in zip(recs, p_spare, strict=True)
                }
        country_out[iso] = entry

    macro: dict[str, Any] = {}
    for name in names:
        rows = [country_out[c]["methods"][name] for c in countries]
        macro[name] = {
            key: _mean([r[key] for r in rows])
            for key in ("mis", "jsd", "pearson", "kendall_tau", "spearman", "flip_rate")
        }
        macro[name]["n_countries"] = sum(r["mis"] is not None for r in rows)

    def paired(a: str, b: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        isos = [
            c
            for c in countries
            if country_out[c]["methods"][a]["mis"] is not None
            and country_out[c]["methods"][b]["mis"] is not None
        ]
        va = np.array([country_out[c]["methods"][a]["mis"] for c in isos], dtype=float)
        vb = np.array([country_out[c]["methods"][b]["mis"] for c in isos], dtype=float)
        return isos, va, vb

    vs_vanilla: dict[str, Any] = {}
    for van in VANILLA:
        vs_vanilla[van] = {}
        for name in names:
            if name == van:
                continue
            isos, v_van, v_m = paired(van, name)
            m_van, m_m = macro[van]["mis"], macro[name]["mis"]
            vs_vanilla[van][name] = {
                "pct_gain": _or_none(metrics.pct_gain(m_van, m_m))
                if m_van is not None and m_m is not None and m_van != 0
                else None,
                "wins": metrics.wins(v_van, v_m) if isos else 0,
                "n": len(isos),
                "per_country_pct_gain": {
                    c: _or_none(metrics.pct_gain(a, b)) if a != 0 else None
                    for c, a, b in zip(isos, v_van, v_m, strict=True)
                },
            }

    ablation_rows: dict[str, Any] = {}
    for name in names:
        if suite[name].ablation_of != primary:
            continue
        isos, v_full, v_abl = paired(primary, name)
        m_full, m_abl = macro[primary]["mis"], macro[name]["mis"]
        ablation_rows[name] = {
            "mis": m_abl,
            "delta": None if m_full is None or m_abl is None else m_abl - m_full,
            "n_hurt": metrics.n_hurt(v_full, v_abl) if isos else 0,
            "n": len(isos),
        }

    present = sum(country_out[c]["n"] for c in countries)
    total_expected = expected * len(countries)
    statements = sorted(
        {
            (panels_meta.get(c) or {}).get("provenance_statement")
            for c in countries
            if (panels_meta.get(c) or {}).get("provenance_statement")
        }
    )
    try:
        targets_info = data.dataset_info()
        human_source = {k: targets_info.get(k) for k in ("sha256", "source", "pulled_at")}
    except DiscaError:
        human_source = {}
    model = header.get("model") or {}
    return {
        "format": RESULTS_FORMAT,
        "created": runlog.now(),
        "run": {
            "model": model.get("name"),
            "model_sha256": model.get("sha256"),
            "fingerprint": header.get("fingerprint"),
            "variant": variant,
            "primary": primary,
            "ablation_base": primary,
            "vanilla": list(VANILLA),
            "is_seed": config.get("is_seed"),
            "data_seed": config.get("data_seed"),
            "status": header.get("status"),
            "countries": countries,
            "limit": limit,
            "shard": shard,
        },
        "provenance": statements,
        "human_targets": human_source,
        "coverage": {
            "expected": total_expected,
            "present": present,
            "missing": total_expected - present,
            "complete": present == total_expected,
            "per_country_expected": expected,
            "pool_positions": n_positions,
            "shard": shard,
            "n_records": len(records),
        },
        "dimensions": list(categories.DIMENSIONS),
        "methods": {
            n: {k: v for k, v in suite[n].describe().items() if k != "params"} for n in names
        },
        "countries": country_out,
        "macro": macro,
        "vs_vanilla": vs_vanilla,
        "ablations": {"base": primary, "rows": ablation_rows},
        "sequential": sequential,
    }


def load_results(run_dir: str | os.PathLike, *, recompute: bool = False) -> dict[str, Any]:
    """A run's results: ``results.json``, or computed from the samples when absent or stale.

    Stale means the record count differs from the samples on disk (e.g. after kill -9).
    """
    header = runlog.read_header(run_dir)
    records = runlog.read_samples(run_dir)
    results = None if recompute else runlog.read_results(run_dir)
    if results is not None and results.get("coverage", {}).get("n_records") == len(records):
        return results
    results = summarize(header, records)
    results["recomputed"] = True
    return results


def merge(
    sources: Sequence[str | os.PathLike], out: str | os.PathLike, *, force: bool = False
) -> dict[str, Any]:
    """Merge shard runs into ``out`` and write its ``results.json``; returns the results."""
    headers = [runlog.read_header(s) for s in sources]
    countries = (headers[0].get("scope") or {}).get("countries") or []
    order = {c: i for i, c in enumerate(countries)}
    header, records = runlog.merge_runs(sources, out, force=force, order=order)
    results = summarize(header, records)
    runlog.write_results(out, results)
    return results
