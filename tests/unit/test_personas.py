"""Persona panels: rendering (USA verbatim), shipped files, cohort rule, loading errors, builder."""

from __future__ import annotations

import csv
import hashlib
import logging
from pathlib import Path

import pytest

from disca_edge.content.personas import (
    COHORT_SHIFT_DELTA,
    COHORTS,
    PAPER20,
    WVS_DIMENSIONS,
    PersonaFileError,
    WvsFileError,
    build_from_wvs,
    estimate_cohort_levels,
    list_panels,
    load_panel,
    normalised_score,
    panel_to_toml,
    parse_countries,
    render_persona,
    resolve_country,
    score_to_level,
)
from disca_edge.content.personas.files import tomllib
from disca_edge.errors import DiscaError, UnknownNameError
from disca_edge.paths import shipped_dir

SHIPPED = shipped_dir() / "personas"

# PERSONAS.md §7, quoted from the paper.
USA_YOUNG = (
    "You are a young adult from the United States, in your 20s and early 30s. Your worldview "
    "is shaped by the cultural values prevalent in your community. On matters of faith you are "
    "moderately religious. On raising children you are firmly oriented toward independence and "
    "imagination. On contested moral choices you are morally conservative on contested issues. "
    "In your dealings with strangers you have a guarded attitude toward strangers. Civically you "
    "are an active political participant who signs petitions, joins boycotts and takes part in "
    "lawful demonstrations. You are moderately proud of your country. Overall you are rather "
    "happy with your life. On the role of women in society you are moderately egalitarian on "
    "gender roles. In what you prioritise in life you are leaning materialist, prioritising "
    "economic and physical security. Toward people unlike yourself you are highly tolerant of "
    "outgroups such as immigrants, minorities and people with different lifestyles. When you "
    "face a moral dilemma, you weigh the choices through this set of values and answer in a way "
    "that is consistent with the worldview above."
)
USA_PAPER_LEVELS = {  # PERSONAS.md §7 fixture, dimension order 1-10
    "young": (2, 1, 3, 3, 1, 2, 2, 2, 3, 1),
    "middle": (2, 1, 4, 3, 1, 2, 2, 2, 3, 1),
    "older": (2, 1, 4, 3, 1, 1, 2, 2, 3, 1),
    "all": (2, 1, 4, 3, 1, 2, 2, 2, 3, 1),
}
CONSERVATIVE = "morally conservative on contested issues"
STRICT = "strictly opposed to such contested moral acts"


def _usa_expected() -> dict[str, str]:
    young_head = "a young adult from the United States, in your 20s and early 30s."
    middle = USA_YOUNG.replace(
        young_head, "a middle-aged adult from the United States, in your 40s or 50s."
    ).replace(CONSERVATIVE, STRICT)
    older = (
        USA_YOUNG.replace(young_head, "a senior citizen from the United States, over 60 years old.")
        .replace(CONSERVATIVE, STRICT)
        .replace("You are moderately proud of", "You are intensely proud of")
    )
    aggregate = USA_YOUNG.replace(young_head, "a adult citizen from the United States.").replace(
        CONSERVATIVE, STRICT
    )
    return {"young": USA_YOUNG, "middle": middle, "older": older, "all": aggregate}


# --- rendering ---------------------------------------------------------------------------


def test_render_reproduces_the_papers_usa_personas_from_the_spec_levels():
    expected = _usa_expected()
    for cohort, levels in USA_PAPER_LEVELS.items():
        text = render_persona(
            cohort, dict(zip(WVS_DIMENSIONS, levels, strict=True)), "the United States"
        )
        assert text == expected[cohort]


def test_shipped_usa_panel_renders_the_paper_verbatim():
    panel = load_panel("USA")
    assert panel.texts() == [_usa_expected()[c] for c in COHORTS]
    assert not any(p.estimated for p in panel.personas)
    assert panel.texts()[3].startswith("You are a adult citizen from the United States. Your")


