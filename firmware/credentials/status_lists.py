"""Status lists for the community side (DESIGN 2.2): statuses read from a CSV or JSON file,
turned into the claims of a Token Status List JWT that `signing.sign_token` signs.

Nothing here runs on a gate, which only verifies lists (`jws.verify_status_list_token`).
"""

from __future__ import annotations

from typing import Any

from firmware.core import status_list
from firmware.credentials.strict_json import strict_json_loads

STATUS_BITS = 2
# The gate refuses lists that unpack to more than this many bytes (firmware.core.status_list).
MAX_STATUS_INDEX = status_list.MAX_LIST_BYTES * (8 // STATUS_BITS) - 1
STATUS_BY_NAME = {name: value for value, name in status_list.STATUS_NAMES.items()}


class StatusInputError(ValueError):
    """A statuses file or list that cannot be built; the message is one line naming where."""


def _status_value(text: Any, where: str) -> int:
    if isinstance(text, bool):
        raise StatusInputError(f"{where}: status {text!r} is not 0-3 or a status name")
    if isinstance(text, int) and 0 <= text <= 3:
        return text
    if isinstance(text, str):
        word = text.strip().lower()
        if word in STATUS_BY_NAME:
            return STATUS_BY_NAME[word]
        if word in ("0", "1", "2", "3"):
            return int(word)
    names = ", ".join(STATUS_BY_NAME)
    raise StatusInputError(f"{where}: status {text!r} is not 0-3 or one of {names}")


def _index_value(text: Any, where: str) -> int:
    if isinstance(text, str) and text.strip().isascii() and text.strip().isdigit():
        text = int(text.strip())
    if not isinstance(text, int) or isinstance(text, bool) or text < 0:
        raise StatusInputError(f"{where}: index {text!r} is not a non-negative integer")
    if text > MAX_STATUS_INDEX:
        raise StatusInputError(f"{where}: index {text} is larger than a status list holds")
    return text


def parse_statuses_csv(text: str, name: str) -> dict[int, int]:
    """index -> status from lines "index,status" (# comments, blank lines, an optional header)."""
    statuses: dict[int, int] = {}
    first_line_of: dict[int, int] = {}
    seen_content = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{name} line {number}"
        fields = [field.strip() for field in line.split(",")]
        if not seen_content and [f.lower() for f in fields] == ["index", "status"]:
            seen_content = True
            continue
        seen_content = True
        if len(fields) != 2:
            raise StatusInputError(f"{where}: expected 'index,status', got {line[:40]!r}")
        index = _index_value(fields[0], where)
        if index in statuses:
            raise StatusInputError(
                f"{where}: index {index} already given on line {first_line_of[index]}"
            )
        statuses[index] = _status_value(fields[1], where)
        first_line_of[index] = number
    return statuses


def parse_statuses_json(text: str, name: str) -> dict[int, int]:
    """index -> status from {"12": 2, ...} or a list whose positions are the indexes."""
    try:
        data = strict_json_loads(text)
    except ValueError as exc:
        raise StatusInputError(f"{name} is not JSON: {str(exc).splitlines()[0]}") from None
    statuses: dict[int, int] = {}
    if isinstance(data, list):
        if len(data) > MAX_STATUS_INDEX + 1:
            raise StatusInputError(f"{name}: more entries than a status list holds")
        for index, value in enumerate(data):
            statuses[index] = _status_value(value, f"{name} entry {index}")
        return statuses
    if not isinstance(data, dict):
        raise StatusInputError(f'{name}: expected a JSON object {{"index": status}} or a list')
    for key, value in data.items():
        where = f"{name} entry {key!r}"
        index = _index_value(key, where)
        if index in statuses:  # "12" and "012" name the same index
            raise StatusInputError(f"{where}: index {index} given twice")
        statuses[index] = _status_value(value, where)
    return statuses


def build_status_list_claims(
    statuses: dict[int, int], uri: str, now: int, lifetime_s: int, ttl: int | None, size: int
) -> dict[str, Any]:
    """Claims of a status-list JWT (DESIGN 2.2) for index -> status; unlisted indexes are 0."""
    length = max(size, max(statuses, default=-1) + 1)
    if length > MAX_STATUS_INDEX + 1:
        raise StatusInputError("--size is larger than a status list holds")
    values = [status_list.NORMAL] * length
    for index, value in statuses.items():
        values[index] = value
    claims: dict[str, Any] = {"sub": uri, "iat": now, "exp": now + lifetime_s}
    if ttl is not None:
        claims["ttl"] = ttl
    claims["status_list"] = {
        "bits": STATUS_BITS,
        "lst": status_list.encode_lst(values, STATUS_BITS),
    }
    return claims
