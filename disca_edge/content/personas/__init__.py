"""Persona panels: four WVS-grounded personas per country (PERSONAS.md), loaded, rendered, built.

A panel is one TOML file per country (`personas/ISO3.toml`, format in `personas/README.md`).
It stores descriptor *levels* (1-4 per dimension and cohort); the persona text is always
rendered here from the levels with the spec's English templates, never stored.

Three ways a panel comes to exist:

* shipped, ``provenance = "authored-estimate"``: levels set from published WVS-7 country
  aggregates, age cohorts estimated by the documented shift rule (`estimate_cohort_levels`);
* built locally, ``provenance = "wvs7-microdata"``: `build_from_wvs` applies PERSONAS.md
  §3-§4 to a user-supplied WVS-7 cross-national CSV (WVS terms forbid shipping it);
* written by hand by a user who adds a country.

Modules: `render` (WVS dimensions, scoring, persona text), `panel` (the panel model,
parsing, country lookup), `files` (TOML read/write), `wvs` (the microdata builder).
"""

from __future__ import annotations

from .files import SCHEMA, PersonaFileError, panel_to_toml
from .panel import (
    PAPER20,
    PROVENANCES,
    Panel,
    Persona,
    list_panels,
    load_panel,
    parse_countries,
    resolve_country,
)
from .render import (
    COHORT_SHIFT_DELTA,
    COHORT_SHIFT_SIGN,
    COHORTS,
    WVS_DIMENSION_SPECS,
    WVS_DIMENSIONS,
    WvsDimensionSpec,
    estimate_cohort_levels,
    normalised_score,
    render_persona,
    score_to_level,
)
from .wvs import WvsFileError, build_from_wvs

__all__ = [
    "COHORTS",
    "COHORT_SHIFT_DELTA",
    "COHORT_SHIFT_SIGN",
    "WVS_DIMENSIONS",
    "WVS_DIMENSION_SPECS",
    "PAPER20",
    "PROVENANCES",
    "SCHEMA",
    "WvsDimensionSpec",
    "Panel",
    "Persona",
    "PersonaFileError",
    "WvsFileError",
    "build_from_wvs",
    "estimate_cohort_levels",
    "list_panels",
    "load_panel",
    "normalised_score",
    "panel_to_toml",
    "parse_countries",
    "render_persona",
    "resolve_country",
    "score_to_level",
]
