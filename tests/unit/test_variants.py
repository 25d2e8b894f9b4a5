"""Protocol variants: pool caps and oversampling, record ids, persona variants, option parsing."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from disca_edge import pipeline
from disca_edge.cli import cli
from disca_edge.content import i18n, personas, variants
from disca_edge.errors import DiscaError


def per_category(pool) -> dict[str, int]:
    return dict(Counter(v.category for v in pool))


def test_default_pool_is_the_papers_310():
    pool = variants.pool()
    assert len(pool) == 310 and per_category(pool)["SocialValue"] == 80
    assert variants.record_ids(pool) == [v.scenario_id for v in pool]


@pytest.mark.parametrize("cap", [40, 120, None])
def test_cap_variants(cap):
    counts = per_category(variants.pool(cap=cap))
    default = per_category(variants.pool())
    for category, n in counts.items():
        uncapped = default[category] if default[category] < 80 else None
        if cap is None:
            assert n == (uncapped or 210)  # SocialValue has 210 rows uncapped
        else:
            assert n == min(cap, uncapped or 210)


def test_oversampling_to_36_gives_unique_record_ids():
    pool = variants.pool(min_per_category=36)
    counts = per_category(pool)
    assert len(pool) == 342 and counts["Species"] == 36 and counts["Utilitarianism"] == 36
    ids = variants.record_ids(pool)
    assert len(set(ids)) == len(ids) == 342
    repeats = [i for i in ids if "#" in i]
    assert len(repeats) == 32
    for rid in repeats:  # a repeat points back at a real first occurrence
        assert rid.split("#")[0] in ids


def test_utilitarian_fourth_persona_is_the_authors_anchor():
    raw = json.loads(i18n.data_file().read_text(encoding="utf-8"))["languages"]
    usa = variants.panel_for("USA", fourth="utilitarian")
    jpn = variants.panel_for("JPN", fourth="utilitarian")
    assert [p.cohort for p in usa.personas] == ["young", "middle", "older", "utilitarian"]
    # the panel holds the English anchor with the country named
    english = raw["en"]["utilitarian_persona"]
    assert usa.texts()[3] == english.replace("{country_name}", "the United States")
    assert jpn.texts()[3] == english.replace("{country_name}", "Japan")
    shipped = personas.load_panel("USA")
    assert usa.texts()[:3] == shipped.texts()[:3]
    assert usa.sha256() != shipped.sha256()


@pytest.mark.parametrize(
    ("iso3", "lang", "code", "name"),
    [
        ("JPN", "native", "ja", "日本"),
        ("IRN", "native", "fa", None),  # full language: the native country name
        ("THA", "native", "th", None),  # persona-only: the short Thai anchor
        ("JPN", "en", "en", "Japan"),
    ],
)
def test_the_anchor_is_in_the_personas_language(iso3, lang, code, name):
    raw = json.loads(i18n.data_file().read_text(encoding="utf-8"))
    name = name or raw["country_native_name"][iso3]
    template = raw["languages"][code]["utilitarian_persona"]
    panel = variants.panel_for(iso3, fourth="utilitarian")
    fixed = pipeline.panel_prompts(panel, lang).persona_texts
    released = pipeline.panel_prompts(panel, lang, anchor_text="released").persona_texts
    assert fixed[3] == template.replace("{country_name}", name)
    assert released[3] == template  # the placeholder left as the released code sends it
    assert "{country_name}" not in fixed[3] and "{country_name}" in released[3]
    assert fixed[:3] == released[:3]
    aggregate = pipeline.panel_prompts(personas.load_panel(iso3), lang).persona_texts
    assert fixed[:3] == aggregate[:3] and fixed[3] != aggregate[3]


def test_the_run_config_records_the_anchor_wording():
    from disca_edge.evals.loop import EvalConfig, build_header
    from disca_edge.maths.methods import method_suite

    info = {"name": "m", "sha256": "0" * 64, "settings": {}}
    configs = {}
    for fourth, anchor_text in [("aggregate", "fixed"), ("utilitarian", "fixed"),
                                ("utilitarian", "released")]:  # fmt: skip
        cfg = EvalConfig(out=None, countries=("JPN",), fourth=fourth, anchor_text=anchor_text)
        panel = variants.panel_for("JPN", fourth)
        prompts = {"JPN": pipeline.panel_prompts(panel, "native", anchor_text=anchor_text)}
        header = build_header(cfg, info, method_suite("paper"), {"JPN": panel}, 310, prompts)
        configs[fourth, anchor_text] = header["config"]
    assert configs["aggregate", "fixed"]["personas"] == {"fourth": "aggregate", "drop_dims": []}
    assert configs["utilitarian", "released"]["personas"]["anchor_text"] == "released"
    fixed, released = configs["utilitarian", "fixed"], configs["utilitarian", "released"]
    assert fixed["personas"]["anchor_text"] == "fixed"
    assert (
        fixed["languages"]["JPN"]["systems_sha256"]
        != released["languages"]["JPN"]["systems_sha256"]
    )


def test_drop_dims_removes_exactly_that_sentence():
    shipped = personas.load_panel("USA")
    dropped = variants.panel_for("USA", drop_dims=("religiosity",))
    for old, new in zip(shipped.personas, dropped.personas, strict=True):
        assert "On matters of faith" in old.text and "On matters of faith" not in new.text
        assert new.levels["religiosity"] is None
        sentence = next(s for s in old.text.split(". ") if s.startswith("On matters of faith"))
        assert new.text == old.text.replace(sentence + ". ", "")
    assert dropped.sha256() != shipped.sha256()
    # unchanged levels re-render to the shipped text (the variant only removes)
    same = variants.panel_for("USA", drop_dims=())
    assert same.texts() == shipped.texts()


def test_parsing():
    assert variants.parse_cap("none") is None and variants.parse_cap("40") == 40
    assert variants.parse_drop_dims("Tolerance, religiosity") == ("religiosity", "tolerance")
    with pytest.raises(DiscaError, match="unknown dimension faith"):
        variants.parse_drop_dims("faith")
    with pytest.raises(DiscaError, match="--cap"):
        variants.parse_cap("0")
    every = ",".join(spec.key for spec in personas.WVS_DIMENSION_SPECS)
    with pytest.raises(DiscaError, match="every dimension"):
        variants.parse_drop_dims(every)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--drop-dims", "faith"], "unknown dimension faith"),
        (["--cap", "lots"], "--cap must be a positive integer or none"),
        (["--jobs", "0"], "--jobs"),
        (["--fourth", "robot"], "--fourth"),
        (["--anchor-text", "robot"], "--anchor-text"),
        (["--anchor-text", "released"], "add --fourth utilitarian"),
    ],
)
def test_eval_cli_refuses_bad_variants(tmp_path, args, message):
    result = CliRunner().invoke(
        cli, ["eval", "multitp", "--out", str(tmp_path / "run"), "--countries", "USA", *args]
    )
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()
