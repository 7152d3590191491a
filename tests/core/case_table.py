"""Case tables for the core that run on CPython (under pytest) and on MicroPython (under
`mpy_harness.py`): plain functions registered with their arguments, plain `assert`s, and the
few helpers pytest would otherwise give. Written in the subset both interpreters run: no
pytest, no typing, no star-unpacking in displays.
"""

from firmware.core import b64
from firmware.core import status_list as sl


class Case:
    """One case: a function of a table and the arguments it is called with."""

    def __init__(self, table, name, function, args, needs):
        self.table = table
        self.name = name
        self.function = function
        self.args = args
        self.needs = needs

    @property
    def key(self):
        """Unique across tables: `table/name`."""
        return self.table + "/" + self.name

    def missing(self):
        """The modules this case needs that the running interpreter lacks."""
        return [module for module in self.needs if not has_module(module)]

    def run(self):
        self.function(*self.args)

    def __str__(self):
        return self.name


class Table:
    """The cases of one rule table, in the order they are declared."""

    def __init__(self, name):
        self.name = name
        self.cases = []

    def case(self, *arg_tuples, needs=()):
        """Register a function once, or once per tuple of positional arguments.

        `needs` names modules beyond the core's that the case itself uses; an interpreter
        without one skips the case, with that reason.
        """

        def register(function):
            base = function.__name__
            if not arg_tuples:
                self._add(base, function, (), needs)
            for i, args in enumerate(arg_tuples):
                if not isinstance(args, tuple):
                    raise TypeError(base + ": case arguments must be tuples")
                self._add(base + "-" + str(i), function, args, needs)
            return function

        return register

    def each(self, values, needs=()):
        """Register a one-argument function once per value."""
        return self.case(*[(value,) for value in values], needs=needs)

    def _add(self, name, function, args, needs):
        for existing in self.cases:
            if existing.name == name:
                raise ValueError("duplicate case " + name)
        self.cases.append(Case(self.name, name, function, args, tuple(needs)))


def has_module(name):
    """True when `name` can be imported here."""
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def close(actual, expected, abs_tol=None):
    """pytest.approx's comparison: within `abs_tol`, else within 1e-6 relative (or 1e-12)."""
    tolerance = abs_tol if abs_tol is not None else max(1e-6 * abs(expected), 1e-12)
    return abs(actual - expected) <= tolerance


def expect_error(error_type, fragment, function, *args):
    """Call `function(*args)`; it must raise `error_type` whose message contains `fragment`
    (any message when `fragment` is None). Returns the exception."""
    try:
        function(*args)
    except error_type as exc:
        if fragment is not None and fragment not in str(exc):
            raise AssertionError("message " + repr(str(exc)) + " lacks " + repr(fragment)) from None
        return exc
    raise AssertionError(error_type.__name__ + " not raised")


def adler32(data):
    """RFC 1950's checksum, for building zlib streams without a compressor."""
    a = 1
    b = 0
    for byte in data:
        a = (a + byte) % 65521
        b = (b + a) % 65521
    return (b << 16) | a


def zlib_stored(data):
    """A valid zlib stream (RFC 1950/1951) holding `data` in stored, uncompressed blocks.

    Status-list fixtures are built with this rather than zlib.compress: every zlib decoder
    reads it, and it needs no compressor, which MicroPython's `deflate` module may lack.
    """
    out = bytearray(b"\x78\x01")
    chunk = 65535
    start = 0
    while True:
        block = data[start : start + chunk]
        start += chunk
        final = start >= len(data)
        size = len(block)
        out.append(1 if final else 0)
        out.extend(bytes((size & 255, size >> 8, (~size) & 255, ((~size) >> 8) & 255)))
        out.extend(block)
        if final:
            break
    out.extend(adler32(data).to_bytes(4, "big"))
    return bytes(out)


def stored_lst(statuses, bits=2):
    """A status list's `lst` for `statuses`, built without a compressor (see zlib_stored)."""
    return b64.encode(zlib_stored(sl.pack(statuses, bits)))
