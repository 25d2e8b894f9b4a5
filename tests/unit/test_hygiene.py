"""Text hygiene at the edge and `ask` batch integrity (no model: a fake engine and logits)."""

from __future__ import annotations

import errno
import json
import os
import re

import numpy as np
import pytest

from disca_edge import pipeline
from disca_edge.ask import inputs
from disca_edge.ask import run as ask
from disca_edge.content.personas import load_panel
from disca_edge.maths import core
from disca_edge.models.open import ModelInfo
from disca_edge.text import TextError, check_text, printable, text_key, visible


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("caf\udce9", "not valid UTF-8 text (the byte 0xe9 at character 4)"),
        ("a \ud800 boy", "not valid UTF-8 text (a lone surrogate U+D800 at character 3)"),
        ("x\x1b]0;title\x07", "control character U+001B at character 2"),
        ("nul\x00", "control character U+0000 at character 4"),
        ("csi\x9b31m", "control character U+009B at character 4"),
        ("cr\r", "control character U+000D at character 3"),
    ],
)
def test_check_text_refuses_and_names_the_place(value, message):
    with pytest.raises(TextError) as caught:
        check_text(value, "--dilemma")
    assert str(caught.value).startswith("--dilemma ") and message in str(caught.value)


def test_check_text_keeps_tab_newline_and_any_language():
    for value in ("a\tb\nc", "Ông già và hai đứa trẻ", "два пожилых", "🚗"):
        assert check_text(value, "x") == value


def test_printable_escapes_every_control_character_but_tab_and_newline():
    text = printable("a\x1b]0;t\x07\tb\nc\x9b\ud800")
    assert text == "a\\x1b]0;t\\x07\tb\nc\\x9b\\ud800"
    assert not any(ord(c) < 32 and c not in "\t\n" for c in text)


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
                                  "\u2067", "\u2068", "\u2069"])  # fmt: skip
def test_check_text_refuses_bidi_controls_naming_the_field(char):
    with pytest.raises(TextError) as caught:
        check_text(f"ab{char}cd", '"option_a"')
    message = str(caught.value)
    assert message.startswith('"option_a" contains the bidirectional control character')
    assert f"U+{ord(char):04X} at character 3" in message and char not in message


def test_printable_escapes_bidi_controls_and_keeps_marks_and_joiners():
    assert printable("a\u202eb\u2066c") == "a\\u202eb\\u2066c"
    persian = "می\u200cخواهم \u200f"  # ZWNJ and the RLM belong to the text
    assert printable(persian) == persian


def test_invisible_characters_are_kept_but_do_not_count():
    assert check_text("a\u200bb\u200d\ufeff", "x") == "a\u200bb\u200d\ufeff"
    assert visible("\u200b\u200c\u200d\u2060\ufeff\u00ad") == ""
    assert text_key(" A\u200b  BOY\ufeff") == text_key("a boy") == "a boy"
    assert text_key("cafe\u0301") == text_key("caf\u00e9")  # NFD and NFC: one text
    assert text_key("a boy") != text_key("a girl")


def test_an_option_of_invisible_characters_is_empty():
    for blank in ("\u200b\u200b", " \u2060 \ufeff ", "\u200d"):
        with pytest.raises(inputs.AskInputError, match="group B is empty"):
            inputs.make_input("a boy", blank)
        with pytest.raises(inputs.AskInputError, match="the dilemma text is empty"):
            inputs.make_input("x", "y", dilemma=blank)


def test_options_differing_by_an_invisible_character_are_identical():
    with pytest.raises(inputs.AskInputError, match="the two options are identical"):
        inputs.make_input("a boy", "a b\u200boy")
    with pytest.raises(inputs.AskInputError, match="the two options are identical"):
        inputs.make_input("caf\u00e9 owner", "cafe\u0301 owner")


def test_texts_enter_in_nfc_with_their_joiners():
    item = inputs.make_input("cafe\u0301 owner", "a ma\u200cn", dilemma="Who?\u0301")
    assert item.option_a == "caf\u00e9 owner"
    assert item.option_b == "a ma\u200cn"  # a joiner is kept: it is part of the text
    assert item.dilemma == "Who?\u0301"  # nothing to compose it with: unchanged
    with pytest.raises(inputs.AskInputError, match=r'line 3: "right" contains the bidirectional'):
        inputs.parse_line('{"left": "a boy", "right": "a \\u202egirl"}', 3)


class _FakeEngine:
    """Just what `ask` needs before evaluation: render, tokenize, prefix_len, n_ctx."""

    n_ctx = 4096

    def render(self, prompt) -> str:
        return f"{prompt.system}|{prompt.user}"

    def tokenize(self, text: str) -> list[int]:
        text.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, as llama.cpp's does
        return [len(word) for word in text.split()]

    def prefix_len(self, system: str) -> int:
        return len(self.tokenize(system))


