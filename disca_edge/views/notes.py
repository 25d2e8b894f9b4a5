"""The lines around a report table: its header (model, prompt variant, caveats) and notes.

* `header_lines`: the run line (`run_line`: the model, and whether the paper used it as a
  backbone, the DISCA variant, the seeds), the prompt variant (`prompt_line`: pool cap,
  oversampling, fourth persona, dropped dimensions, ``--lang``; always shown, "default"
  when every option is the paper's) and one line per caveat that applies
  (`caveat_lines`: fewer scenarios than the paper's 310 per country, σ at its floor in
  most scenarios, the model's numerical noise above the persona effects or DISCA's
  shift, `noise_note` says how it was measured);
* notes: how the intervals were made (`interval_note`), significant and raw wins
  (`wins_text`), the persona provenance and what the run lacks (`coverage_notes`).

`views.tables`, `views.sweeps` and `views.figures` put them on every report format.
"""

from __future__ import annotations

from typing import Any

from ..content.scenarios import PROMPT_PROTOCOLS
from ..evals.results import NoiseFloor, PromptVariant, Results, VanillaComparison

__all__ = [
    "PAPER_N",
    "VANILLA_DESCRIPTIONS",
    "run_line",
    "prompt_line",
    "caveat_lines",
    "header_lines",
    "interval_note",
    "noise_note",
    "noise_setting_text",
    "wins_text",
    "provenance_notes",
    "coverage_notes",
]

#: Scenarios per country in the paper's pool (MULTITP.md §7).
PAPER_N = 310

VANILLA_DESCRIPTIONS = {
    "vanilla_raw": "vanilla_raw = base prompt, original order, raw gap, no T_cat (paper baseline)",
    "vanilla_lfl": "vanilla_lfl = base prompt, T_cat-scaled and debiased gap (like-for-like)",
}


def _backbone_text(paper_backbone: bool | None) -> str:
    if paper_backbone is True:
        return ""
    if paper_backbone is False:
        return ", not one of the paper's backbones"
    return ", not a registry model, so not known to be one of the paper's backbones"


def run_line(results: Results, *, is_seed: bool = True) -> str:
    """One line naming the model (and whether the paper used it), the variant and seeds.

    Args:
        results: a run's results.
        is_seed: name the IS seed (a table over several seeds names them itself).
    """
    run = results.run
    sha = (run.model_sha256 or "")[:12]
    model = f"model {run.model} (sha256 {sha}…)" if sha else f"model {run.model}"
    seeds = f"IS seed {run.is_seed}, data seed {run.data_seed}" if is_seed else (
        f"data seed {run.data_seed}"
    )  # fmt: skip
    return f"{model}{_backbone_text(run.paper_backbone)}; DISCA variant {run.variant}; {seeds}"


def _prompt_options(prompts: PromptVariant, lang: str) -> list[tuple[str, Any]]:
    drop = ",".join(prompts.drop_dims) or "none"
    anchor = [("--anchor-text", prompts.anchor_text)] if prompts.anchor_text else []
    return [
        ("--cap", "none" if prompts.cap is None else prompts.cap),
        ("--min-per-category", prompts.min_per_category),
        ("--fourth", prompts.fourth),
        *anchor,
        ("--drop-dims", drop),
        ("--lang", lang),
    ]


def prompt_line(results: Results) -> str:
    """The run's prompt variant: pool cap, oversampling, fourth persona, dropped dims, lang.

    Always shown; "default" when every option is the paper's (``--lang native``).
    """
    run = results.run
    if run.prompts is None:
        return f"prompt variant: not recorded in these results; prompts --lang {run.lang}"
    now = _prompt_options(run.prompts, run.lang)
    paper = dict(_prompt_options(PromptVariant(), "native"))
    changed = [(flag, value) for flag, value in now if paper.get(flag) != value]
    if not changed:
        return "prompt variant: default (" + ", ".join(f"{f} {v}" for f, v in now) + ")"
    return (
        "prompt variant: "
        + ", ".join(f"{f} {v}" for f, v in changed)
        + " (default "
        + ", ".join(f"{f} {paper[f]}" for f, _ in changed if f in paper)
        + "); other prompt options default"
    )


