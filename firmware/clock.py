"""The one source of time for every component (DESIGN Part 1, principle 6).

`SystemClock` reads the operating system; `ManualClock` is moved by hand, so the simulator can
run a day of traffic in seconds and tests never sleep on wall time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock time, seconds since the Unix epoch (UTC)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; for timeouts and durations."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""

    def synced(self) -> bool:
        """True when the wall clock is known to be synchronised (NTP, RTC)."""


class SystemClock:
    """The real clock. `synced` is decided by a probe (see `firmware.timesync`), default unknown."""

    def __init__(self, sync_probe: object | None = None) -> None:
        self._probe = sync_probe

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def synced(self) -> bool:
        probe = self._probe
        if probe is None:
            return False
        return bool(probe())  # type: ignore[operator]


class ManualClock:
    """A clock that moves only when told to. `sleep` advances it instead of waiting."""

    def __init__(self, start: float = 1_767_225_600.0, synced: bool = True) -> None:
        self._wall = float(start)
        self._mono = 1000.0
        self._synced = synced
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._wall += seconds
            self._mono += seconds

    def step_wall(self, seconds: float) -> None:
        """Step the wall clock alone, either way (NTP correcting it, a bad RTC, a technician);
        the monotonic clock does not move."""
        with self._lock:
            self._wall += seconds

    def set_synced(self, synced: bool) -> None:
        self._synced = synced

    def synced(self) -> bool:
        return self._synced
