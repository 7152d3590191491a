"""A simulated door under the real door code: gpiozero MockFactory pins that react like the circuit.

`SimDoor` owns three mock pins and must be created before `firmware.hw.door.Door` on the same
factory, so the door's gpiozero devices pick up these pins:
- the relay pin reports every change; while the relay is energised the strike releases after
  `unlatch_delay_s`, and a person who is there pushes the door open;
- the door contact pin reads open or shut as the door moves; an open door swings shut
  `swing_s` after it opened, unless someone holds it;
- the exit button pin reads pressed while the simulated hand is on it.
Someone can also force the door open with the relay off.

Times run on a `StartTimer`: `ManualTimers` (below) for tests and fast simulation on a
`ManualClock`, or `start_thread_timer` for real time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin

from firmware.clock import ManualClock
from firmware.hw.pins import PinMap
from firmware.hw.relay import Cancellable, StartTimer


class WatchedOutputPin(MockPin):
    """A mock output pin that tells `listener(level)` about every change of level it drives."""

    def __init__(self, factory: Any, info: Any) -> None:
        self.listener: Callable[[bool], None] | None = None
        super().__init__(factory, info)

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        listener = self.listener
        if changed and self._function == "output" and listener is not None:
            listener(bool(value))
        return changed


class WiredInputPin(MockPin):
    """A mock input whose level the outside circuit sets, as a switch holding the line would.

    A plain MockPin jumps to the pull level whenever a device sets its pull, which would make a
    shut door read open for an instant when the door code starts. Once `set_level` has been
    called, only `set_level` moves this pin.
    """

    def __init__(self, factory: Any, info: Any) -> None:
        self._wired_level: bool | None = None
        super().__init__(factory, info)

    def set_level(self, high: bool) -> None:
        """Drive the input as the circuit would (the device's callbacks fire on a change)."""
        self._wired_level = high
        if high:
            self.drive_high()
        else:
            self.drive_low()

    def _change_state(self, value: bool) -> bool:
        if self._wired_level is not None and bool(value) != self._wired_level:
            return False  # the pull resistor loses against the circuit
        return bool(super()._change_state(value))


class _ManualTimer:
    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualTimers:
    """Timers on a `ManualClock`: `advance(seconds)` moves the clock and runs what falls due.

    `start` has the `StartTimer` signature, so relay and door model share one deterministic time.
    """

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._queue: list[tuple[float, int, _ManualTimer]] = []
        self._order = itertools.count()

    def start(self, delay_s: float, action: Callable[[], None]) -> Cancellable:
        """Run `action` once, `delay_s` from the clock's now."""
        timer = _ManualTimer(action)
        due = self.clock.monotonic() + max(0.0, delay_s)
        with self._lock:
            heapq.heappush(self._queue, (due, next(self._order), timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` ahead, stopping at each due timer to run it, in time order."""
        target = self.clock.monotonic() + seconds
        while True:
            with self._lock:
                if not self._queue or self._queue[0][0] > target:
                    break
                due, _, timer = heapq.heappop(self._queue)
            self.clock.advance(max(0.0, due - self.clock.monotonic()))
            if not timer.cancelled:
                timer.action()  # outside the lock: an action may start more timers
        self.clock.advance(max(0.0, target - self.clock.monotonic()))

    def pending(self) -> int:
        """How many timers have not run or been cancelled yet."""
        with self._lock:
            return sum(1 for _, _, timer in self._queue if not timer.cancelled)


class SimDoor:
    """A door with a strike, a reed contact, an exit button, and people who push or force it."""

    def __init__(
        self,
        factory: MockFactory,
        pins: PinMap,
        *,
        start_timer: StartTimer,
        unlatch_delay_s: float = 0.2,
        swing_s: float = 3.0,
    ) -> None:
        self._pins = pins
        self._start_timer = start_timer
        self.unlatch_delay_s = unlatch_delay_s
        self.swing_s = swing_s
        self.person_pushes = True  # someone is there to push when the strike releases
        self.relay_pin = _claim(factory, pins.relay, WatchedOutputPin)
        self.contact_pin = _claim(factory, pins.door_contact, WiredInputPin)
        self.exit_button_pin = _claim(factory, pins.exit_button, WiredInputPin)
        self._lock = threading.Lock()
        self._is_open = False
        self._held = False
        self._unlatch_timer: Cancellable | None = None
        self._swing_timer: Cancellable | None = None
        self.contact_pin.set_level(self._contact_level(is_open=False))
        self.exit_button_pin.set_level(self._button_level(pressed=False))
        # The recorded history starts with the circuit connected, not at a floating input.
        self.contact_pin.clear_states()
        self.exit_button_pin.clear_states()
        self.relay_pin.listener = self._relay_changed

    @property
    def is_open(self) -> bool:
        """True while the simulated door stands open."""
        with self._lock:
            return self._is_open

    @property
    def relay_energised(self) -> bool:
        """True while the relay pin is at its active level."""
        return bool(self.relay_pin.state) == self._pins.relay_active_high

    def force_open(self) -> None:
        """Someone forces the door open, whatever the relay does."""
        self._open()

    def hold_open(self) -> None:
        """The door, open now or next time it opens, stays open until `let_go()`."""
        with self._lock:
            self._held = True
            timer, self._swing_timer = self._swing_timer, None
        if timer is not None:
            timer.cancel()

    def let_go(self) -> None:
        """A held door is released and swings shut after `swing_s`."""
        with self._lock:
            self._held = False
            if self._is_open:
                self._swing_timer = self._start_timer(self.swing_s, self._swung_shut)

    def press_exit_button(self, hold_s: float = 0.1) -> None:
        """Press the exit button and let go of it `hold_s` later."""
        self.exit_button_pin.set_level(self._button_level(pressed=True))
        self._start_timer(
            hold_s, lambda: self.exit_button_pin.set_level(self._button_level(pressed=False))
        )

    def _relay_changed(self, level: bool) -> None:
        # Called on the relay's thread while it drives the pin: only schedule, never drive pins.
        energised = level == self._pins.relay_active_high
        with self._lock:
            if self._unlatch_timer is not None:
                self._unlatch_timer.cancel()
                self._unlatch_timer = None
            if energised:
                self._unlatch_timer = self._start_timer(self.unlatch_delay_s, self._unlatched)

    def _unlatched(self) -> None:
        with self._lock:
            self._unlatch_timer = None
        if self.relay_energised and self.person_pushes:
            self._open()

    def _open(self) -> None:
        with self._lock:
            if self._is_open:
                return
            self._is_open = True
            if not self._held:
                self._swing_timer = self._start_timer(self.swing_s, self._swung_shut)
        # Pins are driven outside the lock: the door code's callbacks run inside set_level.
        self.contact_pin.set_level(self._contact_level(is_open=True))

    def _swung_shut(self) -> None:
        with self._lock:
            if self._held or not self._is_open:
                return
            self._is_open = False
            self._swing_timer = None
        self.contact_pin.set_level(self._contact_level(is_open=False))

    def _contact_level(self, *, is_open: bool) -> bool:
        closed_high = self._pins.door_contact_closed_level == "high"
        return closed_high != is_open

    def _button_level(self, *, pressed: bool) -> bool:
        # The button shorts the line against its pull: low when pressed with a pull-up.
        return pressed != self._pins.exit_button_pull_up


def _claim(factory: MockFactory, gpio: int, pin_class: type[MockPin]) -> Any:
    pin = factory.pin(gpio, pin_class=pin_class)
    if not isinstance(pin, pin_class):
        raise RuntimeError(
            f"GPIO {gpio} already exists as a plain mock pin: create SimDoor before the Door"
        )
    return pin
