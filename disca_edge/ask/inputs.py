"""Ask inputs: two-option questions, validated, from arguments or a JSONL file.

Input forms (`AskInput`):

* **trolley** (shorthand): two group descriptions ("a boy", "two elderly women") in the
  spec's DISCA frame (DISCA.md §2.2-2.3). The context sentence is always the language's
  first DISCA start sentence (English: `TROLLEY_CONTEXT`), so the same question gets the
  same prompt wherever it appears in an input file. With ``lang="native"`` the frame,
  labels and start are the country's language, and a group that parses as MultiTP
  characters is rendered in it ("two elderly women" -> "2 ältere Frauen"); other text is
  kept as written.
* **custom**: any dilemma text with two options, in the same frame and the language's
  lane labels (the text itself as written).

Noise: dilemma ``index`` i draws its IS noise from ``default_rng([seed, i])`` (spec §4);
a single ask has i = 0 and in an input file the dilemma on line n (1-based) has i = n - 1
(blank lines are skipped but counted), so a line's answer does not depend on the others.
A bad input line is an `AskInputError` that carries its line number.

Texts are checked and put in NFC where they enter (`text.clean_text`: no control or
bidirectional control characters); an option or dilemma made only of spaces and
invisible characters is empty, and options that differ only by case, spacing or
invisible characters are identical (`text.text_key`).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from ..content import i18n
from ..content.language import Language
from ..errors import DiscaError
from ..maths import categories
from ..text import check_text, clean_text, text_key, visible

__all__ = [
    "CHUNK",
    "TROLLEY_CONTEXT",
    "AskInput",
    "AskInputError",
    "chunk_for",
    "inputs_from_cli",
    "make_input",
    "parse_line",
    "read_inputs",
]

#: The context sentence of the trolley shorthand in English: the first DISCA start
#: sentence of the language (I18N.md §3); other languages use their own first one.
TROLLEY_CONTEXT = i18n.language("en").trolley_opener

#: Dilemmas per engine call when the input is a file: the trie shares the frame across them.
CHUNK = 8

_LINE_FIELDS = {"dilemma", "option_a", "option_b", "left", "right", "category", "id", "country"}


class AskInputError(DiscaError):
    """A dilemma that cannot be asked (empty or identical options, bad input line).

    Args:
        message: what is wrong, one line.
        line: the 1-based input line it was found on, or None; the message then starts
            with ``line N:``.

    Attributes:
        line: the input line, or None.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class AskInput:
    """One two-option question, validated.

    Attributes:
        option_a: option A (trolley form: the left group, e.g. "a boy").
        option_b: option B (trolley form: the right group).
        dilemma: the question text; None selects the trolley form.
        category: canonical MultiTP category (selects T_cat) or None (T_cat = 3.0).
        index: noise index i (0 for a single ask; line number - 1 in an input file).
        line: 1-based input line, or None.
        id: an identifier echoed from the input line, or None.
        country: the input line's own country (as written; resolved against the persona
            folder when answered), or None for the countries of the whole ask.
    """

    option_a: str
    option_b: str
    dilemma: str | None = None
    category: str | None = None
    index: int = 0
    line: int | None = None
    id: Any = None
    country: str | None = None

    @property
    def form(self) -> str:
        """``"trolley"`` (two groups in the DISCA frame) or ``"custom"``."""
        return "trolley" if self.dilemma is None else "custom"

    def scenario(self, language: Language | None = None) -> str:
        """The scenario text in the original label order (A = option_a).

        Args:
            language: the frame language (default English). The trolley form uses its
                first start sentence and labels, and renders each group in it when the
                group parses as MultiTP characters ("two elderly women"); free text, and
                every custom dilemma and option, is kept as written.
        """
        language = language or i18n.language("en")
        if self.dilemma is None:
            a, b = self.option_a, self.option_b
            if language.code != "en":
                english = i18n.language("en").characters
                a = language.translate_group(a, english)
                b = language.translate_group(b, english)
            return language.scenario(language.trolley_opener, a, b)
        return language.custom_scenario(self.dilemma, self.option_a, self.option_b)


