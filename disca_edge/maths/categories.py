"""The six MultiTP categories: names, the three orders they appear in, labels and T_cat fields.

This is the only module that spells the categories out (MULTITP.md §3, §5, §8; DISCA.md
§3). A *category* names what a scenario trades off (``SocialValue``); its *dimension*
is the category joined with its preferred side (``SocialValue_High``), the column name
of the human preference vectors. Three orders are in use, each for a reason:

* `CATEGORIES`: MultiTP's generation order (MULTITP.md §5), the order of the 460 rows;
* `DIMENSIONS`: MultiTP's reporting order (MULTITP.md §8, §10), the order of every
  preference vector ``ndarray[6]``;
* `DISCA_ORDER`: the order DISCA.md lists the per-category temperatures T_cat in.

Pure module: no I/O.
"""

from __future__ import annotations

import difflib
import re

from ..errors import UnknownNameError

__all__ = [
    "SPECIES",
    "SOCIAL_VALUE",
    "GENDER",
    "AGE",
    "FITNESS",
    "UTILITARIANISM",
    "CATEGORIES",
    "PREFERRED_LABEL",
    "DIMENSIONS",
    "DIMENSION_OF_CATEGORY",
    "CATEGORY_OF_DIMENSION",
    "DISCA_ORDER",
    "TCAT_FIELD",
    "find_category",
    "normalize_category",
    "short_label",
]

#: The category names, one constant each, for tables keyed by category.
SPECIES = "Species"
SOCIAL_VALUE = "SocialValue"
GENDER = "Gender"
AGE = "Age"
FITNESS = "Fitness"
UTILITARIANISM = "Utilitarianism"

#: The six categories in MultiTP's generation order (MULTITP.md §5).
CATEGORIES: tuple[str, ...] = (SPECIES, SOCIAL_VALUE, GENDER, AGE, FITNESS, UTILITARIANISM)

#: Preferred-side label per category (MULTITP.md §3): the group a "human-like" answer spares.
PREFERRED_LABEL: dict[str, str] = {
    SPECIES: "Humans",
    SOCIAL_VALUE: "High",
    GENDER: "Female",
    AGE: "Young",
    FITNESS: "Fit",
    UTILITARIANISM: "More",
}

#: The six dimensions in MultiTP's reporting order (MULTITP.md §8, §10): the axis of
#: every preference vector ``ndarray[6]``.
DIMENSIONS: tuple[str, ...] = tuple(
    f"{c}_{PREFERRED_LABEL[c]}"
    for c in (SPECIES, GENDER, FITNESS, SOCIAL_VALUE, AGE, UTILITARIANISM)
)

#: Category -> dimension name (``"Age"`` -> ``"Age_Young"``).
DIMENSION_OF_CATEGORY: dict[str, str] = {c: f"{c}_{PREFERRED_LABEL[c]}" for c in CATEGORIES}

#: Dimension name -> category (``"Age_Young"`` -> ``"Age"``): the short label in tables.
CATEGORY_OF_DIMENSION: dict[str, str] = {d: c for c, d in DIMENSION_OF_CATEGORY.items()}

#: The categories in the order DISCA.md lists T_cat (and `core.DiscaParams` its fields).
DISCA_ORDER: tuple[str, ...] = (SPECIES, GENDER, AGE, FITNESS, SOCIAL_VALUE, UTILITARIANISM)

#: Category -> the `core.DiscaParams` field holding its logit temperature T_cat.
TCAT_FIELD: dict[str, str] = {
    SPECIES: "t_cat_species",
    GENDER: "t_cat_gender",
    AGE: "t_cat_age",
    FITNESS: "t_cat_fitness",
    SOCIAL_VALUE: "t_cat_social_value",
    UTILITARIANISM: "t_cat_utilitarianism",
}

_BY_SQUASHED = {c.lower(): c for c in CATEGORIES}
_BY_SQUASHED_DIMENSION = {(c + PREFERRED_LABEL[c]).lower(): c for c in CATEGORIES}


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


def find_category(name: str, *, dimension_names: bool = True) -> str | None:
    """Canonical category of a spelling, or None when it names none.

    Args:
        name: any case, snake_case, kebab-case or spaced spelling (``social_value``).
        dimension_names: also accept dimension names (``SocialValue_High``).

    Returns:
        The category as spelled in `CATEGORIES`, or None.
    """
    squashed = _squash(str(name))
    found = _BY_SQUASHED.get(squashed)
    if found is None and dimension_names:
        found = _BY_SQUASHED_DIMENSION.get(squashed)
    return found


def normalize_category(name: str) -> str:
    """Canonical category name from any case, snake_case or spaced spelling.

    Also accepts the MultiTP dimension names (``SocialValue_High``).

    Args:
        name: the spelling to resolve.

    Returns:
        The category as spelled in `CATEGORIES`.

    Raises:
        UnknownNameError: the name matches no category (lists close matches).
    """
    found = find_category(name)
    if found is not None:
        return found
    squashed = _squash(str(name))
    close = difflib.get_close_matches(squashed, list(_BY_SQUASHED), n=3, cutoff=0.5)
    snake = {c: re.sub(r"(?<!^)(?=[A-Z])", "_", c).lower() for c in CATEGORIES}  # as --help
    hint = [snake[c] for c in CATEGORIES if c.lower() in close]
    suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
    raise UnknownNameError(
        f"unknown category {name!r} (expected one of {', '.join(snake.values())}){suggestion}"
    )


def short_label(dimension: str) -> str:
    """Table label of a dimension: its category (``Age_Young`` -> ``Age``); others unchanged."""
    return CATEGORY_OF_DIMENSION.get(dimension, dimension)
