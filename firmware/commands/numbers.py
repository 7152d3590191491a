"""The number check every command claim and argument uses."""

from __future__ import annotations

import math
from typing import Any

# NumericDates and durations beyond 64 bits are not numbers a command means (10**400 would
# overflow every float conversion after it).
MAX_INT = 2**63 - 1


def is_number(value: Any) -> bool:
    """A finite JSON number within 64 bits (a JSON `true` is not one)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -MAX_INT - 1 <= value <= MAX_INT
    return isinstance(value, float) and math.isfinite(value) and abs(value) <= MAX_INT
