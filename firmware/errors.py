"""How an error reads in a log line, a cmd-result or a technician's terminal: one line."""

from __future__ import annotations


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """The exception's text with its whitespace folded (its type's name when it has none),
    cut to `limit` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if limit is None else text[:limit]
