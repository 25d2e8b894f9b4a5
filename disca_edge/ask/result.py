"""The ``ask-result/1`` object: one answered dilemma, with everything needed to redo it.

`answers_from_logits` turns S dilemmas' panel logits into S `AskResult`s (post-processing
only, no model); `apply_prior` returns them with the sequential country prior applied.
`AskResult.to_dict` is the wire object (``disca ask --json``: key order fixed, every
number a plain float) and `AskResult.from_dict` reads one back. Each field below is
documented where it is declared.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .. import __version__, pipeline
from ..content.language import Language, Rendering
from ..content.personas import Panel
from ..engine import llama_cpp_version
from ..errors import DiscaError
from ..maths import core, methods
from ..models.open import ModelInfo
from .inputs import AskInput

__all__ = [
    "SCHEMA",
    "AskResult",
    "AskedDilemma",
    "Choice",
    "CorrectionRecord",
    "DiscaChoice",
    "Evaluation",
    "LanguageRecord",
    "ModelRecord",
    "PanelRecord",
    "Versions",
    "answers_from_logits",
    "apply_prior",
    "variant_notes",
]

SCHEMA = "ask-result/1"


def _plain(value: Any) -> Any:
    """A record as JSON-ready data: dataclasses and mappings as dicts (field order), tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class ModelRecord:
    """The model the logits came from (``model``)."""

    name: str
    """Registry name, or the file name of a path."""
    path: str
    """The ``.gguf`` file read."""
    sha256: str
    """Its SHA-256."""

    @classmethod
    def of(cls, info: ModelInfo) -> ModelRecord:
        """What `models.open_engine` reported about the loaded model."""
        return cls(info.name, info.path, info.sha256)


@dataclass(frozen=True)
class LanguageRecord:
    """Which language the prompts were in (``language``, `Rendering`)."""

    mode: str
    """``native`` or ``en`` (the ``--lang`` value)."""
    persona_language: str
    """Language of the persona texts."""
    frame_language: str
    """Language of the base prompt, frame and scenario text."""
    persona_only: bool
    """True for a persona-only language: native personas inside the English frame."""
    note: str | None
    """The sentence that flags a persona-only language, else None."""

    @classmethod
    def of(cls, rendering: Rendering) -> LanguageRecord:
        """The record of one country's rendering."""
        return cls(**rendering.to_dict())


@dataclass(frozen=True)
class PanelRecord:
    """The persona panel that answered (``panel``)."""

    iso3: str
    """The country, ISO 3166-1 alpha-3 (also the result's ``country``)."""
    name: str
    """English short name ("Japan")."""
    sha256: str
    """Hash of the panel's content (`Panel.sha256`)."""
    provenance: str
    """``authored-estimate`` or ``wvs7-microdata``."""
    provenance_statement: str
    """One sentence on where the persona levels come from."""
    path: str | None
    """The panel file, so a ``--personas DIR`` panel is on record; None if built in memory."""

    @classmethod
    def of(cls, panel: Panel) -> PanelRecord:
        """The record of a loaded panel."""
        path = None if panel.path is None else str(panel.path)
        return cls(panel.iso3, panel.name, panel.sha256(), panel.provenance,
                   panel.provenance_statement, path)  # fmt: skip


@dataclass(frozen=True)
class AskedDilemma:
    """The question as asked (``dilemma``)."""

    form: str
    """``trolley`` (two groups in the DISCA frame) or ``custom``."""
    text: str
    """The question; for the trolley form the frame language's context sentence."""
    option_a: str
    """Option A (trolley form: the left group)."""
    option_b: str
    """Option B (trolley form: the right group)."""
    category: str | None
    """Canonical MultiTP category (selects T_cat), or None."""
    scenario: str
    """The rendered scenario text in the original label order."""

    @classmethod
    def of(cls, item: AskInput, language: Language) -> AskedDilemma:
        """The record of an input rendered in a frame language."""
        text = language.trolley_opener if item.dilemma is None else item.dilemma
        return cls(item.form, text, item.option_a, item.option_b, item.category,
                   item.scenario(language))  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    """One of the panel's evaluations: a prompt and the logits of its two answer tokens."""

    agent: str
    """``base``, ``young``, ``middle``, ``older`` or ``all`` (`pipeline.AGENTS`)."""
    order: str
    """``orig`` or ``swap`` (the label order, `pipeline.ORDERS`)."""
    prompt: str
    """The exact text that was tokenised, chat template included."""
    n_tokens: int | None
    """Its length in tokens, or None where not counted."""
    token_a: int
    """Token id of label A."""
    token_b: int
    """Token id of label B."""
    logit_a: float
    """z_A at the last prompt position."""
    logit_b: float
    """z_B at the last prompt position."""


