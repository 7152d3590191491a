"""The strike relay: the first device created, off from the start, with a hard cap on every
opening (FIELD-NOTES, "the relay fires on restart"; see firmware/hw/door.py).

`Relay.pulse(seconds)` opens for at most `max_pulse_s`, counted from the moment the relay closed
its contacts: no later `pulse()` can push the end past it. `close()` (also run by `atexit`)
drives the relay off before releasing the pin.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
from collections.abc import Callable
from typing import Any, Protocol

from gpiozero import OutputDevice

from firmware.clock import Clock, SystemClock

log = logging.getLogger(__name__)

# No strike or maglock controller needs the door unlocked for longer than this per grant;
# a config asking for more is a mistake, not a wish.
MAX_PULSE_CEILING_S = 60.0


class Cancellable(Protocol):
    def cancel(self) -> None:
        """Stop the timer; its action will not run (or is ignored if it already started)."""


StartTimer = Callable[[float, Callable[[], None]], Cancellable]
"""start_timer(delay_s, action) runs `action` once, `delay_s` later on the relay's clock."""


def start_thread_timer(delay_s: float, action: Callable[[], None]) -> Cancellable:
    """The real timer: a daemon `threading.Timer` on wall time (pairs with `SystemClock`)."""
    timer = threading.Timer(max(0.0, delay_s), action)
    timer.daemon = True
    timer.start()
    return timer


class Relay:
    """The door strike relay: off from the first instant, opened only by bounded pulses."""

    def __init__(
        self,
        pin: int,
        *,
        active_high: bool,
        max_pulse_s: float,
        clock: Clock | None = None,
        start_timer: StartTimer = start_thread_timer,
        pin_factory: Any = None,
    ) -> None:
        if not (math.isfinite(max_pulse_s) and 0 < max_pulse_s <= MAX_PULSE_CEILING_S):
            raise ValueError(f"max_pulse_s must be in (0, {MAX_PULSE_CEILING_S:g}] s")
        # initial_value=False drives the pin to the inactive level as it becomes an output;
        # None would keep whatever level the pin had, which may be "open".
        self._device = OutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )
        self.max_pulse_s = float(max_pulse_s)
        self._clock: Clock = clock or SystemClock()
        self._start_timer = start_timer
        # Re-entrant: a pin watcher may call back into the relay while it drives the pin.
        self._lock = threading.RLock()
        self._timer: Cancellable | None = None
        self._generation = 0  # of the current timer
        self._opened_at: float | None = None  # clock.monotonic() when the contacts closed
        self._ends_at = 0.0
        self._last_closed_at: float | None = None
        self._closed = False
        atexit.register(self.close)

    @property
    def is_active(self) -> bool:
        """True while the relay holds the door unlocked."""
        with self._lock:
            return self._opened_at is not None

    def off_for(self, now: float) -> float | None:
        """Seconds the relay has been off at clock time `now`: None while on, inf if never on."""
        with self._lock:
            if self._opened_at is not None:
                return None
            return math.inf if self._last_closed_at is None else now - self._last_closed_at

    def pulse(self, seconds: float) -> float:
        """Unlock for `seconds`, within the hard cap; return how long it stays open from now.

        Returns 0.0 (door stays locked) for a non-positive or non-finite request, after
        `close()`, or when the pin cannot be driven.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            log.warning("relay pulse refused: %r is not a number of seconds", seconds)
            return 0.0
        if not math.isfinite(seconds) or seconds <= 0:
            log.warning("relay pulse refused: %r s", seconds)
            return 0.0
        with self._lock:
            if self._closed:
                log.warning("relay pulse refused: relay is closed")
                return 0.0
            now = self._clock.monotonic()
            opened_at = now if self._opened_at is None else self._opened_at
            ends_at = min(now + seconds, opened_at + self.max_pulse_s)
            if self._opened_at is not None and ends_at <= self._ends_at:
                return self._ends_at - now  # never shortens an opening already granted
            # The new end is scheduled before the pin goes active (no opening without its end)
            # and before the old end is cancelled (a failed start keeps the old end).
            generation = self._generation + 1
            try:
                timer = self._start_timer(ends_at - now, lambda: self._expire(generation))
            except Exception:
                log.exception("relay timer could not be started; opening not granted")
                return 0.0 if self._opened_at is None else self._ends_at - now
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._generation, self._ends_at = timer, generation, ends_at
            if self._opened_at is None:
                # State first, then the pin: whoever watches the pin sees a consistent relay.
                self._opened_at = now
                try:
                    self._device.on()
                except Exception:
                    log.exception("relay pin could not be driven on; door stays locked")
                    self._release_locked()
                    return 0.0
            return ends_at - now

    def off(self) -> None:
        """Lock now, ending any pulse."""
        with self._lock:
            self._release_locked()

    def close(self) -> None:
        """Drive the relay off and release the pin. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._release_locked()
            try:
                self._device.close()
            except Exception:
                log.exception("relay pin could not be released")
        atexit.unregister(self.close)

    def _expire(self, generation: int) -> None:
        with self._lock:
            # A timer cancelled while it was already firing must not end a later opening.
            if generation == self._generation:
                self._release_locked()

    def _release_locked(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._opened_at is not None:
            self._opened_at = None
            self._last_closed_at = self._clock.monotonic()
        try:
            self._device.off()
        except Exception:
            # Nothing else to try from software: the pull resistor holds it once we exit.
            log.critical("relay pin could not be driven off", exc_info=True)
