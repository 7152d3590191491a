"""MockFactory pins whose output levels survive the process: a pin history a SIGKILL keeps.

A killed process takes its gpiozero `MockPin.states` with it. `PinLogFactory` (the gpiozero pin
factory `simlog`: `GPIOZERO_PIN_FACTORY=simlog GATEKIOSK_SIM_PIN_LOG=/path`) hands out mock pins
that append one line per driven level to that file with a plain `os.write` on an `O_APPEND`
descriptor before the level change returns: the kernel holds each line as soon as the call
returns, so a SIGKILL loses none. A line is

    <monotonic s> <wall s> <pid> <pin name> <0|1>

written when a pin becomes an output (its starting level) and at every level it drives after.
`time.monotonic()` is the system-wide CLOCK_MONOTONIC on Linux, so lines of successive processes
compare. Simulation only: the Pi's pins come from lgpio, never from here.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin

ENV_VAR = "GATEKIOSK_SIM_PIN_LOG"


class _Log:
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def write(self, pin: str, level: bool) -> None:
        line = f"{time.monotonic():.6f} {time.time():.6f} {os.getpid()} {pin} {int(level)}\n"
        with self._lock:
            os.write(self._fd, line.encode())


class LoggedPin(MockPin):
    """A mock pin that logs its output levels (see the module docstring)."""

    def __init__(self, factory: Any, info: Any) -> None:
        self._log: _Log = factory.pin_log
        super().__init__(factory, info)

    def _set_function(self, value: str) -> None:
        was_output = getattr(self, "_function", None) == "output"
        super()._set_function(value)
        if value == "output" and not was_output:
            self._log.write(self.info.name, bool(self._state))

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if changed and self._function == "output":
            self._log.write(self.info.name, bool(value))
        return changed


class PinLogFactory(MockFactory):
    """gpiozero's MockFactory with `LoggedPin`s writing to the file $GATEKIOSK_SIM_PIN_LOG."""

    def __init__(self, revision: str | None = None) -> None:
        path = os.environ.get(ENV_VAR)
        if not path:
            raise RuntimeError(f"the simlog pin factory needs {ENV_VAR} (a file to append to)")
        self.pin_log = _Log(path)
        super().__init__(revision=revision, pin_class=LoggedPin)


@dataclass(frozen=True)
class Level:
    """One line of a pin log."""

    monotonic: float
    wall: float
    pid: int
    pin: str
    high: bool


def read_pin_log(path: Path) -> list[Level]:
    """The lines of a pin log in the order they were written (a torn last line is dropped)."""
    levels = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue
        mono, wall, pid, pin, high = parts
        levels.append(Level(float(mono), float(wall), int(pid), pin, high == "1"))
    return levels