def _listed(items: list[str], limit: int = 8) -> str:
    return ", ".join(items[:limit]) + (" …" if len(items) > limit else "")


def _few_scenarios(results: Results) -> list[str]:
    few = [f"{iso} {c.n}" for iso, c in results.countries.items() if c.n < PAPER_N]
    if not few:
        return []
    return [
        f"caveat: n < {PAPER_N} scenarios per country (the paper scores {PAPER_N}): " + _listed(few)
    ]


def _without_intervals(results: Results) -> list[str]:
    boot, primary = results.bootstrap, results.run.primary
    if boot is None:
        return []
    bare = [
        iso
        for iso, c in results.countries.items()
        if primary in c.methods
        and c.methods[primary].mis is not None
        and c.methods[primary].mis_interval is None
    ]
    if not bare:
        return []
    return [
        f"caveat: no intervals, and no significant wins counted, where a dimension has "
        f"fewer than {boot.min_per_dimension} scenarios: " + _listed(bare)
    ]


def _sigma_at_floor(results: Results) -> list[str]:
    primary = results.run.primary
    floored = [
        f"{iso} {share:.0%}"
        for iso, c in results.countries.items()
        if primary in c.methods
        for share in [c.methods[primary].sigma_at_floor]
        if share is not None and share > 0.5
    ]
    if not floored:
        return []
    return [
        f"caveat: σ sits at its floor σ₀ in most scenarios ({primary}; the personas "
        "disagree less than σ₀): " + _listed(floored)
    ]


def noise_setting_text(noise: NoiseFloor) -> str:
    """The noise floor's second setting and how it differs from the run's settings."""
    changed = [k for k in noise.engine if noise.engine.get(k) != noise.run_engine.get(k)]
    if not changed:
        return f"{noise.setting} (the run's own settings)"
    other = ", ".join(f"{k} {noise.engine[k]}" for k in changed)
    run = ", ".join(f"{k} {noise.run_engine.get(k)}" for k in changed)
    return f"{noise.setting} ({other}; the run: {run})"


def _noise_floor(results: Results) -> list[str]:
    noise = results.noise
    if noise is None:
        return []
    measured = noise.countries.items()
    reached = [f"{iso} {c.floor_p95:.3f} > {c.persona_effect:.3f}"
               for iso, c in measured if c.effects_below_floor]  # fmt: skip
    below = [f"{iso} {c.shift:.3f} < {c.floor_p95:.3f}"
             for iso, c in measured if c.shift_below_floor]  # fmt: skip
    of = f"of {len(noise.countries)} measured countries"
    lines = []
    if reached:
        lines.append(
            f"caveat: the noise floor exceeds the persona effects in {len(reached)} {of} "
            f"({noise.setting}: 95th percentile of |Δ(δ_i − δ_base)| > median "
            "|δ_i − δ_base|): " + _listed(reached)
        )
    if below:
        lines.append(
            f"caveat: DISCA's shift is below the noise floor in {len(below)} {of} (median "
            f"|δ_out − δ_base| of {noise.method} < the noise's 95th percentile, "
            f"{noise.setting}): " + _listed(below)
        )
    return lines


def noise_note(results: Results) -> list[str]:
    """How the noise floor was measured and what its columns are (none without one)."""
    noise = results.noise
    if noise is None:
        return []
    counts = [c.n for c in noise.countries.values()]
    n = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
    largest = max(c.max_logit_diff for c in noise.countries.values())
    return [
        f"noise floor: the first {n} scenarios per country re-evaluated under "
        f"{noise_setting_text(noise)}; noise = |Δ(δ_i − δ_base)| over those scenarios and "
        "the personas (median, 95th percentile); persona effect = median |δ_i − δ_base| "
        f"and DISCA shift = median |δ_out − δ_base| ({noise.method}) over all scenarios; "
        f"< noise: below the 95th percentile; largest |Δ logit| {largest:.3f}"
    ]


