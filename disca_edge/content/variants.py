"""Prompt variants of a MultiTP run: pool caps, oversampling, fourth persona, dropped dimensions.

They change what the model is asked, so they need a model run (``disca eval multitp``)
and are part of the run's fingerprinted config; rescoring cannot produce them.

* Pool (MULTITP.md §7): ``cap`` rows per category (80, the paper's; 40 and 120 are the
  cap variants, None no cap) and ``min_per_category`` (0; 36 is the paper's text's
  oversampling with replacement, which the released code does not do). An oversampled
  row repeats a vignette: its record id gets ``#k`` for the k-th repeat.
* Fourth persona (PERSONAS.md §9): ``aggregate`` (default) or ``utilitarian``, the
  authors' utilitarian anchor (``utilitarian_persona`` of the language tables) replacing
  the aggregate persona. The panel holds its English text; the run renders it in the
  personas' language (`pipeline.panel_prompts`), with ``anchor_text`` "fixed" (the
  country named) or "released" (``{country_name}`` left unfilled, as the released code
  sends it). Not the English anchors of the persona-count sweep (BASELINES.md §11).
* ``drop_dims``: WVS dimensions left out of every persona text (PERSONAS.md §10).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import DiscaError
from . import i18n, personas, scenarios

__all__ = [
    "DEFAULT_CAP",
    "FOURTH",
    "UTILITARIAN",
    "parse_cap",
    "parse_drop_dims",
    "pool",
    "record_ids",
    "panel_for",
]

DEFAULT_CAP = 80

#: The cohort name of the utilitarian anchor persona in a panel.
UTILITARIAN = "utilitarian"

#: Fourth-persona choices.
FOURTH = ("aggregate", UTILITARIAN)


def parse_cap(text: str | int | None) -> int | None:
    """``"80"`` -> 80; ``"none"`` -> None (no cap).

    Raises:
        DiscaError: not a positive integer or ``none``.
    """
    if text is None:
        return DEFAULT_CAP
    if str(text).strip().lower() in ("none", "no", "off"):
        return None
    try:
        cap = int(text)
    except ValueError:
        raise DiscaError(f"--cap must be a positive integer or none, got {text!r}") from None
    if cap < 1:
        raise DiscaError(f"--cap must be >= 1, got {cap}")
    return cap


def parse_drop_dims(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"religiosity,tolerance"`` -> the dimension keys, in persona-text order.

    Raises:
        DiscaError: an unknown dimension (the message lists the known ones).
    """
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    keys = [spec.key for spec in personas.WVS_DIMENSION_SPECS]
    wanted = {p.strip().lower().replace("-", "_").replace(" ", "_") for p in parts if p.strip()}
    unknown = sorted(wanted - set(keys))
    if unknown:
        raise DiscaError(
            f"--drop-dims: unknown dimension {', '.join(unknown)} (known: {', '.join(keys)})"
        )
    if len(wanted) == len(keys):
        raise DiscaError("--drop-dims cannot drop every dimension")
    return tuple(k for k in keys if k in wanted)


def pool(
    data_seed: int = 42, cap: int | None = DEFAULT_CAP, min_per_category: int = 0
) -> list[scenarios.Vignette]:
    """The DISCA pool of a run (`scenarios.disca_pool`; ``cap`` None means no cap)."""
    if min_per_category < 0:
        raise DiscaError(f"--min-per-category must be >= 0, got {min_per_category}")
    return scenarios.disca_pool(
        data_seed, cap=10**9 if cap is None else cap, min_per_category=min_per_category
    )


def record_ids(vignettes: Sequence[Any]) -> list[str]:
    """Record id per pool position: the scenario id, ``#k`` added for the k-th repeat."""
    seen: dict[str, int] = {}
    out = []
    for v in vignettes:
        k = seen.get(v.scenario_id, 0)
        seen[v.scenario_id] = k + 1
        out.append(v.scenario_id if k == 0 else f"{v.scenario_id}#{k}")
    return out


def panel_for(
    iso3: str,
    fourth: str = "aggregate",
    drop_dims: Sequence[str] = (),
    personas_dir: str | os.PathLike | None = None,
) -> personas.Panel:
    """A country's persona panel under the run's persona variants.

    Args:
        iso3: the country.
        fourth: ``aggregate`` (the shipped panel) or ``utilitarian`` (the utilitarian
            anchor replaces the aggregate persona: its English text, the country named;
            `pipeline.panel_prompts` renders the language and wording of a run).
        drop_dims: dimension keys whose sentences every persona text leaves out.
        personas_dir: the persona folder (None: the shipped panels).

    Returns:
        personas.Panel (its ``sha256`` covers the changed texts and levels).
    """
    if fourth not in FOURTH:
        raise DiscaError(f"--fourth must be one of {', '.join(FOURTH)}, got {fourth!r}")
    panel = personas.load_panel(iso3, None if personas_dir is None else Path(personas_dir))
    if not drop_dims and fourth == "aggregate":
        return panel
    members = []
    for persona in panel.personas:
        if persona.cohort == "all" and fourth == UTILITARIAN:
            text = i18n.language("en").utilitarian_text(panel.country_name)
            persona = personas.Persona(
                cohort=UTILITARIAN, levels={}, scores={}, estimated=False, text=text
            )
        elif drop_dims:
            levels = {k: (None if k in drop_dims else v) for k, v in persona.levels.items()}
            text = personas.render_persona(persona.cohort, levels, panel.country_name)
            persona = dataclasses.replace(persona, levels=levels, text=text)
        members.append(persona)
    return dataclasses.replace(panel, personas=tuple(members))
