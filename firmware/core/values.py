"""The value checks every rule uses on data from outside (JSON, CBOR, sensors).

JSON true/false decode to Python bools, which are ints: a pass with "exp": true, a sample of
True °C, is malformed, never a number.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_INFINITIES = (float("inf"), float("-inf"))


def is_int(value: "Any") -> bool:
    """An integer that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: "Any") -> bool:
    """A finite int or float that is not a bool (NaN and infinities are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value == value and value not in _INFINITIES


def is_text(value: "Any", limit: int) -> bool:
    """A non-empty string of at most `limit` characters."""
    return isinstance(value, str) and 0 < len(value) <= limit
