"""The gate's rules as pure code: no I/O, no clock reads, no third-party imports.

Written in the subset of Python that MicroPython also runs, so the same rules can run on a
microcontroller. Time is always an argument.
"""