def make_input(
    option_a: Any,
    option_b: Any,
    *,
    dilemma: Any = None,
    category: Any = None,
    index: int = 0,
    line: int | None = None,
    id: Any = None,
    labels: tuple[str, str] | None = None,
    country: Any = None,
) -> AskInput:
    """Validate and normalise one question.

    Args:
        option_a: option A text (or the left group).
        option_b: option B text (or the right group).
        dilemma: question text; None for the trolley form.
        category: any spelling `categories.normalize_category` accepts, or None.
        index: noise index i.
        line: input line number, for messages.
        id: echoed identifier.
        labels: names of the two options in messages (default "option A"/"group A", ...).
        country: this question's own country (ISO3, ISO2 or name), or None.

    Raises:
        AskInputError: a missing, empty or non-text option or dilemma, identical options.
        UnknownNameError: an unknown category.
    """
    names = labels or (("option A", "option B") if dilemma is not None else ("group A", "group B"))
    values = []
    for name, value in zip(names, (option_a, option_b), strict=True):
        if value is None:
            raise AskInputError(f"{name} is missing")
        if not isinstance(value, str):
            raise AskInputError(f"{name} must be text, got {type(value).__name__}")
        value = clean_text(value, name).strip()
        if not visible(value).strip():
            raise AskInputError(f"{name} is empty")
        values.append(value)
    if text_key(values[0]) == text_key(values[1]):
        raise AskInputError(
            f"the two options are identical ({values[0]!r}); give two different ones"
        )
    if dilemma is not None:
        if not isinstance(dilemma, str):
            raise AskInputError(f"the dilemma must be text, got {type(dilemma).__name__}")
        dilemma = clean_text(dilemma, "the dilemma").strip()
        if not visible(dilemma).strip():
            raise AskInputError("the dilemma text is empty")
    if category is not None:
        if not isinstance(category, str):
            raise AskInputError(f"category must be text, got {type(category).__name__}")
        category = categories.normalize_category(check_text(category, "the category"))
    if isinstance(id, str):
        check_text(id, '"id"')
    return AskInput(values[0], values[1], dilemma, category, index, line, id, _country(country))


def _country(country: Any) -> str | None:
    """An input's own country, as written (resolved later), or None."""
    if country is None:
        return None
    if not isinstance(country, str) or not visible(country).strip():
        raise AskInputError("country must be a non-empty text (ISO3, ISO2 or name)")
    return clean_text(country, '"country"').strip()


def parse_line(text: str, line: int, default_category: str | None = None) -> AskInput:
    """One JSONL input line as an `AskInput` (noise index ``line - 1``).

    A line is a JSON object, either ``{"dilemma", "option_a", "option_b"}`` (custom) or
    ``{"left", "right"}`` (trolley), with optional ``category`` (default
    `default_category`), ``id`` and ``country`` (this line is answered for that country
    only, instead of the ask's countries).

    Raises:
        AskInputError: not JSON, not an object, unknown or conflicting fields, bad values;
            the message starts with ``line N:``.
    """
    try:
        try:
            obj = json.loads(text.rstrip("\r\n"))  # else an error at the end is "column 1"
        except json.JSONDecodeError as exc:
            raise AskInputError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise AskInputError(f"expected a JSON object, got {type(obj).__name__}")
        unknown = sorted(set(obj) - _LINE_FIELDS)
        if unknown:
            raise AskInputError(
                f"unknown field(s) {', '.join(unknown)} (expected dilemma, option_a, option_b, "
                "or left, right; optional category, id, country)"
            )
        custom = {"dilemma", "option_a", "option_b"} & set(obj)
        trolley = {"left", "right"} & set(obj)
        if custom and trolley:
            raise AskInputError("give either dilemma/option_a/option_b or left/right, not both")
        if trolley:
            a, b, dilemma = obj.get("left"), obj.get("right"), None
            labels = ('"left"', '"right"')
        elif custom:
            if "dilemma" not in obj:
                raise AskInputError("option_a/option_b need a dilemma (or use left/right)")
            a, b, dilemma = obj.get("option_a"), obj.get("option_b"), obj["dilemma"]
            labels = ('"option_a"', '"option_b"')
        else:
            raise AskInputError("give dilemma, option_a, option_b, or left, right")
        category = obj.get("category", default_category)
        return make_input(
            a,
            b,
            dilemma=dilemma,
            category=category,
            index=line - 1,
            line=line,
            id=obj.get("id"),
            labels=labels,
            country=obj.get("country"),
        )
    except DiscaError as exc:
        raise AskInputError(str(exc), line=line) from None


