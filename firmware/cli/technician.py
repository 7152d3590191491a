"""What the technician tools (selftest, calibrate, provision) share about an installed kiosk:
the service and its user, the `gatekiosk` command, keys a gate may hold, TLS files, thermometer
reads, argument counts and quiet driver logs."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware.clock import Clock
    from firmware.hw.thermometer import Sample, Thermometer, ThermometerFault

SERVICE_NAME = "gatekiosk.service"
SERVICE_USER = "gatekiosk"
# RFC 7518 §6: the members that hold a private or secret key (EC/OKP "d", RSA's CRT values,
# a symmetric key's "k"). None of them may reach a gate.
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def gatekiosk_command() -> str:
    """This installation's `gatekiosk` (the venv's bin is rarely on a technician's PATH)."""
    beside = Path(sys.executable).parent / "gatekiosk"
    return str(beside) if beside.exists() else "gatekiosk"


def private_key_members(jwks: Any) -> list[str]:
    """The private-key members (`d`, ...) found in any key of a parsed JWKS, sorted."""
    found: set[str] = set()
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    for jwk in entries if isinstance(entries, list) else []:
        if isinstance(jwk, dict):
            found.update(name for name in PRIVATE_MEMBERS if name in jwk)
    return sorted(found)


def refuse_password() -> bytes:
    """The password callback for loading a TLS key: none.

    An encrypted key would make OpenSSL prompt on a terminal the kiosk does not have.
    """
    return b""


def read_samples(
    thermometer: Thermometer, clock: Clock, samples: int, sample_hz: float
) -> tuple[list[Sample], list[ThermometerFault]]:
    """`samples` reads through the driver at `sample_hz`: the good ones and the faults."""
    from firmware.hw.thermometer import ThermometerFault

    good: list[Sample] = []
    faults: list[ThermometerFault] = []
    for index in range(samples):
        if index:
            clock.sleep(1.0 / sample_hz)
        try:
            good.append(thermometer.read())
        except ThermometerFault as error:
            faults.append(error)
    return good, faults


def count_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def count(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in {low}..{high}")
        return int(text)

    return count


@contextlib.contextmanager
def quiet_logging(verbose: bool) -> Iterator[None]:
    """Driver logs (with their tracebacks) only when asked for: the tool's output says it all.

    Restores the previous state afterwards, so a caller in the same process keeps its logs.
    """
    if verbose:
        from firmware.cli.run import setup_logging

        setup_logging("DEBUG")
        yield
        return
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)