@dataclass(frozen=True)
class CorrectionRecord:
    """The DISCA correction of one dilemma (``correction``; DISCA.md §4-5)."""

    delta_bar: float
    """δ̄: the persona consensus (mean of the four persona gaps)."""
    shift: float
    """Δ = δ̄ - δ_base: the move the panel asks for."""
    disagreement: float
    """D²: variance of the four persona gaps."""
    sigma: float
    """σ = max(√D², sigma_floor): the sampling spread."""
    delta_star_passes: tuple[float, float]
    """δ*_1, δ*_2: each importance-sampling pass's compromise offset."""
    ess_ratio: tuple[float, float]
    """e_1, e_2: each pass's effective-sample-size ratio."""
    reliability: float
    """r: how well the two passes agree (the gate on the offset)."""
    delta_star: float
    """δ*: the gated offset, r × mean of the two passes."""
    alpha_ess: float
    """α_ess: the share of the shift Δ taken."""
    delta_micro: float
    """δ_micro: the corrected gap before the country prior."""
    delta_final: float
    """δ_out: δ_micro, or the country prior's output for it when the prior is on."""

    @classmethod
    def of(cls, corr: core.Correction, s: int) -> CorrectionRecord:
        """Dilemma `s` of a batch correction (`core.correct`), before any prior."""
        return cls(
            delta_bar=float(corr.delta_bar[s]),
            shift=float(corr.delta_bar[s] - corr.delta_base[s]),
            disagreement=float(corr.disagreement[s]),
            sigma=float(corr.sigma[s]),
            delta_star_passes=(float(corr.delta_star_passes[s][0]),
                               float(corr.delta_star_passes[s][1])),
            ess_ratio=(float(corr.ess_ratio[s][0]), float(corr.ess_ratio[s][1])),
            reliability=float(corr.reliability[s]),
            delta_star=float(corr.delta_star[s]),
            alpha_ess=float(corr.alpha_ess[s]),
            delta_micro=float(corr.delta_final[s]),
            delta_final=float(corr.delta_final[s]),
        )  # fmt: skip


@dataclass(frozen=True)
class Choice:
    """A read-out: the probability of each option and the option chosen."""

    p_a: float
    """Probability of option A (1 - p_b)."""
    p_b: float
    """Probability of option B."""
    choice: str
    """``A``, ``B`` or ``tie`` (p_b exactly 1/2)."""
    option: str | None
    """The chosen option's text, None on a tie."""

    @classmethod
    def of(cls, p_b: float, option_a: str, option_b: str) -> Choice:
        """The read-out of probability `p_b` of option B."""
        p_b = float(p_b)
        choice = "B" if p_b > 0.5 else "A" if p_b < 0.5 else "tie"
        return cls(1.0 - p_b, p_b, choice, {"A": option_a, "B": option_b}.get(choice))


@dataclass(frozen=True)
class DiscaChoice(Choice):
    """DISCA's read-out, and whether it differs from the two vanilla ones."""

    flips_vanilla: bool
    """DISCA's choice differs from ``vanilla``'s."""
    flips_vanilla_matched: bool
    """DISCA's choice differs from ``vanilla_matched``'s."""

    @classmethod
    def against(
        cls, p_b: float, option_a: str, option_b: str, vanilla: Choice, matched: Choice
    ) -> DiscaChoice:
        """The read-out of `p_b`, compared with the vanilla and vanilla-matched ones."""
        read = Choice.of(p_b, option_a, option_b)
        flips = read.choice != vanilla.choice, read.choice != matched.choice
        return cls(read.p_a, read.p_b, read.choice, read.option, *flips)


