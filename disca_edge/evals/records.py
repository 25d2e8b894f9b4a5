"""The sample record of a MultiTP run: what each field scoring and rescoring read must hold.

A record is one line of ``samples.jsonl`` (`worker.record_chunk` writes it). A file
edited by hand or written by another tool can hold a value of the wrong kind (a logit
``NaN``, a category that is not one, a position that is text); `record_problem` says
which field and what is wrong, so `read_records` fails with one line naming the
record's line instead of deep inside the arithmetic. Fields it does not know are left
alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from ..maths.categories import CATEGORIES
from . import runlog

__all__ = ["read_records", "record_problem"]

#: Fields holding one number (or None) per method, keyed by method name.
_PER_METHOD = ("p_spare", "delta_micro", "delta_bar")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _logits_problem(logits: Any) -> str | None:
    """What is wrong with a record's logits: nested lists [2 orders][J agents][A, B]."""
    if not isinstance(logits, list) or len(logits) != 2:
        return "field 'logits' must be 2 lists (one per label order)"
    n_agents = None
    for o, order in enumerate(logits):
        if not isinstance(order, list) or not order or len(order) != (n_agents or len(order)):
            return "field 'logits' must hold the same number of agents in both label orders"
        n_agents = len(order)
        for j, pair in enumerate(order):
            if not isinstance(pair, list) or len(pair) != 2:
                return f"field 'logits'[{o}][{j}] must be a pair of numbers (A, B)"
            for k, value in enumerate(pair):
                if not _is_number(value) or not math.isfinite(value):
                    return f"field 'logits'[{o}][{j}][{k}] is {_shown(value)}, not a finite number"
    return None


def _per_method_problem(record: Mapping[str, Any]) -> str | None:
    """What is wrong with the per-method fields (numbers or None, keyed by method)."""
    for name in _PER_METHOD:
        values = record.get(name, {})
        if not isinstance(values, Mapping):
            return f"field '{name}' is {_shown(values)}, not a mapping of method to number"
        for method, value in values.items():
            if value is not None and (not _is_number(value) or not math.isfinite(value)):
                return f"field '{name}'.{method} is {_shown(value)}, not a finite number"
    diagnostics = record.get("diagnostics")
    if diagnostics is not None and not (
        isinstance(diagnostics, Mapping)
        and all(d is None or isinstance(d, Mapping) for d in diagnostics.values())
    ):
        return f"field 'diagnostics' is {_shown(diagnostics)}, not a mapping of method to mapping"
    return None


def record_problem(record: Any) -> str | None:
    """What is wrong with a sample record, in a few words naming the field; None if fine.

    Checks the fields scoring and rescoring read: ``country`` and ``scenario_id`` (text),
    ``vignette_index`` and ``pool_position`` (integers >= 0), ``category`` (a MultiTP
    category), ``preferred_right`` and ``has_swap`` (true/false), ``unordered_key``
    (text), ``logits`` (``[2][J][2]`` finite numbers) and the per-method numbers.
    """
    if not isinstance(record, Mapping):
        return f"a record must be a JSON object, got {_shown(record)}"
    for name, ok, kind in (
        ("country", lambda v: isinstance(v, str) and v, "a country code"),
        ("scenario_id", lambda v: isinstance(v, str) and v, "a scenario id (text)"),
        ("vignette_index", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        ("pool_position", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        ("category", lambda v: v in CATEGORIES, f"one of {', '.join(CATEGORIES)}"),
        ("preferred_right", lambda v: isinstance(v, bool), "true or false"),
        ("has_swap", lambda v: isinstance(v, bool), "true or false"),
        ("unordered_key", lambda v: isinstance(v, str), "text"),
    ):
        if name not in record:
            return f"field '{name}' is missing"
        if not ok(record[name]):
            return f"field '{name}' is {_shown(record[name])}, not {kind}"
    if "logits" not in record:
        return "field 'logits' is missing"
    return _logits_problem(record["logits"]) or _per_method_problem(record)


def read_records(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """A run's sample records (`runlog.read_samples`), each checked by `record_problem`.

    Raises:
        RunLogError: a corrupt line, or a record with a field of the wrong kind (the
            message names the file, the line, the record and the field).
    """
    return runlog.read_samples(directory, check=record_problem)