def read_inputs(
    source: str | os.PathLike | io.IOBase, default_category: str | None = None
) -> Iterator[AskInput | AskInputError]:
    """Open a JSONL file (``"-"`` = stdin) now and parse it lazily, line by line.

    Bad lines come out as `AskInputError` items (``line N: ...``) in their place; blank
    lines are skipped (their numbers still count for the noise index).

    Raises:
        DiscaError: the file cannot be opened (raised here, before any line is read).
    """
    if isinstance(source, io.IOBase):
        return _parse_lines(source, default_category, close=False)
    if str(source) == "-":
        return _parse_lines(sys.stdin.buffer, default_category, close=False)
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed by _parse_lines
    except OSError as exc:
        raise DiscaError(f"cannot read {source}: {exc.strerror or exc}") from None
    return _parse_lines(handle, default_category, close=True)


def _parse_lines(
    handle: IO[Any] | io.IOBase, default_category: str | None, close: bool
) -> Iterator[AskInput | AskInputError]:
    """`parse_line` over a handle's lines; bad lines come out as errors in their place."""
    try:
        for number, raw in enumerate(handle, start=1):
            if isinstance(raw, bytes):
                try:
                    raw = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    yield AskInputError("not valid UTF-8 text", line=number)
                    continue
            if not raw.strip():
                continue
            try:
                yield parse_line(raw, number, default_category)
            except AskInputError as exc:
                yield exc
    finally:
        if close:
            handle.close()


def inputs_from_cli(
    groups: Sequence[str] = (),
    *,
    dilemma: str | None = None,
    option_a: str | None = None,
    option_b: str | None = None,
    category: str | None = None,
    input_path: str | None = None,
) -> Iterable[AskInput | AskInputError]:
    """The inputs named by `disca ask`'s arguments, checked before any model is loaded.

    Exactly one form: two positional groups (trolley), ``--dilemma`` with
    ``--option-a``/``--option-b`` (custom), or ``--input FILE`` (JSONL; ``--category``
    is the default for lines without one).

    Raises:
        AskInputError: no form, several forms, or an incomplete or invalid one.
        UnknownNameError: an unknown category.
    """
    if category is not None:
        category = categories.normalize_category(category)
    custom = dilemma is not None or option_a is not None or option_b is not None
    forms = [bool(groups), custom, input_path is not None]
    if sum(forms) == 0:
        raise AskInputError(
            'nothing to ask: give two groups (disca ask --country JP "a boy" "two elderly '
            'women"), or --dilemma with --option-a and --option-b, or --input FILE'
        )
    if sum(forms) > 1:
        raise AskInputError("give one of: two groups, --dilemma/--option-a/--option-b, --input")
    if input_path is not None:
        return _nonempty(read_inputs(input_path, category), input_path)
    if groups:
        if len(groups) != 2:
            raise AskInputError(f"expected two groups (A and B), got {len(groups)}")
        return [make_input(groups[0], groups[1], category=category)]
    if dilemma is None:
        raise AskInputError("--option-a/--option-b need --dilemma (or give two groups)")
    if option_a is None or option_b is None:
        raise AskInputError("--dilemma needs both --option-a and --option-b")
    return [make_input(option_a, option_b, dilemma=dilemma, category=category)]


def chunk_for(source: str | os.PathLike | None) -> int:
    """Dilemmas per engine call for an input: 1 on a pipe or terminal, else `CHUNK`.

    A pipe or terminal may be a person or program waiting for each answer before it
    writes the next line, so each line is answered (and written) as soon as it arrives.
    """
    if source is not None and str(source) == "-":
        try:
            if not stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode):
                return 1
        except (OSError, ValueError):  # no real stdin (a test runner's buffer)
            return CHUNK
    return CHUNK


def _nonempty(
    items: Iterator[AskInput | AskInputError], source: str
) -> Iterator[AskInput | AskInputError]:
    """Read up to the first non-blank line now: an empty input fails before a model loads."""
    first = next(items, None)
    if first is None:
        name = "standard input" if str(source) == "-" else str(source)
        raise AskInputError(f"{name}: no dilemmas to ask (the input is empty or blank)")
    return itertools.chain([first], items)
