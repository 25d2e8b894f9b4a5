"""Argument checks shared by the core's functions, and the logistic function (pure NumPy)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_float", "is_bool", "positive_temp", "scalar_or_array", "sigmoid"]


def is_bool(value: Any) -> bool:
    """True for Python and NumPy booleans (which `int` checks would let through)."""
    return isinstance(value, (bool, np.bool_))


def as_float(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array; ValueError naming ``name`` if not numeric or finite."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {type(value).__name__}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def scalar_or_array(arr: np.ndarray) -> Any:
    """0-d arrays become NumPy scalars; others are returned unchanged."""
    return arr[()] if arr.ndim == 0 else arr


def sigmoid(x: Any) -> Any:
    """Logistic function, stable for any finite or infinite input.

    Args:
        x (ndarray[...] | float): input (logit units).

    Returns:
        ndarray[...] | float: 1 / (1 + exp(-x)), same shape as ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return scalar_or_array(out)


def positive_temp(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array of positive numbers (temperatures); else ValueError."""
    arr = as_float(name, value)
    if (arr <= 0).any():
        raise ValueError(f"{name} must be > 0")
    return arr
