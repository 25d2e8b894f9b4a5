"""The typed, versioned results of a MultiTP run (``results.json``).

`Results` is everything a report shows about one run: per country and method the
6-dimension model vector, MIS with its bootstrap interval, JSD, Pearson r, Kendall τ,
Spearman ρ, flip rate and the share of scenarios with σ at its floor; macro means;
% gain, paired MIS differences and wins against both vanilla read-outs; the ablation
rows; coverage and what the results were computed from. `scoring.score_run` builds it
from a run's records; every library function that makes or reads results returns it.

An interval is ``[low, high]``, the basic interval of a stratified scenario bootstrap
(`maths.bootstrap`, settings in `Results.bootstrap`; None where a dimension has too
few scenarios for one); a paired
difference is MIS(method) − MIS(vanilla) on the same resamples, so a negative value and
an interval below 0 mean the method is better.

``results.json`` is `Results.to_dict` (format `RESULTS_FORMAT`); `Results.from_dict`
reads it back. These two are the only places results are a mapping. The intervals,
prompt variants, ``paper_backbone``, ``bootstrap``, ``noise`` and ``baselines`` were added within
format 1: every field before them keeps its meaning, and a reader that does not know
them ignores them, so the tag did not change; a file without them reads with those
fields None (`scoring.read_run_results` rescores such a file).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import DiscaError
from ..maths import categories
from .baseline_results import BaselineResults
from .noise_floor import CountryNoise, NoiseFloor

__all__ = [
    "RESULTS_FORMAT",
    "MethodInfo",
    "PromptLanguage",
    "PromptVariant",
    "MethodScore",
    "CountryResult",
    "MacroScore",
    "VanillaComparison",
    "AblationRow",
    "Coverage",
    "TargetsSource",
    "RunInfo",
    "BootstrapInfo",
    "CountryNoise",
    "NoiseFloor",
    "Results",
]

#: Format tag of ``results.json``; `Results.from_dict` reads this version.
RESULTS_FORMAT = "disca-edge-results/1"

_T = TypeVar("_T")


def _from_mapping(cls: type[_T], data: Mapping[str, Any]) -> _T:
    """A dataclass from a mapping: known fields only, absent ones at their defaults."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class MethodInfo:
    """How a method is shown: its label, kind, the method it ablates, whether sequential."""

    label: str
    kind: str
    ablation_of: str | None = None
    sequential: bool = False


@dataclass(frozen=True)
class PromptLanguage:
    """The languages one country's prompts were in (`Rendering`, as recorded).

    Attributes:
        mode: ``native`` or ``en`` (the ``--lang`` value).
        persona_language: language of the persona texts.
        frame_language: language of the base prompt, frame and scenario text.
        persona_only: native personas inside an English frame.
        systems_sha256: hash of the country's five system prompts.
    """

    mode: str
    persona_language: str
    frame_language: str
    persona_only: bool = False
    systems_sha256: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptLanguage:
        """Read a recorded language mapping (keys it does not know are ignored)."""
        return _from_mapping(cls, data)


@dataclass(frozen=True)
class MethodScore:
    """One method's scores in one country.

    Attributes:
        vector: model preference per dimension (6 values in `categories.DIMENSIONS`
            order, [0, 1]); None where a dimension has no scenario.
        dims_covered: dimensions with a value.
        mis: L2 distance to the human vector over the covered dimensions.
        jsd, pearson, kendall_tau, spearman: shape metrics (None unless all 6 covered).
        worst_dimension: the dimension with the largest error.
        flip_rate: share of scenarios where DISCA flips the consensus sign (DISCA only).
        option_order_consistency: agreement between the two label orders.
        mis_interval: [low, high] of MIS over the scenario bootstrap; None without one.
        sigma_at_floor: share of scenarios whose proposal scale σ sits at its floor σ₀
            (the full DISCA variants, whose records carry σ); None otherwise.
    """

    vector: list[float | None]
    dims_covered: int
    mis: float | None
    jsd: float | None = None
    pearson: float | None = None
    kendall_tau: float | None = None
    spearman: float | None = None
    worst_dimension: str | None = None
    flip_rate: float | None = None
    option_order_consistency: float | None = None
    mis_interval: list[float] | None = None
    sigma_at_floor: float | None = None


