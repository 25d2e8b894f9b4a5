"""`views.explain`: the terminal report of `AskResult`s built from the spec §8.1 vector."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console
from test_ask_result import FAKE_MODEL, build, panel_logits

from disca_edge import pipeline
from disca_edge.ask.inputs import make_input
from disca_edge.ask.result import answers_from_logits
from disca_edge.content.personas import load_panel
from disca_edge.maths import core
from disca_edge.views import explain


def render(result, **kwargs) -> str:
    buffer = io.StringIO()
    explain.render(result, Console(file=buffer, width=80, highlight=False), **kwargs)
    return buffer.getvalue()


def render_countries(results, **kwargs) -> str:
    buffer = io.StringIO()
    explain.render_countries(results, Console(file=buffer, width=80, highlight=False), **kwargs)
    return buffer.getvalue()


def test_report_shows_the_answers_bars_and_statistics():
    r = build()
    text = render(r, elapsed_s=1.25)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert all(line == line.rstrip() for line in lines)
    assert "\x1b[" not in text  # plain when not a terminal
    for expected in (
        "DISCA · Japan (JPN) · fake · paper · seed 42 · T_cat 1.5 (Age)",
        "  A  a boy",
        "  B  two elderly women",
        "vanilla (model alone)   A  23%  B  77%   → B two elderly women",
        "vanilla, debiased       A  45%  B  55%   → B",
        "disagreement D²",
        "0.2758",
        "reliability r",
        "blend α_ess",
        "ESS ratio e₁ e₂",
        "answered in 1.2 s",
        "personas: authored estimates",
    ):
        assert expected in text, expected
    assert "prompts --lang en: personas en, frame en" in " ".join(text.split())  # wrapped
    rows = {line.split()[0]: line for line in lines if line.startswith("  ") and "│" in line}
    assert set(rows) >= {"young", "middle", "older", "all", "base", "consensus", "DISCA"}
    assert "+0.900 B 86%" in rows["young"] and "-0.300 A 65%" in rows["older"]
    # the persona bars carry the base (○) and consensus (◆) marks
    assert all("○" in rows[p] and "◆" in rows[p] for p in ("young", "middle", "older", "all"))
    assert "flips" not in text and "country prior" not in text
    assert "Persona system prompts" not in text and "Raw logits" not in text


def test_report_flags_a_flip_and_verbose_adds_texts_and_logits():
    # the base prompt prefers A in both orders of its labels; every persona prefers B
    r = build(orig=[-1.5, 3, 3, 3, 3], swap=[1.5, -3, -3, -3, -3])
    assert r.vanilla.choice == "A" and r.disca.choice == "B"
    assert r.disca.flips_vanilla and r.disca.flips_vanilla_matched
    panel = load_panel("JP")
    text = render(r, verbose=True, persona_texts=panel.texts())
    assert "⚑ DISCA flips the vanilla answer (A → B)" in text
    assert "all four personas lean B" in text
    assert "unlike the model alone (A)" in " ".join(text.split())
    assert "Persona system prompts" in text and "You are a senior citizen from Japan" in text
    assert "Raw logits" in text and "  older   swap       49     50" in text


def test_report_names_the_prior_and_a_persona_only_language():
    r = build()
    moved = dataclasses.replace(
        r, correction=dataclasses.replace(r.correction, delta_final=r.correction.delta_micro - 1)
    )
    assert f"The country prior moves it to {moved.correction.delta_final:+.3f}." in " ".join(
        render(moved).split()
    )
    thai = load_panel("THA")
    (answer,) = answers_from_logits(
        [make_input("a boy", "a girl", category="Age")],
        panel_logits([0.6, 1.65, 1.35, -0.3, 0.9], [0.3, -1.05, -0.75, 0.6, -0.3]),
        model_info=FAKE_MODEL,
        panel=thai,
        params=core.DiscaParams(),
        seed=42,
        prompts=pipeline.panel_prompts(thai, "native"),
    )
    assert answer.language.persona_only and answer.language.note
    text = " ".join(render(answer).split())
    assert "prompts --lang native: personas th, frame en" in text
    assert answer.language.note.split()[0] in text


def test_country_table_has_one_row_per_result():
    flip = build(orig=[-1.5, 3, 3, 3, 3], swap=[1.5, -3, -3, -3, -3])
    steady = build()
    usa = dataclasses.replace(flip, panel=dataclasses.replace(flip.panel, iso3="USA", name="USA"))
    text = render_countries([steady, usa], errors=["line 1: DEU: too long"], elapsed_s=2.0)
    lines = text.splitlines()
    assert text.count("two elderly women") == 1 and "DISCA · 2 countries · fake" in text
    jpn = next(line for line in lines if line.lstrip().startswith("JPN"))
    us = next(line for line in lines if line.lstrip().startswith("USA"))
    assert f"{steady.vanilla.p_b:.3f} B" in jpn and f"{steady.disca.p_b:.3f} B" in jpn
    assert "⚑" not in jpn and "⚑ A→B" in us
    assert f"{usa.correction.disagreement:.4f}" in us
    assert "✗ line 1: DEU: too long" in text and "Answered in 2.0 s." in text
    assert max(len(line) for line in lines) <= 80


def test_bar_is_fixed_width_and_clips():
    assert explain.bar(0.5, 4, 1.0).plain == "    │██  "
    assert explain.bar(-9.0, 4, 1.0).plain == "████│    "
    assert explain.bar(0.01, 4, 1.0).plain == "    │▌   "  # a sliver for a tiny gap
    assert explain.bar(0.0, 4, 1.0, marks=[(-0.5, "○"), (1.0, "◆")]).plain == "  ○ │   ◆"
    assert [explain.strength(p) for p in (0.5, 0.55, 0.7, 0.85, 0.99)] == [
        "indifferent", "slight", "moderate", "strong", "very strong",
    ]  # fmt: skip


def native(iso, item, orig=(0.1, 0.9, 0.7, -0.3, 0.4), swap=(-0.1, -0.9, -0.7, 0.3, -0.4)):
    """The answer of `item` asked natively for `iso`, from injected logits."""
    panel = load_panel(iso)
    (answer,) = answers_from_logits(
        [item],
        panel_logits(list(orig), list(swap)),
        model_info=FAKE_MODEL,
        panel=panel,
        params=core.DiscaParams(),
        seed=42,
        prompts=pipeline.panel_prompts(panel, "native"),
    )
    return answer


def test_a_native_ask_shows_the_options_the_model_saw_and_keeps_the_typed_ones():
    item = make_input("a boy", "two elderly women", category="Age")
    de = native("DEU", item)
    assert de.language.frame_language == "de"
    assert de.options_shown == ("1 Junge", "2 ältere Frauen")
    for option in de.options_shown:  # what the prompts held
        assert option in de.dilemma.scenario
    # the wire keeps the typed text and gains no field (its goldens hold both languages)
    wire = de.to_dict()
    assert (wire["dilemma"]["option_a"], wire["dilemma"]["option_b"]) == (
        "a boy",
        "two elderly women",
    )
    assert list(wire) == list(build().to_dict()) and list(wire["dilemma"]) == list(
        build().to_dict()["dilemma"]
    )
    assert de.disca.choice == "B" and wire["disca"]["option"] == "two elderly women"
    text = render(de)
    assert "A  1 Junge (typed: a boy)" in text and "B  2 ältere Frauen (typed: two elderly" in text
    assert "→ B 2 ältere Frauen" in text and "→ B two elderly women" not in text
    assert text.index("Stellen Sie sich vor") < text.index("1 Junge")  # the German frame
    # English, and a custom dilemma in any language: the options are as typed
    en = build()
    assert en.options_shown == ("a boy", "two elderly women") and "(typed:" not in render(en)
    custom = native("DEU", make_input("swerve", "stay", dilemma="Should the car swerve?"))
    assert custom.options_shown == ("swerve", "stay") and "(typed:" not in render(custom)


def test_countries_in_one_language_see_it_and_mixed_languages_are_named():
    item = make_input("a boy", "two elderly women", category="Age")
    de, jp = native("DEU", item), native("JPN", item)
    text = render_countries([de])
    assert "A  1 Junge (typed: a boy)" in text and "Stellen Sie sich vor" in text
    mixed = " ".join(render_countries([de, jp]).split())
    assert "A a boy B two elderly women" in mixed
    assert "Imagine a scenario" in mixed and "Stellen Sie sich vor" not in mixed
    assert "each country was asked in its own frame language: de (DEU); ja (JPN)" in mixed