def caveat_lines(results: Results) -> list[str]:
    """One line per caveat that applies.

    Fewer than the paper's 310 scenarios per country; countries without intervals (a
    dimension with too few scenarios); σ at its floor in most of a country's scenarios;
    the model's measured numerical noise above the persona effects, and DISCA's shift
    below it (one line each, listing the countries).
    """
    return [
        *_few_scenarios(results),
        *_without_intervals(results),
        *_sigma_at_floor(results),
        *_noise_floor(results),
    ]


def header_lines(results: Results, *, is_seed: bool = True) -> list[str]:
    """A report's header: the run line, the prompt variant and the caveats, one line each."""
    return [
        run_line(results, is_seed=is_seed),
        protocol_line(results),
        prompt_line(results),
        *caveat_lines(results),
    ]


def protocol_line(results: Results) -> str:
    """Which DISCA prompt rules the run used (`scenarios.PROMPT_PROTOCOLS`)."""
    number = results.run.prompt_protocol
    return f"prompt protocol {number}: {PROMPT_PROTOCOLS.get(number, 'unknown to this version')}"


def interval_note(results: Results) -> str:
    """How the intervals were computed, or that these results have none."""
    boot = results.bootstrap
    if boot is None:
        return "no intervals in these results (written before them): `disca report --recompute`"
    return (
        f"[low, high]: {boot.level:.0%} {boot.method} ({boot.n_resamples:,} "
        f"resamples, seed {boot.seed}; none where a dimension has fewer than "
        f"{boot.min_per_dimension} scenarios); Δ = MIS(method) − MIS(vanilla) on the same "
        "resamples (below 0: the method is closer to the humans)"
    )


def wins_text(comparison: VanillaComparison) -> str:
    """``wins 1/3 (2 raw), hurt 0/3``: significant wins over n, the raw count, hurts."""
    n = comparison.n
    if comparison.wins_significant is None:
        return f"wins {comparison.wins}/{n} raw (no intervals)"
    return (
        f"wins {comparison.wins_significant}/{n} ({comparison.wins} raw), "
        f"hurt {comparison.hurt_significant}/{n}"
    )


def provenance_notes(results: Results) -> list[str]:
    """The persona provenance statements of a run (a placeholder when none were recorded)."""
    return list(results.provenance) or ["personas: provenance not recorded"]


def coverage_notes(results: Results) -> list[str]:
    """Notes on what a run lacks: incomplete, one shard, --limit, partial dimensions."""
    notes = []
    cov = results.coverage
    if not cov.complete:
        notes.append(
            f"INCOMPLETE: {cov.present} of {cov.expected} scenarios "
            f"(status {results.run.status}); rerun the same command to finish"
        )
    if cov.shard:
        notes.append(f"shard {cov.shard} only: merge shards with `disca eval merge`")
    if results.run.limit:
        notes.append(
            f"--limit {results.run.limit}: first {cov.pool_positions} pool scenarios per country"
        )
    partial = []
    for iso, entry in results.countries.items():
        first = next(iter(entry.methods.values()), None)
        if first is not None and first.dims_covered < 6:
            partial.append(f"{iso} ({first.dims_covered}/6)")
    if partial:
        notes.append(
            "MIS over the covered dimensions only (JSD and correlations need all 6): "
            + ", ".join(partial[:8])
            + (" …" if len(partial) > 8 else "")
        )
    if results.recomputed:
        notes.append(
            "results recomputed from samples.jsonl (--recompute, or results.json absent, "
            "stale or without intervals)"
        )
    return notes
