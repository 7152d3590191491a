"""JSON the way a verifier must read it: no duplicate names, no NaN, integers within 64 bits.

Two parsers that keep different copies of a duplicated name would read two different tokens out
of one signature; `NaN` and `Infinity` are not JSON; and an integer like 10**400 is valid JSON
that no 64-bit verifier elsewhere could hold, so a token carrying one is refused rather than
read as "valid forever".
"""

from __future__ import annotations

import json
from typing import Any

# The integers CBOR can carry without a bignum tag, less the negatives below int64: the range
# both pass forms share (DESIGN 2.1b "integers within 64 bits").
INT_MIN = -(1 << 63)
INT_MAX = (1 << 64) - 1
# "-9223372036854775808" is the longest integer text in range.
_MAX_INT_DIGITS = 20


class _DuplicateKeyError(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _DuplicateKeyError(name)
        result[name] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError("non-standard JSON constant " + name)


def _bounded_int(text: str) -> int:
    # Checked on the text first, so a 4,000-digit number costs nothing to refuse.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError("integer outside 64 bits")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError("integer outside 64 bits")
    return value


def strict_json_loads(text: str | bytes, *, bounded_ints: bool = False) -> Any:
    """json.loads that refuses duplicate object names and NaN/Infinity; raises ValueError.

    With `bounded_ints`, an integer outside [-2**63, 2**64 - 1] is refused too (tokens).
    """
    try:
        return json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
            parse_int=_bounded_int if bounded_ints else None,
        )
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def compact_json(value: Any) -> bytes:
    """UTF-8 JSON without whitespace, as signed tokens carry it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
