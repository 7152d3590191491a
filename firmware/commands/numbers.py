"""The number check every command claim and argument uses."""

from __future__ import annotations

import math
from typing import Any


def is_number(value: Any) -> bool:
    """A finite JSON number (a JSON `true` is not one)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