@dataclass(frozen=True)
class CountryResult:
    """One country: scenario counts, the human vector and every method's scores.

    Attributes:
        n: scenarios with a record.
        n_expected: scenarios this run's scope asks for.
        n_per_dimension: scenario count per dimension name.
        human: the Moral Machine vector (6 values, `categories.DIMENSIONS` order).
        panel_sha256: hash of the persona panel used.
        provenance: the panel's provenance tag.
        methods: method name -> scores.
        language: the prompts' languages; None for runs from before languages were
            recorded (English).
    """

    n: int
    n_expected: int
    n_per_dimension: dict[str, int]
    human: list[float]
    panel_sha256: str | None
    provenance: str | None
    methods: dict[str, MethodScore]
    language: PromptLanguage | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CountryResult:
        """Read a country's ``results.json`` mapping."""
        language = data.get("language")
        return _from_mapping(
            cls,
            {
                **data,
                "methods": {n: _from_mapping(MethodScore, m) for n, m in data["methods"].items()},
                "language": PromptLanguage.from_dict(language) if language else None,
            },
        )


@dataclass(frozen=True)
class MacroScore:
    """A method's macro means over the countries with a value (``n_countries``).

    ``mis_interval``: [low, high] of the macro MIS, each resample the mean over countries
    of their resampled MIS (the countries' resamples are independent).
    """

    mis: float | None
    jsd: float | None
    pearson: float | None
    kendall_tau: float | None
    spearman: float | None
    flip_rate: float | None
    n_countries: int
    mis_interval: list[float] | None = None


@dataclass(frozen=True)
class VanillaComparison:
    """A method against a vanilla read-out: % gain, paired MIS difference and wins.

    Attributes:
        pct_gain: 100 · (MIS_van − MIS_method) / MIS_van from the macro means.
        wins: countries with MIS_method < MIS_van (the raw count).
        n: countries where both have a MIS.
        per_country_pct_gain: ISO3 -> % gain.
        pct_gain_interval: [low, high] of the macro % gain.
        difference: macro mean over the ``n`` countries of MIS_method − MIS_van.
        difference_interval: [low, high] of ``difference``, paired resamples.
        wins_significant: countries whose paired interval lies entirely below 0.
        hurt_significant: countries whose paired interval lies entirely above 0.
        per_country_difference: ISO3 -> MIS_method − MIS_van.
        per_country_difference_interval: ISO3 -> its [low, high].
    """

    pct_gain: float | None
    wins: int
    n: int
    per_country_pct_gain: dict[str, float | None]
    pct_gain_interval: list[float] | None = None
    difference: float | None = None
    difference_interval: list[float] | None = None
    wins_significant: int | None = None
    hurt_significant: int | None = None
    per_country_difference: dict[str, float] = field(default_factory=dict)
    per_country_difference_interval: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class AblationRow:
    """An ablation's macro MIS, change against the full method and countries hurt.

    Attributes:
        mis: the ablation's macro MIS.
        delta: its macro MIS minus the full method's.
        n_hurt: countries whose MIS is strictly above the full method's (raw count).
        n: countries where both have a MIS.
        delta_interval: [low, high] of ``delta``, paired resamples.
        n_hurt_significant: countries whose paired interval (ablation − full) lies
            entirely above 0.
    """

    mis: float | None
    delta: float | None
    n_hurt: int
    n: int
    delta_interval: list[float] | None = None
    n_hurt_significant: int | None = None


@dataclass(frozen=True)
class Coverage:
    """How much of the run's scope has records."""

    expected: int
    present: int
    missing: int
    complete: bool
    per_country_expected: int
    pool_positions: int
    shard: str | None
    n_records: int


