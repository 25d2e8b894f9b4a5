"""`ask.inputs`: the two input forms, JSONL lines, and errors that carry their line."""

from __future__ import annotations

import io
import os
import sys

import pytest

from disca_edge.ask.inputs import (
    CHUNK,
    TROLLEY_CONTEXT,
    AskInputError,
    chunk_for,
    make_input,
    parse_line,
    read_inputs,
)
from disca_edge.errors import UnknownNameError


def test_parse_line_forms_and_noise_index():
    trolley = parse_line('{"left": " a boy ", "right": "a girl", "id": 7}', 3, "age")
    assert (trolley.form, trolley.option_a, trolley.category) == ("trolley", "a boy", "Age")
    assert (trolley.index, trolley.line, trolley.id) == (2, 3, 7)
    custom = parse_line(
        '{"dilemma": "Q?", "option_a": "x", "option_b": "y", "category": "Social Value"}', 1
    )
    assert (custom.form, custom.dilemma, custom.category, custom.index) == (
        "custom", "Q?", "SocialValue", 0
    )  # fmt: skip
    assert custom.scenario() == "Q?\n\nOption A — x\nOption B — y"
    assert trolley.scenario().startswith(TROLLEY_CONTEXT + "\n\nOption A — Group A: a boy\n")


def test_read_inputs_keeps_line_numbers_and_skips_blank_lines():
    data = io.BytesIO(b'{"left": "a", "right": "b"}\n\n\xff\xfe\n{"left": "c", "right": "d"}\n')
    out = list(read_inputs(data))
    assert [type(x).__name__ for x in out] == ["AskInput", "AskInputError", "AskInput"]
    assert str(out[1]) == "line 3: not valid UTF-8 text" and out[1].line == 3
    assert [out[0].index, out[2].index] == [0, 3]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "line 5: expected a JSON object, got list"),
        ('{"left": "a", "right": "b", "colour": 1}', "line 5: unknown field(s) colour"),
        ('{"left": "a", "right": "b", "category": "speed"}', "line 5: unknown category 'speed'"),
        ('{"left": "a", "right": "A"}', "line 5: the two options are identical"),
    ],
)
def test_a_bad_line_is_an_ask_input_error_that_carries_its_line(text, message):
    with pytest.raises(AskInputError) as caught:
        parse_line(text, 5)
    assert caught.value.line == 5 and str(caught.value).startswith(message)
    (read,) = read_inputs(io.StringIO("\n" * 4 + text + "\n"))  # the same line, read from a file
    assert isinstance(read, AskInputError) and (read.line, str(read)) == (5, str(caught.value))


def test_an_error_without_a_line_has_no_prefix():
    error = AskInputError("group A is empty")
    assert (error.line, str(error)) == (None, "group A is empty")


def test_make_input_rejects_non_text_and_unknown_category():
    with pytest.raises(AskInputError, match="group A must be text, got int"):
        make_input(1, "b")
    with pytest.raises(UnknownNameError, match="did you mean species"):
        make_input("a", "b", category="specie")


def test_chunk_is_one_on_a_pipe_and_the_file_chunk_otherwise(monkeypatch, tmp_path):
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as pipe, os.fdopen(write_end, "w"):
        monkeypatch.setattr(sys, "stdin", pipe)
        assert chunk_for("-") == 1  # someone may wait for each answer
    regular = tmp_path / "in.jsonl"
    regular.write_text("")
    with regular.open() as handle:
        monkeypatch.setattr(sys, "stdin", handle)
        assert chunk_for("-") == CHUNK
    assert chunk_for(str(regular)) == chunk_for(None) == CHUNK > 1
