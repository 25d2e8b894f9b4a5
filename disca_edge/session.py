"""The notebook API: a model session that answers dilemmas, evaluations, results as frames.

``Session`` loads a model once and closes it on exit; ``Session.ask`` answers one or
many dilemmas for one or several countries (the library behind ``disca ask``; in each
country's language by default, ``lang="en"`` for English) and returns `Answers`:
`AskResult`s (``.to_dict()`` is the ``ask-result/1`` object), with ``to_frame()`` and an
HTML view for notebooks. `eval_multitp` runs (or resumes) a ``disca eval multitp``
evaluation with a progress bar, and `load_results` opens a run; both give `RunResults`.

    import disca_edge

    with disca_edge.Session(model="smollm2-135m") as session:
        answers = session.ask("a boy", "two elderly women", country="JP,US", category="age")
    answers.to_frame()
    disca_edge.eval_multitp("runs/jp", "JP", limit=10).to_frame()
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .ask.inputs import make_input, parse_line
from .ask.result import AskResult
from .ask.run import answer_countries, ask_context
from .content.personas import load_panel, parse_countries
from .engine import Engine, EngineOptions
from .errors import DiscaError
from .evals.loop import EvalConfig, run_eval
from .evals.results import Results
from .evals.scoring import read_run_results
from .maths.core import DiscaParams
from .models.open import open_engine
from .pipeline import panel_prompts
from .progress import make_progress

__all__ = ["Answers", "RunResults", "Session", "eval_multitp", "load_results"]

#: Prompt languages: each country's own (the paper's protocol, the CLI's default) or English.
LANGS = ("native", "en")

#: Columns of `Answers.to_frame`, one row per (dilemma, country).
ANSWER_COLUMNS = (
    "index", "id", "country", "option_a", "option_b", "category",
    "vanilla_p_b", "vanilla_choice", "disca_p_b", "disca_choice", "flip",
    "disagreement", "base_gap", "delta_final", "model", "variant", "seed",
)  # fmt: skip


class Answers(list[AskResult]):
    """`AskResult`s, one per (dilemma, country)."""

    def to_frame(self):
        """One row per (dilemma, country): the answers and the panel's disagreement.

        Returns:
            pandas.DataFrame with columns `ANSWER_COLUMNS` (p_B = probability of option B).
        """
        import pandas as pd

        rows = [
            {
                "index": r.index,
                "id": r.id,
                "country": r.country,
                "option_a": r.dilemma.option_a,
                "option_b": r.dilemma.option_b,
                "category": r.dilemma.category,
                "vanilla_p_b": r.vanilla.p_b,
                "vanilla_choice": r.vanilla.choice,
                "disca_p_b": r.disca.p_b,
                "disca_choice": r.disca.choice,
                "flip": r.disca.flips_vanilla,
                "disagreement": r.correction.disagreement,
                "base_gap": r.base_gap,
                "delta_final": r.correction.delta_final,
                "model": r.model.name,
                "variant": r.variant,
                "seed": r.seed,
            }
            for r in self
        ]
        return pd.DataFrame(rows, columns=list(ANSWER_COLUMNS))

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, float_format=lambda x: f"{x:.4f}")


@dataclass(frozen=True)
class RunResults:
    """A ``disca eval`` run's results as data frames.

    Attributes:
        results: the typed results (`evals.results.Results`, as in ``results.json``).
    """

    results: Results

    def to_frame(self):
        """One row per (country, method): MIS and the other alignment metrics.

        Returns:
            pandas.DataFrame with columns country, method, n, mis, jsd, pearson,
            kendall_tau, spearman, flip_rate, and one column per moral dimension
            (the method's preference vector).
        """
        import pandas as pd

        dims = list(self.results.dimensions)
        rows = []
        for iso, entry in self.results.countries.items():
            for name, m in entry.methods.items():
                row = {"country": iso, "method": name, "n": entry.n}
                for key in ("mis", "jsd", "pearson", "kendall_tau", "spearman", "flip_rate"):
                    row[key] = getattr(m, key)
                row.update(zip(dims, m.vector or [None] * len(dims), strict=False))
                rows.append(row)
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        table = frame.pivot(index="country", columns="method", values="mis")
        return table.to_html(float_format=lambda x: f"{x:.4f}", na_rep="–")


def load_results(run: str | os.PathLike) -> RunResults:
    """Open a ``disca eval`` run folder (its results, recomputed if stale) as `RunResults`."""
    return RunResults(read_run_results(Path(run)))


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise DiscaError(f"lang must be native or en, got {lang!r}")
    return lang


class Session:
    """One loaded model for many questions; a context manager that closes it.

    Args:
        model: registry name or path to a ``.gguf`` (None: the registry default).
        lang: ``native`` (each country's language, as ``disca ask``) or ``en``.
        countries: the countries the model's context is sized for, their panels' prompts
            in `lang` (native prompts can be several times longer than English ones);
            default: the paper's 20. Another country may be asked too; a dilemma that
            does not fit then fails with one line.
        n_threads, n_gpu_layers, n_ctx: engine settings (None: defaults / registry).
        personas: a persona folder instead of the shipped panels.
        prefix_cache: keep persona-prefix KV states on disk for later processes.

    Raises:
        DiscaError: an unknown language or country, or the model cannot be opened.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        lang: str = "native",
        countries: str | Sequence[str] = "paper20",
        n_threads: int | None = None,
        n_gpu_layers: int | None = None,
        n_ctx: int | None = None,
        personas: str | os.PathLike | None = None,
        prefix_cache: bool = True,
    ) -> None:
        self.personas = None if personas is None else Path(personas)
        self.lang = _check_lang(lang)
        options = EngineOptions(
            model=None if model is None else str(model), n_threads=n_threads,
            n_gpu_layers=n_gpu_layers, n_ctx=n_ctx, prefix_cache=prefix_cache,
        )  # fmt: skip
        panels = [load_panel(c, self.personas) for c in self._countries(countries)]
        fit = ask_context([panel_prompts(panel, self.lang) for panel in panels])
        engine, self.model_info = open_engine(options, fit=fit)
        self.engine: Engine | None = engine

    def _countries(self, country: str | Sequence[str]) -> tuple[str, ...]:
        text = country if isinstance(country, str) else ",".join(country)
        return parse_countries(text, self.personas)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Free the model (idempotent)."""
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    def ask(
        self,
        option_a: str | Iterable[Mapping[str, Any]],
        option_b: str | None = None,
        *,
        country: str | Sequence[str] = "US",
        dilemma: str | None = None,
        category: str | None = None,
        variant: str = "paper",
        prior: bool = False,
        seed: int = 42,
    ) -> Answers:
        """Answer a dilemma (or many) as one or several countries' persona panels would.

        Args:
            option_a: option A (or the first group), or an iterable of input-line dicts
                (``{"left", "right"}`` or ``{"dilemma", "option_a", "option_b"}``, see
                ``disca ask --input``).
            option_b: option B (or the second group).
            country: ISO3/ISO2/name, a comma-separated list, a list, or ``paper20``.
            dilemma: the question text (None: the trolley frame with two groups).
            category: MultiTP category (sets T_cat), or None.
            variant: ``paper`` or ``reference``.
            prior: apply the sequential country prior.
            seed: IS seed.

        Returns:
            Answers, one per (dilemma, country), dilemmas in order, countries within.

        Raises:
            DiscaError: bad input, unknown country, a dilemma that does not fit.
        """
        if self.engine is None:
            raise DiscaError("this session is closed")
        panels = [load_panel(c, self.personas) for c in self._countries(country)]
        if isinstance(option_a, str):
            items = [make_input(option_a, option_b, dilemma=dilemma, category=category)]
        else:
            items = [
                parse_line(json.dumps(dict(line)), n, category)
                for n, line in enumerate(option_a, start=1)
            ]
        params = DiscaParams(variant, use_prior=prior)
        outcomes = answer_countries(
            self.engine, self.model_info, panels, items, params, seed=seed,
            load_panel=lambda query: load_panel(query, self.personas), lang=self.lang,
        )  # fmt: skip
        answers = Answers()
        for outcome in outcomes:
            if outcome.result is None:
                raise DiscaError(outcome.error or "no answer")
            answers.append(outcome.result)
        return answers


def eval_multitp(
    out: str | os.PathLike,
    countries: str | Sequence[str] = "paper20",
    *,
    model: str | os.PathLike | None = None,
    limit: int | None = None,
    lang: str = "native",
    seed: int = 42,
    variant: str = "paper",
    jobs: int = 1,
    n_threads: int | None = None,
    n_gpu_layers: int | None = None,
    personas: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool | str = True,
) -> RunResults:
    """Run (or resume) a MultiTP evaluation into the folder `out`: ``disca eval multitp``.

    Rerunning it with the same arguments resumes: what is in `out` is kept.

    Args:
        out: the run folder (created).
        countries: ISO3/ISO2/names, a comma-separated list, a list, or ``paper20``.
        model: registry name or path to a ``.gguf`` (None: the registry default).
        limit: only the first N pool scenarios per country.
        lang: ``native`` (each country's language, the paper's protocol) or ``en``.
        seed: IS seed.
        variant: ``paper`` or ``reference`` (the headline DISCA variant).
        jobs: worker processes, each with its own model.
        n_threads: CPU threads per worker (None: the CPUs shared out).
        n_gpu_layers: layers offloaded to a GPU (None: the registry's setting).
        personas: a persona folder instead of the shipped panels.
        force: replace a run with a different config in `out`.
        progress: True for a bar on stderr (rich: a terminal or a notebook), False for
            none, or a ``--display`` name (``plain``: a line every few seconds).

    Returns:
        The run's results (as `load_results` gives them).

    Raises:
        DiscaError: bad options, no human targets (`disca data pull moral-machine`), a
            run with another config in `out`.
        KeyboardInterrupt: the records so far are saved; call again to resume.
    """
    folder = None if personas is None else Path(personas)
    text = countries if isinstance(countries, str) else ",".join(countries)
    cfg = EvalConfig(
        out=Path(out), countries=parse_countries(text, folder), limit=limit,
        engine=EngineOptions(model=None if model is None else str(model), n_threads=n_threads,
                             n_gpu_layers=n_gpu_layers, prefix_cache=True),
        lang=_check_lang(lang), seed=seed, variant=variant, jobs=jobs, personas_dir=folder,
        force=force,
    )  # fmt: skip
    display = progress if isinstance(progress, str) else ("rich" if progress else "none")
    outcome = run_eval(cfg, progress=make_progress(display))
    if outcome.results is None:  # pragma: no cover - run_eval raises on an error
        raise DiscaError(f"{out}: the evaluation ended without results ({outcome.status})")
    return RunResults(outcome.results)
