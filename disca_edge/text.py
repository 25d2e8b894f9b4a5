r"""Text hygiene at the edge: user text must be valid Unicode without control characters.

Command-line values, dilemma texts, JSONL fields and persona panel fields are checked
once, where they enter, so no later step (tokenizer, JSON writer, terminal) sees a lone
surrogate, an escape sequence or a character that reorders what the terminal shows.

* **Refused** (`check_text`, one line naming the field and the position): lone
  surrogates (on POSIX, Python decodes command-line bytes that are not UTF-8 into
  U+DC80-U+DCFF, PEP 383; a JSON ``"\ud800"`` escape gives one too), control characters
  other than tab and newline, and the bidirectional embeddings, overrides and isolates
  U+202A-U+202E and U+2066-U+2069, which make a terminal show text in another order than
  the model reads it ("Trojan Source").
* **Invisible** characters (`INVISIBLE`: zero-width space, non-joiner and joiner, the
  left-to-right and right-to-left marks, word joiner and invisible operators, the byte
  order mark, soft hyphen, Arabic letter mark, Mongolian vowel separator) are kept as
  written, since the joiners and marks are part of correct Persian, Indic and Arabic text,
  but `visible` drops them: a text made only of them is empty, and two texts that differ
  only by them are the same (`text_key`).
* **Normalised**: texts that go into prompts are put in Unicode NFC (`clean_text`), so a
  composed and a decomposed "é" give the same prompt and the same tokens.

Everything printed from user text goes through `printable`, which escapes control
characters, surrogates and the bidirectional controls above.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import DiscaError

__all__ = [
    "INVISIBLE",
    "TextError",
    "check_text",
    "clean_text",
    "printable",
    "text_key",
    "visible",
]

#: C0 controls except tab and newline, DEL and the C1 controls (0x9B is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: Bidirectional embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
#: Characters with no width of their own (see the module docstring).
INVISIBLE = "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
_INVISIBLE = re.compile(f"[{INVISIBLE}]")


class TextError(DiscaError):
    """Text that is not valid UTF-8/Unicode or carries a control character."""


def _describe(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte that was not UTF-8
        return f"the byte 0x{code - 0xDC00:02x}"
    return f"a lone surrogate U+{code:04X}"


def check_text(value: str, name: str) -> str:
    r"""Return `value` if it is clean text, else raise naming `name` and the position.

    Args:
        value: the text as received.
        name: what it is, for the message (an option such as ``--dilemma``, or a field
            such as ``"option_a"``).

    Raises:
        TextError: a lone surrogate (text that was not UTF-8, or a JSON ``\ud800``
            escape), a control character other than tab and newline, or a
            bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069).
    """
    bad = _SURROGATE.search(value)
    if bad:
        raise TextError(
            f"{name} is not valid UTF-8 text ({_describe(bad.group())} at character "
            f"{bad.start() + 1}); pass it as UTF-8"
        )
    bad = _CONTROL.search(value)
    if bad:
        raise TextError(
            f"{name} contains the control character U+{ord(bad.group()):04X} at character "
            f"{bad.start() + 1}; only tab and newline are allowed"
        )
    bad = _BIDI.search(value)
    if bad:
        raise TextError(
            f"{name} contains the bidirectional control character U+{ord(bad.group()):04X} "
            f"at character {bad.start() + 1}; it makes text display in another order than "
            "it is read, so it is not allowed"
        )
    return value


def clean_text(value: str, name: str) -> str:
    """`check_text`, then Unicode NFC: the form in which a text enters a prompt."""
    return unicodedata.normalize("NFC", check_text(value, name))


def visible(text: str) -> str:
    """`text` without its invisible characters (`INVISIBLE`), for emptiness checks."""
    return _INVISIBLE.sub("", text)


def text_key(text: str) -> str:
    r"""What two texts must share to count as the same.

    NFC, invisible characters dropped, runs of whitespace as one space, no leading or
    trailing space, case folded: ``" A\u200b  boy"`` and ``"a boy"`` have one key.
    """
    text = visible(unicodedata.normalize("NFC", text))
    return re.sub(r"\s+", " ", text).strip().casefold()


def printable(text: str) -> str:
    """`text` with control characters (but tab and newline), surrogates and bidi controls escaped.

    Used on everything echoed to a terminal that may hold user text (error messages),
    so an ``ESC ]0;...`` in a value cannot retitle or recolour the terminal and a U+202E
    cannot turn the rest of the line around.
    """
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    text = _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
