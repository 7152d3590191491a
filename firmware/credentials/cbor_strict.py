"""Strict CBOR (RFC 8949) for the compact pass: the item structure is checked before decoding.

cbor2 reads indefinite lengths, any tag (a bignum tag even becomes a plain int), floats and
keys of any type; it refuses duplicate keys and indefinite lengths only when asked. So every
item head is walked here first, iteratively and with a depth bound, and anything DESIGN 2.1b
does not allow is refused before cbor2 builds a single object:

- definite lengths only, no reserved head values, no bytes after the one top-level item;
- no tag, except `outer_tag` on the top-level item;
- no floats and no simple values but false, true and null;
- integers within 64 bits (negatives down to -2**63; positives are 64-bit by construction);
- map keys are integers or text (a `true` key would compare equal to the claim key 1).

Then cbor2 decodes with duplicate keys and indefinite lengths refused.
"""

from __future__ import annotations

from typing import Any

import cbor2

# Our deepest item is the status claim inside the claims map inside a byte string; 16 is ample.
MAX_DEPTH = 16

_UINT, _NINT, _BYTES, _TEXT, _ARRAY, _MAP, _TAG, _SIMPLE = range(8)
# Additional information 24..27: the argument follows in 1, 2, 4 or 8 bytes.
_ARGUMENT_BYTES = {24: 1, 25: 2, 26: 4, 27: 8}
_INDEFINITE = 31
# Simple values 20, 21, 22: false, true, null.
_ALLOWED_SIMPLE = (20, 21, 22)
_NINT_LIMIT = 1 << 63


class CborError(ValueError):
    """Bytes that are not one strict CBOR item; the message names the first problem."""


def _head(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """(major type, additional info, argument, position after the head)."""
    if pos >= len(data):
        raise CborError("truncated")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if info < 24:
        return major, info, info, pos
    if info == _INDEFINITE:
        raise CborError("indefinite length")
    size = _ARGUMENT_BYTES.get(info)
    if size is None:
        raise CborError("reserved additional information")
    if pos + size > len(data):
        raise CborError("truncated")
    return major, info, int.from_bytes(data[pos : pos + size], "big"), pos + size


def check_structure(data: bytes, outer_tag: int | None = None) -> None:
    """Raise CborError unless `data` is exactly one item within the rules above."""
    if not data:
        raise CborError("empty")
    # Each open container: [items still expected, True when it is a map].
    stack: list[list[Any]] = [[1, False]]
    pos = 0
    while stack:
        top = stack[-1]
        if top[0] == 0:
            stack.pop()
            continue
        is_key = top[1] and top[0] % 2 == 0
        item_at = pos
        major, info, argument, pos = _head(data, pos)
        if major == _TAG:
            if outer_tag is None or item_at != 0 or argument != outer_tag:
                raise CborError("tag not allowed")
            continue  # the tagged item fills the same slot
        top[0] -= 1
        if is_key and major not in (_UINT, _NINT, _TEXT):
            raise CborError("map key that is neither an integer nor text")
        if major == _NINT and argument >= _NINT_LIMIT:
            raise CborError("integer outside 64 bits")
        elif major in (_BYTES, _TEXT):
            if argument > len(data) - pos:
                raise CborError("truncated")
            pos += argument
        elif major in (_ARRAY, _MAP):
            count = argument * 2 if major == _MAP else argument
            # Every item takes at least one byte: a count beyond what is left is a lie.
            if count > len(data) - pos:
                raise CborError("truncated")
            if len(stack) >= MAX_DEPTH:
                raise CborError("nested too deeply")
            stack.append([count, major == _MAP])
        elif major == _SIMPLE and info not in _ALLOWED_SIMPLE:
            raise CborError("float or simple value not allowed")
    if pos != len(data):
        raise CborError("bytes after the item")


def loads(data: bytes, outer_tag: int | None = None) -> Any:
    """The one strict CBOR item in `data`; raises CborError."""
    check_structure(data, outer_tag)
    try:
        return cbor2.loads(data, allow_indefinite=False, allow_duplicate_keys=False)
    except cbor2.CBORDecodeError as exc:  # duplicate keys, text that is not UTF-8
        raise CborError(str(exc).splitlines()[0] if str(exc) else "undecodable") from None