def _fake_evaluate(engine, systems, dilemmas):
    """Logits for dilemmas; a dilemma mentioning 'boom' fails the way a bug would."""
    if any("boom" in d.user_orig for d in dilemmas):
        raise RuntimeError("llama_decode returned -3")
    n = len(dilemmas)
    logits = np.zeros((n, 2, 5, 2))
    logits[..., 1] = np.linspace(-1, 1, 10).reshape(2, 5)
    ids = np.broadcast_to(np.array([49, 50]), (n, 2, 5, 2)).copy()
    texts = [[f"p{s}{k}" for k in range(10)] for s in range(n)]
    return pipeline.PanelLogits(logits, np.ones(n, dtype=bool), ids, texts)


def test_a_failing_dilemma_is_reported_on_its_line_and_the_batch_goes_on(monkeypatch):
    monkeypatch.setattr(ask.pipeline, "evaluate_panel", _fake_evaluate)
    lines = [
        b'{"left": "a boy", "right": "two elderly women"}',
        b'{"left": "a \\ud800 boy", "right": "a girl"}',  # lone surrogate in a JSON field
        b'{"left": "a boom", "right": "a dog"}',  # raises RuntimeError in the engine
        b'{"left": "x\\u001b]0;t\\u0007", "right": "y"}',  # escape sequence in a field
        b'{"left": "a man", "right": "a woman"}',
    ]
    import io

    items = inputs.read_inputs(io.BytesIO(b"\n".join(lines) + b"\n"))
    info = ModelInfo("fake", "/fake.gguf", "0" * 64, {})
    outcomes = list(
        ask.answer_many(
            _FakeEngine(), info, load_panel("JP"), items, core.DiscaParams("paper"), chunk=8
        )
    )
    assert [o.line for o in outcomes] == [1, 2, 3, 4, 5]
    assert [o.ok for o in outcomes] == [True, False, False, False, True]
    assert outcomes[1].error.startswith('line 2: "left" is not valid UTF-8 text')
    assert outcomes[2].error == "line 3: RuntimeError: llama_decode returned -3"
    assert outcomes[3].error.startswith('line 4: "left" contains the control character U+001B')


def test_a_long_dilemma_is_answered_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(ask.pipeline, "evaluate_panel", _fake_evaluate)
    long_text = "word " * (ask.LONG_DILEMMA_TOKENS + 10)
    line = {"dilemma": long_text.strip(), "option_a": "x", "option_b": "y"}
    item = inputs.parse_line(json.dumps(line), 4)
    info = ModelInfo("fake", "/fake.gguf", "0" * 64, {})
    (outcome,) = ask.answer_many(
        _FakeEngine(), info, load_panel("JP"), [item], core.DiscaParams("paper")
    )
    assert outcome.ok
    n = int(re.search(r"line 4: the dilemma is long \(a (\d+)-token user turn", caplog.text)[1])
    assert n > ask.LONG_DILEMMA_TOKENS + 10  # the words, plus the frame around them
    caplog.clear()
    short = inputs.make_input("a boy", "a girl")
    list(ask.answer_many(_FakeEngine(), info, load_panel("JP"), [short], core.DiscaParams("paper")))
    assert "long" not in caplog.text


def test_empty_or_blank_input_fails_before_anything_loads(tmp_path):
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n   \n\t\n")
    with pytest.raises(inputs.AskInputError, match="no dilemmas to ask"):
        inputs.inputs_from_cli(input_path=str(blank))
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(inputs.AskInputError, match=f"^{empty}: no dilemmas to ask"):
        inputs.inputs_from_cli(input_path=str(empty))


def test_json_error_column_is_the_real_column():
    with pytest.raises(inputs.AskInputError, match="line 3: not valid JSON .* at column 19"):
        inputs.parse_line('{"left": "a boy", \n', 3)


# --------------------------------------------------------------------------- places


def test_check_writable_dir_names_the_path_and_the_reason(tmp_path, monkeypatch):
    from disca_edge import paths

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(paths.PlaceError, match=f"^{a_file}/run: .*not a directory"):
        paths.check_writable_dir(a_file / "run")
    with pytest.raises(paths.PlaceError, match="not a directory .it is a file"):
        paths.check_writable_dir(a_file)
    assert paths.check_writable_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # the probe is gone

    class Usage:
        free = 1 << 20

    monkeypatch.setattr(paths.shutil, "disk_usage", lambda _: Usage)
    with pytest.raises(paths.PlaceError, match=r"the disk is full \(1.0 MiB free\)"):
        paths.check_writable_dir(tmp_path / "run")


class _FillingDisk:
    """A file handle on a disk that fills up: half of a write lands, then ENOSPC/EDQUOT."""

    def __init__(self, handle, errno_: int) -> None:
        self._handle, self._errno = handle, errno_

    def write(self, data: bytes) -> int:
        self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        raise OSError(self._errno, os.strerror(self._errno))

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()


