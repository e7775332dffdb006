"""Argument checks shared by the parallel building blocks.

Each gives the same named exception and message on both backends, before
a value reaches the compiled core (whose own conversions would truncate a
float or name a C type).
"""

from __future__ import annotations

import math
from typing import SupportsIndex


def whole_number(value: SupportsIndex, name: str, low: int) -> int:
    """``value`` as an int >= ``low``: TypeError or ValueError if not."""
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(
            f"{name} must be a whole number, not {type(value).__name__} "
            f"{value!r}"
        )
    number = value.__index__()
    if number < low:
        raise ValueError(f"{name} must be >= {low}, got {number}")
    return number


def positive_rate(value: float, name: str) -> float:
    """``value`` as a finite float > 0: TypeError or ValueError if not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be a number, not {type(value).__name__} {value!r}"
        )
    rate = float(value)
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return rate