def test_render_skips_null_dimensions_and_rejects_bad_levels():
    levels = dict.fromkeys(WVS_DIMENSIONS, 1) | {"happiness": None}
    text = render_persona("all", levels, "Japan")
    assert "Overall you are" not in text
    assert text.count(". ") == 11  # 12 sentences: header (2), 9 dimensions, closing
    with pytest.raises(ValueError, match="happiness"):
        render_persona("all", levels | {"happiness": 5}, "Japan")
    with pytest.raises(ValueError, match="cohort"):
        render_persona("teen", levels, "Japan")


def test_score_cut_and_normalisation_follow_the_spec():
    assert [score_to_level(s) for s in (1.0, 0.75, 0.7499, 0.5, 0.25, 0.2499, 0.0)] == [
        1, 1, 2, 2, 3, 4, 4,
    ]  # fmt: skip
    assert normalised_score("religiosity", 2.5) == 0.5  # (2.5 - 1) / 3
    assert normalised_score("gender_equality", 5.0) == 0.0  # clamp to 1, then flip
    assert normalised_score("tolerance", 0.1) == pytest.approx(0.9)  # flipped
    assert normalised_score("child_rearing", 0.0) is None  # mean <= 0 is skipped [C]
    assert normalised_score("happiness", None) is None


# --- shipped panels ----------------------------------------------------------------------


def test_all_twenty_shipped_panels_load_in_paper_order():
    panels = list_panels()
    assert tuple(p.iso3 for p in panels) == PAPER20
    for panel in panels:
        assert panel.path == SHIPPED / f"{panel.iso3}.toml"
        assert [p.cohort for p in panel.personas] == list(COHORTS)
        assert all(None not in p.levels.values() for p in panel.personas)
        if panel.iso3 == "VNM":  # the paper prints all four (I18N.md §6)
            assert panel.provenance == "paper-printed"
            assert "printed in the DISCA paper" in panel.provenance_statement
        else:
            assert panel.provenance == "authored-estimate"
            assert "not computed from WVS microdata" in panel.provenance_statement
        assert len(set(panel.texts())) >= 2  # the aggregate header always differs
        assert panel.texts()[0].startswith(f"You are a young adult from {panel.country_name},")
        assert len(panel.sha256()) == 64


def test_cohort_levels_follow_the_documented_rule():
    for panel in list_panels():
        all_scores = panel.persona("all").scores
        assert None not in all_scores.values()
        if panel.iso3 in ("USA", "VNM"):  # cohorts taken from the paper's printed personas
            continue
        rule = estimate_cohort_levels(all_scores)
        assert panel.source["cohort_shift_delta"] == COHORT_SHIFT_DELTA
        for persona in panel.personas:
            assert persona.levels == rule[persona.cohort], (panel.iso3, persona.cohort)
            assert persona.estimated == (persona.cohort != "all")


def test_cohort_rule_reproduces_the_papers_usa_cohorts_from_population_scores():
    """The calibration check for COHORT_SHIFT_DELTA (personas/README.md)."""
    usa = load_panel("USA")
    rule = estimate_cohort_levels(usa.persona("all").scores)
    for cohort, levels in USA_PAPER_LEVELS.items():
        assert tuple(rule[cohort][k] for k in WVS_DIMENSIONS) == levels


def test_panel_hash_is_stable_and_tracks_levels(tmp_path):
    assert load_panel("JPN").sha256() == load_panel("jp").sha256()
    text = (SHIPPED / "JPN.toml").read_text(encoding="utf-8")
    (tmp_path / "JPN.toml").write_text(
        text.replace("happiness = 2", "happiness = 1", 1), encoding="utf-8"
    )
    assert load_panel("JPN", tmp_path).sha256() != load_panel("JPN").sha256()


def test_shipped_population_levels_equal_the_wvs7_aggregates(shared_data):
    """The 'all' levels and scores were written from LEVELS.md's table; check all 20."""
    path = shared_data / "wvs" / "derived_disca_levels" / "wvs7_disca_population_levels.csv"
    names = {
        "religiosity": "religiosity", "child_rearing": "child_rearing",
        "moral": "moral_acceptability", "trust": "social_trust",
        "political": "political_participation", "pride": "national_pride",
        "happiness": "happiness", "gender": "gender_equality",
        "materialism": "materialism", "tolerance": "tolerance",
    }  # fmt: skip
    rows = [r for r in csv.DictReader(path.open(encoding="utf-8")) if r["dimension"] in names]
    assert len(rows) == 200
    for row in rows:
        panel = load_panel(row["iso3"])
        key = names[row["dimension"]]
        persona = panel.persona("all")
        assert persona.levels[key] == int(row["level"]), (row["iso3"], key)
        assert persona.scores[key] == pytest.approx(float(row["score"]), abs=5e-5)
        assert (key in panel.source["borderline"]) == (row["borderline_within_0.01"] == "yes")