@dataclass(frozen=True)
class TargetsSource:
    """The Moral Machine file the human vectors came from (as `human_targets.dataset_info`)."""

    sha256: str | None = None
    source: str | None = None
    pulled_at: str | None = None


@dataclass(frozen=True)
class PromptVariant:
    """The prompt variant of a run (`content.variants`): what the model was asked.

    Attributes:
        cap: pool rows per category (None: no cap).
        min_per_category: oversampling floor per category.
        fourth: the fourth persona, ``aggregate`` or ``utilitarian``.
        drop_dims: WVS dimensions left out of every persona text.
        anchor_text: the utilitarian anchor's text, ``fixed`` (country name filled in) or
            ``released`` (placeholder left, as the authors' code); None when the fourth
            persona is the aggregate.
    """

    cap: int | None = 80
    min_per_category: int = 0
    fourth: str = "aggregate"
    drop_dims: list[str] = field(default_factory=list)
    anchor_text: str | None = None


@dataclass(frozen=True)
class RunInfo:
    """What the results were computed from: model, variant, seeds, scope and status.

    ``prompts`` is None and ``paper_backbone`` None in results written before they were
    recorded; ``paper_backbone`` is also None for a model outside the registry.
    """

    model: str | None
    model_sha256: str | None
    fingerprint: str | None
    variant: str
    primary: str
    ablation_base: str
    vanilla: list[str]
    is_seed: int | None
    data_seed: int | None
    status: str | None
    countries: list[str]
    limit: int | None
    shard: str | None
    lang: str = "en"
    prompt_protocol: int = 1  # `scenarios.PROMPT_PROTOCOLS`; runs before it was recorded: 1
    prompts: PromptVariant | None = None
    paper_backbone: bool | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInfo:
        """Read the ``run`` mapping of ``results.json``."""
        prompts = data.get("prompts")
        return _from_mapping(
            cls,
            {**data, "prompts": None if prompts is None else _from_mapping(PromptVariant, prompts)},
        )


@dataclass(frozen=True)
class BootstrapInfo:
    """How the intervals were computed (`maths.bootstrap`).

    Attributes:
        n_resamples: B, resamples per country.
        level: the intervals' coverage (0.95).
        seed: the seed the resamples are drawn from, with each country's key
            (``default_rng([seed, country_key(iso3)])``): the run's data seed, so runs
            that differ only in their IS seed share their resamples.
        min_per_dimension: a country gets no intervals when a covered dimension has
            fewer scenarios than this.
        method: what is resampled, and the kind of interval (basic: the percentile
            interval reflected about the point, `maths.bootstrap.basic_interval`).
    """

    n_resamples: int
    level: float
    seed: int
    min_per_dimension: int = 10
    method: str = "stratified scenario bootstrap within dimension, basic intervals"


