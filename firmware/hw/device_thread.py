"""A device's own thread: one `step()` at a steady period, stopped promptly on request.

The thermometer sampler and the code reader each run one. Behind schedule (a slow bus, long
retries) it keeps the rate rather than bursting to catch up; a step may instead return how long
to wait before the next (a camera's back-off). Waits are sliced so that `stop()` is honoured
within `STOP_CHECK_S` even at a slow rate. Waiting goes through the device's clock, so a watched
clock (firmware.watchdog) sees the thread move.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from firmware.clock import Clock

STOP_CHECK_S = 0.1  # longest uninterrupted wait of a device thread


class DeviceThread:
    """Runs `step` every `period_s` on a daemon thread named `name`; a step that returns a
    number of seconds waits that long instead."""

    def __init__(
        self, name: str, clock: Clock, period_s: float, step: Callable[[], float | None]
    ) -> None:
        self.name = name
        self._clock = clock
        self.period_s = period_s
        self._step = step
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (nothing if it is already running)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to end after its current step; True if it did within `timeout`."""
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        next_due = self._clock.monotonic()
        while not self._stop.is_set():
            wait = self._step()
            now = self._clock.monotonic()
            if wait is not None:
                next_due = now + max(0.0, wait)
            else:
                next_due = max(next_due + self.period_s, now)
            self._wait_until(next_due)

    def _wait_until(self, due: float) -> None:
        while not self._stop.is_set():
            remaining = due - self._clock.monotonic()
            if remaining <= 0:
                return
            self._clock.sleep(min(remaining, STOP_CHECK_S))