# --- country resolution ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, iso3",
    [
        ("JPN", "JPN"), ("jpn", "JPN"), ("JP", "JPN"), ("jp", "JPN"), ("Japan", "JPN"),
        (" japan ", "JPN"), ("日本", "JPN"), ("United States", "USA"),
        ("the united states", "USA"), ("U.S.", "USA"), ("UK", "GBR"), ("gb", "GBR"),
        ("Viet Nam", "VNM"), ("viet nam", "VNM"), ("Việt Nam", "VNM"), ("Mexico", "MEX"),
        ("méxico", "MEX"), ("Burma", "MMR"), ("Kyrgyz Republic", "KGZ"),
    ],
)  # fmt: skip
def test_resolve_country_accepts_codes_and_names(query, iso3):
    assert resolve_country(query) == iso3


def test_parse_countries_expands_paper20_and_keeps_first_mentions():
    assert parse_countries("paper20") == PAPER20
    assert parse_countries("jp, Japan,USA") == ("JPN", "USA")
    assert parse_countries(" de ,, paper20") == ("DEU", *(c for c in PAPER20 if c != "DEU"))
    with pytest.raises(UnknownNameError, match="unknown country 'Japn'"):
        parse_countries("USA,Japn")
    with pytest.raises(DiscaError, match="no countries given"):
        parse_countries(" , ")


def test_parse_countries_resolves_in_the_given_folder(tmp_path):
    (tmp_path / "JPN.toml").write_bytes((shipped_dir() / "personas" / "JPN.toml").read_bytes())
    assert parse_countries("japan", tmp_path) == ("JPN",)
    assert parse_countries("japan", str(tmp_path)) == ("JPN",)
    with pytest.raises(UnknownNameError, match="known: JPN"):
        parse_countries("USA", tmp_path)


def test_unknown_country_suggests_close_matches():
    with pytest.raises(UnknownNameError) as info:
        resolve_country("Japn")
    assert str(info.value) == "unknown country 'Japn'; did you mean JPN (Japan)?"
    assert isinstance(info.value, KeyError) and isinstance(info.value, DiscaError)
    with pytest.raises(UnknownNameError, match=r"unknown country 'XX'; known: ARG, BGD"):
        load_panel("XX")


# --- malformed files ---------------------------------------------------------------------