@dataclass(frozen=True)
class Results:
    """Everything a report shows about one run (``results.json``, `RESULTS_FORMAT`).

    Attributes:
        created: when the results were computed (UTC, ISO 8601).
        run: what they were computed from.
        provenance: the persona provenance statements of the run's panels.
        human_targets: the Moral Machine file used; None where it was not recorded.
        coverage: records present against the scope.
        dimensions: the dimension names (`categories.DIMENSIONS`).
        methods: method name -> how it is shown.
        countries: ISO3 -> the country's result, in run order.
        macro: method name -> macro means.
        vs_vanilla: vanilla read-out -> method name -> comparison.
        ablation_base: the method the ablations switch things off in.
        ablations: ablation name -> row.
        sequential: method -> ISO3 -> scenario id -> p_spare (the prior-applied values).
        bootstrap: how the intervals were computed; None in results without intervals.
        noise: the model's noise floor per country, when one was measured.
        baselines: Table 1's baselines and the sensitivity sweeps, when the run's config
            names baselines (`baseline_results`).
        recomputed: computed from the samples because ``results.json`` was absent or stale.
        format: the format tag.
    """

    created: str
    run: RunInfo
    provenance: list[str]
    human_targets: TargetsSource | None
    coverage: Coverage
    dimensions: list[str]
    methods: dict[str, MethodInfo]
    countries: dict[str, CountryResult]
    macro: dict[str, MacroScore]
    vs_vanilla: dict[str, dict[str, VanillaComparison]]
    ablation_base: str
    ablations: dict[str, AblationRow]
    sequential: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    bootstrap: BootstrapInfo | None = None
    noise: NoiseFloor | None = None
    baselines: BaselineResults | None = None
    recomputed: bool = False
    format: str = RESULTS_FORMAT

    def label(self, method: str) -> str:
        """A method's display label."""
        return self.methods[method].label

    def to_dict(self) -> dict[str, Any]:
        """The ``results.json`` mapping (format `RESULTS_FORMAT`), JSON-ready."""
        asdict = dataclasses.asdict
        out: dict[str, Any] = {
            "format": self.format,
            "created": self.created,
            "run": asdict(self.run),
            "provenance": list(self.provenance),
            "human_targets": {} if self.human_targets is None else asdict(self.human_targets),
            "coverage": asdict(self.coverage),
            "dimensions": list(self.dimensions),
            "methods": {k: asdict(v) for k, v in self.methods.items()},
            "countries": {k: asdict(v) for k, v in self.countries.items()},
            "macro": {k: asdict(v) for k, v in self.macro.items()},
            "vs_vanilla": {
                van: {k: asdict(v) for k, v in rows.items()}
                for van, rows in self.vs_vanilla.items()
            },
            "ablations": {
                "base": self.ablation_base,
                "rows": {k: asdict(v) for k, v in self.ablations.items()},
            },
            "sequential": self.sequential,
        }
        if self.bootstrap is not None:
            out["bootstrap"] = asdict(self.bootstrap)
        if self.noise is not None:
            out["noise"] = asdict(self.noise)
        if self.baselines is not None:
            out["baselines"] = self.baselines.to_dict()
        if self.recomputed:
            out["recomputed"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Results:
        """Read a ``results.json`` mapping.

        Raises:
            DiscaError: the format tag is not `RESULTS_FORMAT`, or an entry is missing,
                of the wrong type (a number that is text, NaN, a list that is not), or
                names a method or dimension the results do not hold (the message names it).
        """
        if data.get("format", RESULTS_FORMAT) != RESULTS_FORMAT:
            raise DiscaError(
                f"results format {data.get('format')!r} is not {RESULTS_FORMAT!r}; "
                "recompute with `disca report --recompute`"
            )
        try:
            results = cls._from_entries(data)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise DiscaError(f"results are malformed: {type(exc).__name__}: {exc}") from None
        problem = _type_problem(results, cls, "results") or _inconsistency(results)
        if problem:
            raise DiscaError(f"results are malformed: {problem}")
        return results

    @classmethod
    def _from_entries(cls, data: Mapping[str, Any]) -> Results:
        ablations = data.get("ablations") or {}
        targets = data.get("human_targets") or {}
        return cls(
            created=data.get("created", ""),
            run=RunInfo.from_dict(data["run"]),
            provenance=list(data.get("provenance") or []),
            human_targets=_from_mapping(TargetsSource, targets) if targets else None,
            coverage=_from_mapping(Coverage, data["coverage"]),
            dimensions=list(data.get("dimensions") or categories.DIMENSIONS),
            methods={k: _from_mapping(MethodInfo, v) for k, v in data["methods"].items()},
            countries={k: CountryResult.from_dict(v) for k, v in data["countries"].items()},
            macro={k: _from_mapping(MacroScore, v) for k, v in data["macro"].items()},
            vs_vanilla={
                van: {k: _from_mapping(VanillaComparison, v) for k, v in rows.items()}
                for van, rows in data["vs_vanilla"].items()
            },
            ablation_base=ablations.get("base", data["run"].get("primary", "")),
            ablations={
                k: _from_mapping(AblationRow, v) for k, v in (ablations.get("rows") or {}).items()
            },
            sequential=dict(data.get("sequential") or {}),
            bootstrap=_from_mapping(BootstrapInfo, data["bootstrap"])
            if data.get("bootstrap")
            else None,
            noise=NoiseFloor.from_dict(data["noise"]) if data.get("noise") else None,
            baselines=BaselineResults.from_dict(data["baselines"])
            if data.get("baselines")
            else None,
            recomputed=bool(data.get("recomputed", False)),
        )


# --------------------------------------------------------------------------- checking


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _scalar_problem(value: Any, hint: Any, where: str) -> str | None:
    """What is wrong with a number, flag or text against its annotation (None: fine)."""
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value):
            return f"{where} is {_shown(value)}, not a finite number"
    elif hint is int and (not isinstance(value, int) or isinstance(value, bool)):
        return f"{where} is {_shown(value)}, not an integer"
    elif hint in (bool, str) and not isinstance(value, hint):
        return f"{where} is {_shown(value)}, not {'true or false' if hint is bool else 'text'}"
    return None