@pytest.mark.parametrize(("errno_", "reason"), [(errno.ENOSPC, "the disk is full"),
                                                (errno.EDQUOT, "the disk quota is full")])  # fmt: skip
def test_an_atomic_write_on_a_full_disk_is_one_line_and_writes_nothing(
    tmp_path, monkeypatch, errno_, reason
):
    from disca_edge import paths

    target = tmp_path / "models.toml"
    target.write_text("before\n")
    real = os.fdopen
    monkeypatch.setattr(paths.os, "fdopen", lambda fd, *a: _FillingDisk(real(fd, *a), errno_))
    with pytest.raises(paths.PlaceError) as caught:
        paths.atomic_write_text(target, "after\n" * 1000)
    assert str(caught.value) == f"{target}: cannot write there: {reason}"
    assert target.read_text() == "before\n"  # the old file stands
    assert [p.name for p in tmp_path.iterdir()] == ["models.toml"]  # no half-written temp


def test_a_broken_disca_home_fails_only_commands_that_write(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from disca_edge.cli import cli

    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("DISCA_HOME", str(home))
    runner = CliRunner()
    for args in (["models", "list"], ["models", "path", "smollm2-135m"], ["personas", "list"]):
        assert runner.invoke(cli, args).exit_code == 0, args
    pulled = runner.invoke(cli, ["models", "pull", "smollm2-135m"])
    assert pulled.exit_code == 1 and pulled.output.count("\n") == 1
    assert pulled.output.startswith(f"Error: {home}/cache/models/smollm2-135m: cannot write")


# --------------------------------------------------------------------------- WVS builder


def _wvs(path, rows):
    """A WVS-7-shaped CSV: every DISCA item, one row per (iso3, birth year, item value)."""
    from disca_edge.content.personas.wvs import WVS_ITEM_RANGES

    items = list(WVS_ITEM_RANGES)
    lines = [",".join(["B_COUNTRY_ALPHA", "A_YEAR", "Q261", *items])]
    for iso3, birth, values in rows:
        cells = [values.get(i, WVS_ITEM_RANGES[i][0]) for i in items]
        lines.append(",".join([iso3, "2019", str(birth), *map(str, cells)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_wvs_values_outside_an_items_range_count_as_missing(tmp_path, caplog):
    import warnings

    from disca_edge.content.personas import build_from_wvs, load_panel

    clean = [("JPN", 1990, {"Q6P": 4}), ("JPN", 1960, {"Q6P": 2})]
    garbage = [
        ("JPN", 1970, {"Q6P": 999, "Q57P": "1e308", "Q46P": 7}),
        ("JPN", 1980, {"Q6P": -2, "Q57P": 3}),  # -2: a survey code, not counted
    ]
    build_from_wvs(_wvs(tmp_path / "clean.csv", clean), tmp_path / "a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning from 1e308
        build_from_wvs(_wvs(tmp_path / "dirty.csv", clean + garbage), tmp_path / "b")
    a, b = load_panel("JPN", tmp_path / "a"), load_panel("JPN", tmp_path / "b")
    assert a.persona("all").scores["religiosity"] == b.persona("all").scores["religiosity"]
    assert b.source["out_of_range_values"] == {"Q6P": 1, "Q57P": 2, "Q46P": 1}
    assert "1 value(s) of Q6P outside its range 1-4 counted as missing" in caplog.text


def test_wvs_non_finite_values_are_errors(tmp_path):
    from disca_edge.content.personas import WvsFileError, build_from_wvs

    rows = [("JPN", 1990, {}), ("JPN", 1960, {"Q46P": "inf"})]
    with pytest.raises(
        WvsFileError, match=r"column Q46P holds a non-finite value \(inf\) in data row 2"
    ):
        build_from_wvs(_wvs(tmp_path / "inf.csv", rows), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_non_finite_logits_are_one_clear_error_not_a_crash_in_core():
    """A damaged GGUF outside the registry (no sha256 to check) can return NaN logits."""
    from types import SimpleNamespace

    from disca_edge.errors import DiscaError

    class NanEngine:
        model_path = "/models/damaged.gguf"

        def logits_ab(self, prompts):
            n = len(prompts)
            nan = np.full(n, np.nan)
            return SimpleNamespace(
                logit_a=nan, logit_b=nan, token_a=[1] * n, token_b=[2] * n, texts=["p"] * n
            )

    dilemma = pipeline.Dilemma.from_scenario("A or B?", index=0)
    with pytest.raises(DiscaError, match="damaged.gguf: the model returned non-finite logits"):
        pipeline.evaluate_panel(NanEngine(), ["s0", "s1"], [dilemma])
