"""The categories module: the one place naming the six MultiTP categories and their orders."""

from __future__ import annotations

import ast
import pathlib

import pytest

from disca_edge.errors import UnknownNameError
from disca_edge.maths import categories, core
from disca_edge.maths.categories import (
    CATEGORIES,
    CATEGORY_OF_DIMENSION,
    DIMENSION_OF_CATEGORY,
    DIMENSIONS,
    DISCA_ORDER,
    TCAT_FIELD,
    find_category,
    normalize_category,
    short_label,
)


def test_orders():
    assert CATEGORIES == ("Species", "SocialValue", "Gender", "Age", "Fitness", "Utilitarianism")
    assert DIMENSIONS == (
        "Species_Humans",
        "Gender_Female",
        "Fitness_Fit",
        "SocialValue_High",
        "Age_Young",
        "Utilitarianism_More",
    )
    assert DISCA_ORDER == ("Species", "Gender", "Age", "Fitness", "SocialValue", "Utilitarianism")
    assert sorted(DISCA_ORDER) == sorted(CATEGORIES) == sorted(CATEGORY_OF_DIMENSION.values())
    assert DIMENSION_OF_CATEGORY["SocialValue"] == "SocialValue_High"
    assert [CATEGORY_OF_DIMENSION[DIMENSION_OF_CATEGORY[c]] for c in CATEGORIES] == list(CATEGORIES)


def test_tcat_fields_are_params_fields():
    params = core.DiscaParams()
    for category, field in TCAT_FIELD.items():
        assert params.t_cat(category) == getattr(params, field)
    assert set(TCAT_FIELD) == set(CATEGORIES)


def test_params_list_the_temperatures_in_disca_order():
    fields = [f for f in core.DiscaParams().to_dict() if f.startswith("t_cat_")]
    assert fields == [TCAT_FIELD[c] for c in DISCA_ORDER] + ["t_cat_default"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Species", "Species"),
        ("species", "Species"),
        ("social_value", "SocialValue"),
        ("SOCIALVALUE", "SocialValue"),
        ("Social Value", "SocialValue"),
        ("social-value", "SocialValue"),
        ("SocialValue_High", "SocialValue"),
        ("utilitarianism", "Utilitarianism"),
    ],
)
def test_normalize_category(name, expected):
    assert normalize_category(name) == expected


def test_normalize_category_unknown_suggests():
    with pytest.raises(UnknownNameError, match="did you mean species"):
        normalize_category("specis")
    with pytest.raises(KeyError):  # UnknownNameError is a KeyError too
        normalize_category("weather")


def test_find_category_dimension_names_switch():
    assert find_category("Age_Young") == "Age"
    assert find_category("Age_Young", dimension_names=False) is None
    assert find_category("Religion") is None


def test_short_label():
    assert [short_label(d) for d in DIMENSIONS] == [CATEGORY_OF_DIMENSION[d] for d in DIMENSIONS]
    assert short_label("mean") == "mean"


#: Tables that name categories as data of another concept, each with its reason.
ALLOWED = {
    "content/human_targets.py:ACME_LABELS",  # the Moral Machine file's own label vocabulary
    "content/human_targets.py:LABEL_TO_DIMENSION",  # that vocabulary -> dimension (its format)
}


def _statement_name(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id
    return getattr(stmt, "name", f"line {stmt.lineno}")


def test_no_other_module_spells_the_categories():
    """A literal with three or more category or dimension names lives only in categories.py."""
    names = set(CATEGORIES) | set(DIMENSIONS)
    package = pathlib.Path(categories.__file__).parents[1]
    offenders = set()
    for path in sorted(package.rglob("*.py")):
        if path.name == "categories.py":
            continue
        for stmt in ast.parse(path.read_text(encoding="utf-8")).body:
            for node in ast.walk(stmt):
                if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
                    items = [*node.keys, *node.values] if isinstance(node, ast.Dict) else node.elts
                    spelled = {i.value for i in items if isinstance(i, ast.Constant)} & names
                    if len(spelled) >= 3:
                        where = path.relative_to(package).as_posix()
                        offenders.add(f"{where}:{_statement_name(stmt)}")
    assert offenders - ALLOWED == set()
    assert offenders >= ALLOWED  # an entry that no longer matches is removed from ALLOWED