def _type_problem(value: Any, hint: Any, where: str) -> str | None:
    """Where a value read from ``results.json`` is not of its annotated type (None: fine).

    Walks the dataclasses, lists and dicts of `Results` by their annotations.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        arms = [a for a in args if a is not type(None)]
        problems = [_type_problem(value, arm, where) for arm in arms]
        return None if None in problems else problems[0]
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):  # type: ignore[arg-type]
            return f"{where} is {_shown(value)}, not a mapping"
        hints = typing.get_type_hints(hint)
        for f in dataclasses.fields(hint):
            problem = _type_problem(getattr(value, f.name), hints[f.name], f"{where}.{f.name}")
            if problem:
                return problem
        return None
    if origin is list:
        if not isinstance(value, list):
            return f"{where} is {_shown(value)}, not a list"
        found = (_type_problem(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        return next((p for p in found if p), None)
    if origin is dict:
        if not isinstance(value, dict):
            return f"{where} is {_shown(value)}, not a mapping"
        found = (_type_problem(v, args[1], f"{where}.{k}") for k, v in value.items())
        return next((p for p in found if p), None)
    return _scalar_problem(value, hint, where)


def _inconsistency(results: Results) -> str | None:
    """A method or dimension the views look up that the results do not hold (None: fine).

    The headline, ablation base and vanilla read-outs must be scored in every country
    and in the macro means, each ablation in the macro means, and every vector must
    have one value per dimension.
    """
    run, methods = results.run, set(results.methods)
    n_dims = len(results.dimensions)
    if n_dims != len(categories.DIMENSIONS):
        return f"results.dimensions holds {n_dims} name(s), not {len(categories.DIMENSIONS)}"
    shown = {run.primary, results.ablation_base, *run.vanilla}
    for name in sorted(shown | set(results.ablations)):
        if name not in methods:
            return f"the method {name!r} is not in results.methods"
    held: list[tuple[str, Mapping[str, Any], set[str]]] = [
        ("results.macro", results.macro, shown | set(results.ablations))
    ]
    held += [(f"results.countries.{iso}.methods", c.methods, shown)
             for iso, c in results.countries.items()]  # fmt: skip
    for where, names, needed in held:
        missing = sorted(needed - set(names))
        if missing:
            return f"{where} lacks {', '.join(missing)}"
    for van in run.vanilla:
        if run.primary not in results.vs_vanilla.get(van, {}):
            return f"results.vs_vanilla.{van} lacks {run.primary}"
    for iso, country in results.countries.items():
        sizes = [len(country.human)] + [len(m.vector) for m in country.methods.values()]
        if any(size != n_dims for size in sizes):
            return f"results.countries.{iso} has a vector without {n_dims} values"
    return None
