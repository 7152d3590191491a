"""The door's inputs: the door contact and the exit button, on gpiozero with debouncing.

Their callbacks run on gpiozero's threads: they must only hand the observation to the gate
loop's queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gpiozero import Button, DigitalInputDevice

log = logging.getLogger(__name__)


class DoorContact:
    """The door's reed contact. `when_changed(is_open)` fires on every debounced change."""

    def __init__(
        self,
        pin: int,
        *,
        pull: str = "up",
        closed_level: str = "low",
        bounce_s: float | None = 0.05,
        pin_factory: Any = None,
    ) -> None:
        pull_up = {"up": True, "down": False, "none": None}[pull]
        closed_high = closed_level == "high"
        # gpiozero calls a pulled input "active" at the level opposite its pull; an unpulled
        # one at `active_state`, which we set to the closed level.
        self._active_means_closed = pull_up is None or closed_high == (pull_up is False)
        self._device = DigitalInputDevice(
            pin,
            pull_up=pull_up,
            active_state=closed_high if pull_up is None else None,
            bounce_time=bounce_s or None,
            pin_factory=pin_factory,
        )
        self.when_changed: Callable[[bool], None] | None = None
        self._device.when_activated = lambda: self._changed(not self._active_means_closed)
        self._device.when_deactivated = lambda: self._changed(self._active_means_closed)

    @property
    def is_open(self) -> bool:
        """True when the door is not shut (or the contact wire is cut, with a pull-up)."""
        return bool(self._device.is_active) != self._active_means_closed

    def close(self) -> None:
        """Release the pin."""
        self._device.close()

    def _changed(self, is_open: bool) -> None:
        callback = self.when_changed
        if callback is not None:
            run_callback("door contact", callback, is_open)


class ExitButton:
    """The request-to-exit button inside the gate. `when_pressed()` fires once per press."""

    def __init__(
        self,
        pin: int,
        *,
        pull_up: bool = True,
        bounce_s: float | None = 0.05,
        pin_factory: Any = None,
    ) -> None:
        self._device = Button(
            pin, pull_up=pull_up, bounce_time=bounce_s or None, pin_factory=pin_factory
        )
        self.when_pressed: Callable[[], None] | None = None
        self._device.when_pressed = self._pressed

    @property
    def is_pressed(self) -> bool:
        """True while the button is held down."""
        return bool(self._device.is_pressed)

    def close(self) -> None:
        """Release the pin."""
        self._device.close()

    def _pressed(self) -> None:
        callback = self.when_pressed
        if callback is not None:
            run_callback("exit button", callback)


def run_callback(source: str, callback: Callable[..., None], *args: object) -> None:
    """Call a door callback; one that fails is logged, never raised into gpiozero."""
    # These run on gpiozero's and the timer's threads, where an exception would only be
    # printed and lost; log it once and keep the device alive.
    try:
        callback(*args)
    except Exception:
        log.exception("%s callback failed", source)
