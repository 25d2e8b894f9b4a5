r"""Text hygiene at the edge: user text must be valid Unicode without control characters.

Command-line values, dilemma texts and JSONL fields are checked once, where they enter,
so no later step (tokenizer, JSON writer, terminal) sees a lone surrogate or an escape
sequence. On POSIX, Python decodes command-line bytes that are not UTF-8 into the
surrogates U+DC80-U+DCFF (PEP 383); a JSON ``"\ud800"`` escape gives a lone surrogate
too. Tab and newline are the only control characters allowed in text; everything
printed from user text goes through `printable`, which escapes the others.
"""

from __future__ import annotations

import re

from .errors import DiscaError

__all__ = ["TextError", "check_text", "printable"]

#: C0 controls except tab and newline, DEL and the C1 controls (0x9B is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


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
            escape) or a control character other than tab and newline.
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
    return value


def printable(text: str) -> str:
    """`text` with control characters (except tab and newline) and surrogates escaped.

    Used on everything echoed to a terminal that may hold user text (error messages),
    so an ``ESC ]0;...`` in a value cannot retitle or recolour the terminal.
    """
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