@dataclass(frozen=True)
class Versions:
    """The software that produced a result (``versions``)."""

    disca_edge: str
    """This package."""
    llama_cpp_python: str
    """llama-cpp-python, or ``not installed``."""
    numpy: str
    """NumPy."""

    @classmethod
    def installed(cls) -> Versions:
        """The versions of this process."""
        return cls(__version__, llama_cpp_version(), np.__version__)


@dataclass(frozen=True)
class AskResult:
    """One dilemma answered for one country (``ask-result/1``); `to_dict` is the wire object.

    ``country``, ``variant`` and ``t_dec`` are read from ``panel`` and ``params``; the wire
    object carries them as keys of their own.
    """

    schema: ClassVar[str] = SCHEMA
    index: int
    """Noise index i: the dilemma draws from ``default_rng([seed, i])``."""
    input_line: int | None
    """Input line number, or None for a single ask."""
    id: Any
    """Echoed from the input line, or None."""
    model: ModelRecord
    """The model."""
    engine: Mapping[str, Any]
    """llama.cpp settings as opened (n_ctx, n_threads, n_batch, n_ubatch, flash_attn,
    n_gpu_layers, n_seq_max, seed, kv_unified, ...)."""
    language: LanguageRecord
    """The prompts' languages."""
    panel: PanelRecord
    """The persona panel."""
    variant_notes: str
    """A sentence on what the variant does and the country prior's status."""
    seed: int
    """IS seed."""
    t_cat: float
    """T_cat of the dilemma's category."""
    params: core.DiscaParams
    """Every DISCA parameter, so the correction can be recomputed exactly."""
    dilemma: AskedDilemma
    """The question as asked."""
    has_swap: bool
    """Whether the label swap changes the prompt (else 5 evaluations, not 10)."""
    evaluations: tuple[Evaluation, ...]
    """In order (orig, swap) x agent (base, young, middle, older, all)."""
    base_gap: float
    """δ_base: the base prompt's debiased, T_cat-scaled gap (> 0 favours B)."""
    persona_gaps: Mapping[str, float]
    """δ_i per persona agent (young, middle, older, all): debiased, T_cat-scaled."""
    position_bias: Mapping[str, float | None]
    """b_j per agent (None without a swap)."""
    correction: CorrectionRecord
    """The DISCA correction."""
    vanilla: Choice
    """Base prompt, original order, no T_cat: p_B = sigmoid((z_B - z_A)/T_dec)."""
    vanilla_matched: Choice
    """Same debiasing and T_cat as DISCA: p_B = sigmoid(δ_base/T_dec)."""
    disca: DiscaChoice
    """p_B = sigmoid(δ_out/T_dec)."""
    versions: Versions
    """The software that produced it."""

    @property
    def country(self) -> str:
        """The ISO3 code answered for (the panel's)."""
        return self.panel.iso3

    @property
    def variant(self) -> str:
        """``paper`` or ``reference`` (``params.variant``)."""
        return self.params.variant

    @property
    def t_dec(self) -> float:
        """Decision temperature (``params.t_dec``)."""
        return self.params.t_dec

    def to_dict(self) -> dict[str, Any]:
        """The ``ask-result/1`` object (JSON-ready, keys in wire order)."""
        return {
            "schema": SCHEMA,
            "index": self.index,
            "input_line": self.input_line,
            "id": self.id,
            "model": _plain(self.model),
            "engine": _plain(self.engine),
            "country": self.country,
            "language": _plain(self.language),
            "panel": _plain(self.panel),
            "variant": self.variant,
            "variant_notes": self.variant_notes,
            "seed": self.seed,
            "t_cat": self.t_cat,
            "t_dec": self.t_dec,
            "params": self.params.to_dict(),
            "dilemma": _plain(self.dilemma),
            "has_swap": self.has_swap,
            "evaluations": _plain(self.evaluations),
            "base_gap": self.base_gap,
            "persona_gaps": _plain(self.persona_gaps),
            "position_bias": _plain(self.position_bias),
            "correction": _plain(self.correction),
            "vanilla": _plain(self.vanilla),
            "vanilla_matched": _plain(self.vanilla_matched),
            "disca": _plain(self.disca),
            "versions": _plain(self.versions),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AskResult:
        """Read an ``ask-result/1`` object back (the inverse of `to_dict`).

        Raises:
            DiscaError: another schema, a missing or malformed field, or ``country``,
                ``variant`` or ``t_dec`` disagreeing with ``panel`` and ``params``.
        """
        if data.get("schema") != SCHEMA:
            raise DiscaError(f"not an {SCHEMA} object (schema {data.get('schema')!r})")
        try:
            result = cls(**{name: _read(name, data[name]) for name in _FIELDS})
        except (KeyError, TypeError, ValueError) as exc:
            raise DiscaError(f"not a complete {SCHEMA} object: {exc}") from None
        derived = {"country": result.country, "variant": result.variant, "t_dec": result.t_dec}
        for key, value in derived.items():
            if data.get(key) != value:
                raise DiscaError(f"{SCHEMA}: {key} {data.get(key)!r} disagrees with {value!r}")
        return result


_FIELDS = [f.name for f in dataclasses.fields(AskResult)]

_READERS: dict[str, Any] = {
    "model": lambda d: ModelRecord(**d),
    "engine": dict,
    "language": lambda d: LanguageRecord(**d),
    "panel": lambda d: PanelRecord(**d),
    "params": lambda d: core.DiscaParams(**d),
    "dilemma": lambda d: AskedDilemma(**d),
    "evaluations": lambda d: tuple(Evaluation(**e) for e in d),
    "persona_gaps": dict,
    "position_bias": dict,
    "correction": lambda d: CorrectionRecord(**{
        **d, "delta_star_passes": tuple(d["delta_star_passes"]), "ess_ratio": tuple(d["ess_ratio"])
    }),
    "vanilla": lambda d: Choice(**d),
    "vanilla_matched": lambda d: Choice(**d),
    "disca": lambda d: DiscaChoice(**d),
    "versions": lambda d: Versions(**d),
}  # fmt: skip


def _read(name: str, value: Any) -> Any:
    """One wire field as its typed value."""
    reader = _READERS.get(name)
    return value if reader is None else reader(value)


def variant_notes(params: core.DiscaParams) -> str:
    """A sentence on what the variant does here, and the country prior's status."""
    if params.variant == "paper":
        text = "paper: alpha_ess = min(1, mean ESS ratio / rho_eff); no country prior in the paper."
    else:
        text = "reference: alpha_ess = min(1, max(rho_eff, min(e_1, e_2))) as in the released code."
    if params.prior_enabled:
        first = params.n_warmup - params.prior_replays + 1
        text += (
            " Country prior ON (--prior): the sequential EMA prior of spec §5.2 runs over the "
            f"answered dilemmas in input order with {params.prior_replays} replays; it has no "
            f"effect on the first {max(first, 0)} dilemmas (warm-up {params.n_warmup})."
        )
    else:
        text += (
            " Country prior OFF: it is defined over a sequence of scenarios, so ask applies it "
            "only with --prior; delta_final = delta_micro."
        )
    return text


def answers_from_logits(
    items: Sequence[AskInput],
    panel_logits: pipeline.PanelLogits,
    *,
    model_info: ModelInfo,
    panel: Panel,
    params: core.DiscaParams,
    seed: int,
    n_tokens: Sequence[Sequence[int]] | None = None,
    prompts: pipeline.PanelPrompts | None = None,
) -> list[AskResult]:
    """The results of S dilemmas from their panel logits (post-processing only, no model).

    The numbers come from `methods.read_panel` (the post-processing `disca eval` uses
    too): debiasing, T_cat, `core.correct` with ``core.draws(seed, item.index)`` and the
    three read-outs. The country prior is not applied here (see `apply_prior`).

    Args:
        items: the S inputs, in the order of `panel_logits`.
        panel_logits: their logits (`pipeline.evaluate_panel`).
        model_info: the model the logits came from.
        panel: the persona panel that produced the persona prompts.
        params: DISCA parameters.
        seed: IS seed.
        n_tokens (Sequence[Sequence[int]]): per dilemma, the token count of each evaluated
            prompt (same order as ``panel_logits.texts``); None records null.
        prompts: the panel's prompts in the language used (default: English).

    Returns:
        list[AskResult]: S results, in the order of `items`.
    """
    prompts = prompts or pipeline.panel_prompts(panel, "en")
    readout = methods.read_panel(
        panel_logits.logits,
        panel_logits.has_swap,
        [item.category for item in items],
        core.draws(seed, [item.index for item in items], params.k_half),
        params,
    )
    shared = {
        "model": ModelRecord.of(model_info),
        "engine": dict(model_info.settings),
        "language": LanguageRecord.of(prompts.rendering),
        "panel": PanelRecord.of(panel),
        "variant_notes": variant_notes(params),
        "seed": seed,
        "params": params,
        "versions": Versions.installed(),
    }
    return [
        _answer(s, item, panel_logits, readout, n_tokens, prompts.frame, shared)
        for s, item in enumerate(items)
    ]


def _answer(
    s: int,
    item: AskInput,
    panel_logits: pipeline.PanelLogits,
    readout: methods.PanelReadout,
    n_tokens: Sequence[Sequence[int]] | None,
    frame: Language,
    shared: dict[str, Any],
) -> AskResult:
    """Dilemma `s` of a batch as an `AskResult` (`shared`: the fields every result repeats)."""
    a, b = item.option_a, item.option_b
    vanilla = Choice.of(readout.p_b_vanilla_raw[s], a, b)
    matched = Choice.of(readout.p_b_vanilla_lfl[s], a, b)
    delta_out = np.asarray(readout.correction.delta_final, dtype=np.float64)[s]
    bias = readout.bias[s]
    return AskResult(
        index=item.index,
        input_line=item.line,
        id=item.id,
        t_cat=float(readout.t_cat[s]),
        dilemma=AskedDilemma.of(item, frame),
        has_swap=bool(panel_logits.has_swap[s]),
        evaluations=_evaluations(panel_logits, s, None if n_tokens is None else n_tokens[s]),
        base_gap=float(readout.delta_base[s]),
        persona_gaps={agent: float(readout.delta_personas[s, i])
                      for i, agent in enumerate(pipeline.AGENTS[1:])},
        position_bias={agent: None if math.isnan(bias[j]) else float(bias[j])
                       for j, agent in enumerate(pipeline.AGENTS)},
        correction=CorrectionRecord.of(readout.correction, s),
        vanilla=vanilla,
        vanilla_matched=matched,
        disca=DiscaChoice.against(core.sigmoid(delta_out / shared["params"].t_dec), a, b,
                                  vanilla, matched),
        **shared,
    )  # fmt: skip


def _evaluations(
    panel_logits: pipeline.PanelLogits, s: int, n_tokens: Sequence[int] | None
) -> tuple[Evaluation, ...]:
    """Dilemma `s`'s evaluations, (orig, swap) x agent; ``n_tokens[k]`` is prompt k's length."""
    orders = pipeline.ORDERS if panel_logits.has_swap[s] else pipeline.ORDERS[:1]
    logits, ids = panel_logits.logits[s], panel_logits.token_ids[s]
    out: list[Evaluation] = []
    for o, order in enumerate(orders):
        for j, agent in enumerate(pipeline.AGENTS):
            k = len(out)
            out.append(
                Evaluation(
                    agent=agent,
                    order=order,
                    prompt=panel_logits.texts[s][k],
                    n_tokens=None if n_tokens is None else int(n_tokens[k]),
                    token_a=int(ids[o, j, 0]),
                    token_b=int(ids[o, j, 1]),
                    logit_a=float(logits[o, j, 0]),
                    logit_b=float(logits[o, j, 1]),
                )
            )
    return tuple(out)


def apply_prior(results: Sequence[AskResult], params: core.DiscaParams) -> list[AskResult]:
    """The results with the sequential country prior (spec §5.2) applied, in list order.

    Each result's ``correction.delta_final`` and its ``disca`` read-out become the
    prior's output for its ``delta_micro``; unless ``params.prior_enabled`` the results
    come back unchanged.

    Returns:
        list[AskResult]: new results, in the order of `results`.
    """
    if not results or not params.prior_enabled:
        return list(results)
    micro = np.array([r.correction.delta_micro for r in results])
    out = core.country_prior(micro, params)
    return [
        dataclasses.replace(
            r,
            correction=dataclasses.replace(r.correction, delta_final=float(value)),
            disca=DiscaChoice.against(
                core.sigmoid(value / params.t_dec),
                r.dilemma.option_a,
                r.dilemma.option_b,
                r.vanilla,
                r.vanilla_matched,
            ),
        )  # fmt: skip
        for r, value in zip(results, out, strict=True)
    ]
