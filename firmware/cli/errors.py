"""The command line's own errors: each is one line on stderr, and says the exit status."""

from __future__ import annotations

# How much of an unexpected exception's text a technician tool shows in its one line.
ERROR_CHARS = 240


class UsageError(Exception):
    """Bad arguments, configuration or input file: one line, exit 2."""


class Refused(Exception):
    """The input was usable but what it gave is not good enough (a measurement, a fit): one
    line, exit 1."""