def _write_variant(tmp_path: Path, old: str, new: str, name: str = "JPN") -> Path:
    text = (SHIPPED / "JPN.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("tolerance = 2\n", "", "personas[0] (young): missing dimension 'tolerance' in levels"),
        ("religiosity = 4", "religiosity = 5", "level of 'religiosity' must be 1-4"),
        ("religiosity = 4", "religiosity = true", "level of 'religiosity' must be 1-4"),
        ("religiosity = 4", "religion = 4", "unknown dimension 'religion' in levels"),
        ('cohort = "middle"', 'cohort = "teen"', "cohort must be one of young, middle"),
        ('cohort = "middle"', 'cohort = "young"', "cohort 'young' appears twice"),
        ("estimated = true", 'estimated = "yes"', "'estimated' must be true or false"),
        ('language = "ja"', "", "missing field 'language'"),
        ('provenance = "authored-estimate"', 'provenance = "vibes"', "provenance must be"),
        ("disca-persona-panel/1", "disca-persona-panel/9", "schema must be"),
        ('iso3 = "JPN"', 'iso3 = "JPN', "invalid TOML"),
        ("religiosity = 0.2481", "religiosity = 1.7", "score of 'religiosity' must be"),
    ],
)
def test_malformed_files_are_reported_with_path_and_problem(tmp_path, old, new, message):
    path = _write_variant(tmp_path, old, new)
    with pytest.raises(PersonaFileError) as info:
        load_panel("JPN", tmp_path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    with pytest.raises(PersonaFileError):
        list_panels(tmp_path)


def test_file_name_must_match_iso3(tmp_path):
    _write_variant(tmp_path, 'iso2 = "JP"', 'iso2 = "JP"', name="XYZ")
    with pytest.raises(PersonaFileError, match=r"XYZ.toml: iso3 'JPN' does not match"):
        load_panel("XYZ", tmp_path)


def test_skip_levels_load_as_none_and_round_trip(tmp_path):
    _write_variant(tmp_path, "happiness = 2", 'happiness = "skip"')
    panel = load_panel("Japan", tmp_path)
    assert panel.personas[0].levels["happiness"] is None
    assert "Overall you are" not in panel.texts()[0]


def test_toml_writer_round_trips_awkward_strings():
    data = {
        "iso3": "ABC", "iso2": "", "name": 'Say "hi"', "native_name": "back\\slash\ttab",
        "country_name": "Ünïcode 日本", "language": "und", "aliases": ["a", "line\nbreak"],
        "provenance": "wvs7-microdata",
        "source": {"n": 3, "ok": True, "items": [], "sub": {"x": 0.5}},
        "personas": [
            {"cohort": c, "estimated": False, "levels": dict.fromkeys(WVS_DIMENSIONS, 3) | {"tolerance": None}}
            for c in COHORTS
        ],
    }  # fmt: skip
    parsed = tomllib.loads(panel_to_toml(data, comment="two\nlines"))
    for key in ("name", "native_name", "country_name", "aliases", "iso2"):
        assert parsed[key] == data[key]
    assert parsed["source"] == {"n": 3, "ok": True, "items": [], "sub": {"x": 0.5}}
    assert parsed["personas"][0]["levels"]["tolerance"] == "skip"


def test_toml_writer_refuses_values_toml_cannot_hold():
    levels = dict.fromkeys(WVS_DIMENSIONS, 2)
    base = {"iso3": "ABC", "personas": [{"cohort": "all", "estimated": False, "levels": levels}]}
    with pytest.raises(ValueError, match="nan"):
        panel_to_toml({**base, "source": {"x": float("nan")}})
    with pytest.raises(TypeError, match="object"):
        panel_to_toml({**base, "source": {"x": object()}})


# --- builder -----------------------------------------------------------------------------

ITEMS = [
    "Q6P", "Q17P", "Q177", "Q178", "Q179", "Q180", "Q181", "Q182", "Q57P", "Q199P", "Q200P",
    "Q254P", "Q46P", "Q29P", "Q30P", "Q31P", "Q33P", "Q152", "Q153",
    "Q19P", "Q20P", "Q21P", "Q22P", "Q23P",
]  # fmt: skip

# (country, survey year, birth year, item values in ITEMS order). Negative codes are missing.
RESPONDENTS = [
    # r1 JPN, age 29 -> young
    ("JPN", 2019, 1990, [4, 0, 10, 10, 10, 10, 10, 10, 2, 4, 3, 3, 3, 1, 1, 1, 1, 3, 3, 0, 0, 0, 0, 0]),
    # r2 JPN, age 35 -> young (last young age)
    ("JPN", 2019, 1984, [-1, 0, 10, 10, 10, 10, 10, -2, 2, 4, 3, 3, 3, 1, 1, 1, 1, 3, 3, 0, 0, 0, 0, 1]),
    # r3 JPN, age 36 -> middle
    ("JPN", 2019, 1983, [3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 4, 3, 4, 4, 4, 5, 1, 2, 1, 1, 1, 1, 1]),
    # r4 JPN, age 55 -> middle (last middle age)
    ("JPN", 2019, 1964, [2, 0, 1, 1, 1, 1, 1, 1, 2, 1, 1, 4, 3, 4, 4, 4, 5, 2, 1, 1, 1, 1, 1, -5]),
    # r5 JPN, age 56 -> older
    ("JPN", 2019, 1963, [1, 1, 1, 1, 1, 10, 10, 10, 1, 3, -4, 4, 3, 2, 2, 2, 2, 1, 1, 0, 1, 0, 1, 0]),
    # dropped by the respondent filter: birth < 1900, survey < 2015, birth > 2010
    ("JPN", 2019, 1899, [1] * 24),
    ("JPN", 2014, 1980, [1] * 24),
    ("JPN", 2019, 2011, [1] * 24),
    # ZZZ has no shipped panel; its only respondent is older (age 70)
    ("ZZZ", 2020, 1950, [4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]),
]  # fmt: skip

# Worked by hand from RESPONDENTS with PERSONAS.md §4 (score, then level).
# religiosity Q6P, 1-4, +: young [4] -> 1.0; middle [3, 2] -> 2.5 -> 0.5;
#   older [1] -> 0.0; all [4, 3, 2, 1] -> 0.5.
# child_rearing Q17P, 0-1, -: young [0, 0] -> mean 0 -> skipped; middle [1, 0] -> 1 - 0.5;
#   older [1] -> 1 - 1 = 0; all [0, 0, 1, 0, 1] = 0.4 -> 0.6.
# moral Q177-Q182, 1-10, +: young 11 x 10 -> 1.0; middle 12 x 1 -> 0.0;
#   older [1,1,1,10,10,10] = 5.5 -> 0.5; all 155 / 29 = 5.3448 -> 4.3448 / 9 = 0.48276.
# trust Q57P, 1-2, +: young [2, 2] -> 1.0; middle [1, 2] -> 0.5; older [1] -> 0.0;
#   all 8 / 5 = 1.6 -> 0.6.
# political Q199P+Q200P pooled, 1-3, +: young [4,3,4,3] = 3.5 -> 1.25 -> clamp 1.0;
#   middle [2,2,1,1] = 1.5 -> 0.25; older [3] -> 1.0; all 23 / 9 = 2.5556 -> 0.77778.
# pride Q254P, 1-4, +: young [3, 3] -> 0.66667; middle [4, 4] -> 1.0; older [4] -> 1.0;
#   all 18 / 5 = 3.6 -> 0.86667.
# happiness Q46P: 3 everywhere -> 0.66667.
# gender Q29P-Q31P+Q33P pooled, 1-4, -: young all 1 -> 1 - 0 = 1.0;
#   middle [4,4,4,5] x 2 = 4.25 -> clamp 1 -> 0.0; older [2,2,2,2] -> 1 - 1/3 = 0.66667;
#   all 50 / 20 = 2.5 -> 1 - 0.5 = 0.5.
# materialism Q152+Q153, 1-3, +: young [3,3,3,3] -> 1.0; middle [1,2,2,1] = 1.5 -> 0.25;
#   older [1, 1] -> 0.0; all 20 / 10 = 2.0 -> 0.5.
# tolerance Q19P-Q23P pooled, 0-1, -: young 1 / 10 -> 0.9; middle 9 / 9 -> 0.0;
#   older 2 / 5 -> 0.6; all 12 / 24 -> 0.5.
EXPECTED_SCORES = {
    "young": [1.0, None, 1.0, 1.0, 1.0, 2 / 3, 2 / 3, 1.0, 1.0, 0.9],
    "middle": [0.5, 0.5, 0.0, 0.5, 0.25, 1.0, 2 / 3, 0.0, 0.25, 0.0],
    "older": [0.0, 0.0, 0.5, 0.0, 1.0, 1.0, 2 / 3, 2 / 3, 0.0, 0.6],
    "all": [0.5, 0.6, 4.3448276 / 9, 0.6, 0.7777778, 0.8666667, 2 / 3, 0.5, 0.5, 0.5],
}
EXPECTED_LEVELS = {
    "young": [1, None, 1, 1, 1, 2, 2, 1, 1, 1],
    "middle": [2, 2, 4, 2, 3, 1, 2, 4, 3, 4],
    "older": [4, 4, 2, 4, 1, 1, 2, 2, 4, 2],
    "all": [2, 2, 3, 2, 1, 1, 2, 2, 2, 2],
}


def write_wvs_csv(path: Path, respondents=RESPONDENTS, drop: tuple[str, ...] = ()) -> Path:
    """A WVS-shaped CSV: extra columns, a quoted comma, weights that must be ignored."""
    header = ["version", "B_COUNTRY_ALPHA", "A_YEAR", "W_WEIGHT", "Q1", "Q261"] + ITEMS
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([c for c in header if c not in drop])
        for iso3, year, birth, values in respondents:
            row = ["v6.0, inverted", iso3, year, 7.5, 1, birth, *values]
            writer.writerow([v for c, v in zip(header, row, strict=True) if c not in drop])
    return path


class _Recorder:
    def __init__(self):
        self.total = 0

    def update(self, n: int) -> None:
        self.total += n


def test_builder_applies_the_spec_exactly(tmp_path):
    wvs = write_wvs_csv(tmp_path / "WVS_Cross-National_Wave_7_inverted_csv_v6_0.csv")
    recorder = _Recorder()
    paths = build_from_wvs(wvs, tmp_path / "out", progress=recorder, chunksize=2)
    assert [p.name for p in paths] == ["JPN.toml", "ZZZ.toml"]
    assert recorder.total == wvs.stat().st_size

    panel = load_panel("jpn", tmp_path / "out")
    assert (panel.name, panel.native_name, panel.language) == ("Japan", "日本", "ja")
    assert panel.provenance == "wvs7-microdata"
    assert panel.source["input_sha256"] == hashlib.sha256(wvs.read_bytes()).hexdigest()
    assert panel.source["n_respondents"] == {"young": 2, "middle": 2, "older": 1, "all": 5}
    assert panel.source["missing_items"] == []
    for persona in panel.personas:
        assert not persona.estimated
        assert [persona.levels[k] for k in WVS_DIMENSIONS] == EXPECTED_LEVELS[persona.cohort]
        got = [persona.scores[k] for k in WVS_DIMENSIONS]
        want = EXPECTED_SCORES[persona.cohort]
        assert got == [None if w is None else pytest.approx(w, abs=1e-6) for w in want]
    assert "On raising children" not in panel.texts()[0]  # skipped for the young

    zzz = load_panel("ZZZ", tmp_path / "out")
    assert zzz.iso2 == "" and zzz.language == "und"
    assert zzz.persona("young").levels == dict.fromkeys(WVS_DIMENSIONS)
    assert zzz.persona("all").levels == zzz.persona("older").levels


def test_builder_chunking_and_country_filter_do_not_change_results(tmp_path):
    wvs = write_wvs_csv(tmp_path / "wvs.csv")
    one = build_from_wvs(wvs, tmp_path / "a", chunksize=100_000)
    many = build_from_wvs(wvs, tmp_path / "b", countries=["jp"], chunksize=1)
    assert [p.name for p in many] == ["JPN.toml"]
    assert one[0].read_text(encoding="utf-8") == many[0].read_text(encoding="utf-8")


def test_builder_reports_unusable_input(tmp_path, caplog):
    wvs = write_wvs_csv(tmp_path / "wvs.csv", drop=("Q46P",))
    with caplog.at_level(logging.WARNING):
        build_from_wvs(wvs, tmp_path / "out", countries=["JPN"])
    assert "Q46P not found" in caplog.text
    panel = load_panel("JPN", tmp_path / "out")
    assert panel.source["missing_items"] == ["Q46P"]
    assert all(p.levels["happiness"] is None for p in panel.personas)

    with pytest.raises(WvsFileError, match="no valid respondents for USA"):
        build_from_wvs(wvs, tmp_path / "out", countries=["USA"])
    no_year = write_wvs_csv(tmp_path / "no_year.csv", drop=("A_YEAR",))
    with pytest.raises(WvsFileError, match="column A_YEAR not found"):
        build_from_wvs(no_year, tmp_path / "out")
    plain = tmp_path / "plain.csv"
    plain.write_text("B_COUNTRY_ALPHA,A_YEAR,Q261,Q6\nJPN,2019,1990,1\n", encoding="utf-8")
    with pytest.raises(WvsFileError, match="inverted"):
        build_from_wvs(plain, tmp_path / "out")
