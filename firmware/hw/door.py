"""The door: strike relay, door contact, exit button, and the supervisor that raises door alarms.

Safety rules this module keeps (FIELD-NOTES, "the relay fires on restart"):
- The relay is the first device created and starts off (`initial_value=False`).
- `Relay.pulse(seconds)` opens for at most `max_pulse_s`, a hard cap fixed at construction,
  counted from the moment the relay closed its contacts: no later `pulse()` can push the end
  past it. A second pulse while open may lengthen the opening up to that deadline, never
  shorten it.
- `close()` (also run by `atexit`, and by leaving a `with Door(...)` block, even on an
  exception) drives the relay off before releasing the pin. Nothing in a process can run after
  SIGKILL or a power cut: the external pull resistor, the `gpio=<pin>=op,dl` line in
  config.txt and the unit's ExecStopPost hold the relay off then (hardware/README.md).

Callbacks (`on_alarm`, `on_exit_request`) run on gpiozero's or the relay timer's thread: they
must only hand the observation to the gate loop's queue.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware.clock import Clock, SystemClock
from firmware.hw.door_inputs import DoorContact, ExitButton, run_callback
from firmware.hw.pins import PinMap
from firmware.hw.relay import MAX_PULSE_CEILING_S, Relay, StartTimer, start_thread_timer
from firmware.settings import internal, setting

log = logging.getLogger(__name__)


DOOR_FORCED = "door_forced"
DOOR_HELD_OPEN = "door_held_open"
RAISED = "raised"
CLEARED = "cleared"

AlarmCallback = Callable[[str, str, dict[str, Any]], None]
"""on_alarm(name, state, detail): name is door_forced or door_held_open, state raised or cleared."""


class DoorConfigError(ValueError):
    """A door setting that must not reach the hardware; the message is one line naming the key."""


@dataclass(frozen=True)
class DoorConfig:
    """Door timings (seconds): also the `[door]` section of the configuration."""

    pulse_s: float = setting(3.0, 0.2, 30.0)  # how long a granted entry unlocks the door
    # hard cap on one opening of the relay, whatever is asked
    max_pulse_s: float = setting(10.0, 0.5, MAX_PULSE_CEILING_S)
    # door still open this long after the relay dropped: alarm
    held_open_s: float = setting(15.0, 2.0, 600.0)
    # door opening this soon after the relay dropped is not forced
    forced_grace_s: float = setting(2.0, 0.0, 30.0)
    # After a decision the gate ignores new codes this long (the person walks through).
    cooldown_s: float = setting(1.5, 0.0, 30.0)
    contact_bounce_s: float = internal(0.05)
    button_bounce_s: float = internal(0.05)

    def validate(self, path: str = "door") -> DoorConfig:
        """Check the timings; raise `DoorConfigError` naming `path.key`. Returns self."""
        for key in ("pulse_s", "max_pulse_s", "held_open_s"):
            _require_seconds(path, key, getattr(self, key), allow_zero=False)
        for key in ("forced_grace_s", "cooldown_s", "contact_bounce_s", "button_bounce_s"):
            _require_seconds(path, key, getattr(self, key), allow_zero=True)
        if self.max_pulse_s > MAX_PULSE_CEILING_S:
            raise DoorConfigError(
                f"{path}.max_pulse_s: {self.max_pulse_s} s is longer than the "
                f"{MAX_PULSE_CEILING_S:g} s any door needs"
            )
        if self.pulse_s > self.max_pulse_s:
            raise DoorConfigError(
                f"{path}.pulse_s: {self.pulse_s} s is longer than max_pulse_s "
                f"({self.max_pulse_s} s)"
            )
        return self


def _require_seconds(path: str, key: str, value: object, *, allow_zero: bool) -> None:
    where = f"{path}.{key}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DoorConfigError(f"{where}: must be a number of seconds, not {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise DoorConfigError(f"{where}: must be {'>= 0' if allow_zero else '> 0'}, not {value}")


class DoorSupervisor:
    """Watches the contact against the relay and raises `door_forced` / `door_held_open`.

    - door_forced: the door opens while the relay is off, later than `forced_grace_s` after
      the relay dropped (a door still swinging shut after a pulse is not forced). Cleared when
      the door shuts.
    - door_held_open: the door has been open for `held_open_s` while the relay is off,
      counted from the later of the door opening and the relay dropping. Checked by `tick()`,
      which the gate loop calls often (twice a second is plenty). Cleared when the door shuts.
    A door found open at start-up counts as opened then; it can be held open, not forced.
    """

    def __init__(
        self,
        relay: Relay,
        contact: DoorContact,
        *,
        held_open_s: float,
        forced_grace_s: float,
        clock: Clock,
        on_alarm: AlarmCallback | None = None,
    ) -> None:
        self._relay = relay
        self._contact = contact
        self.held_open_s = held_open_s
        self.forced_grace_s = forced_grace_s
        self._clock = clock
        self.on_alarm = on_alarm
        self._lock = threading.Lock()
        self._open_since: float | None = clock.monotonic() if contact.is_open else None
        self._raised: set[str] = set()
        contact.when_changed = self._contact_changed

    @property
    def raised(self) -> frozenset[str]:
        """Names of the door alarms currently raised."""
        with self._lock:
            return frozenset(self._raised)

    def tick(self) -> None:
        """Raise door_held_open once the door has been open too long; call it from the loop."""
        with self._lock:
            alarms = self._check_held_open(self._clock.monotonic())
        self._emit(alarms)

    def _contact_changed(self, is_open: bool) -> None:
        now = self._clock.monotonic()
        alarms: list[tuple[str, str, dict[str, Any]]] = []
        with self._lock:
            if is_open and self._open_since is None:
                self._open_since = now
                since_off = self._relay.off_for(now)
                # door_forced was cleared when the door last shut, so it is not raised here.
                if since_off is not None and since_off >= self.forced_grace_s:
                    self._raised.add(DOOR_FORCED)
                    # inf (never opened since start) is not JSON: report it as null.
                    off_s = _round(since_off) if math.isfinite(since_off) else None
                    detail = {"seconds_since_relay_off": off_s}
                    alarms.append((DOOR_FORCED, RAISED, detail))
            elif not is_open and self._open_since is not None:
                open_s = _round(now - self._open_since)
                self._open_since = None
                for name in (DOOR_FORCED, DOOR_HELD_OPEN):
                    if name in self._raised:
                        self._raised.discard(name)
                        alarms.append((name, CLEARED, {"open_s": open_s}))
        self._emit(alarms)

    def _check_held_open(self, now: float) -> list[tuple[str, str, dict[str, Any]]]:
        if self._open_since is None or DOOR_HELD_OPEN in self._raised:
            return []
        since_off = self._relay.off_for(now)
        if since_off is None:
            return []
        unattended_s = min(now - self._open_since, since_off)
        if unattended_s < self.held_open_s:
            return []
        self._raised.add(DOOR_HELD_OPEN)
        detail = {"open_s": _round(now - self._open_since), "held_open_s": self.held_open_s}
        return [(DOOR_HELD_OPEN, RAISED, detail)]

    def _emit(self, alarms: list[tuple[str, str, dict[str, Any]]]) -> None:
        callback = self.on_alarm
        for name, state, detail in alarms:
            log.info("door alarm %s %s %s", name, state, detail)
            if callback is not None:
                run_callback("door alarm", callback, name, state, detail)


def _round(seconds: float) -> float:
    return round(seconds, 3)


class Door:
    """The door port: relay, contact, exit button and supervisor, built in a safe order.

    Use as a context manager (or call `close()`): leaving the block, normally or by an
    exception, drives the relay off.
    """

    def __init__(
        self,
        pins: PinMap,
        config: DoorConfig,
        *,
        clock: Clock | None = None,
        on_alarm: AlarmCallback | None = None,
        on_exit_request: Callable[[], None] | None = None,
        start_timer: StartTimer = start_thread_timer,
        pin_factory: Any = None,
    ) -> None:
        pins.validate()
        config.validate()
        self.config = config
        clock = clock or SystemClock()
        # The relay first: nothing else may run while its pin might still float "on".
        self.relay = Relay(
            pins.relay,
            active_high=pins.relay_active_high,
            max_pulse_s=config.max_pulse_s,
            clock=clock,
            start_timer=start_timer,
            pin_factory=pin_factory,
        )
        try:
            self.contact = DoorContact(
                pins.door_contact,
                pull=pins.door_contact_pull,
                closed_level=pins.door_contact_closed_level,
                bounce_s=config.contact_bounce_s,
                pin_factory=pin_factory,
            )
            self.exit_button = ExitButton(
                pins.exit_button,
                pull_up=pins.exit_button_pull_up,
                bounce_s=config.button_bounce_s,
                pin_factory=pin_factory,
            )
        except Exception:
            self.relay.close()
            raise
        self.exit_button.when_pressed = on_exit_request
        self.supervisor = DoorSupervisor(
            self.relay,
            self.contact,
            held_open_s=config.held_open_s,
            forced_grace_s=config.forced_grace_s,
            clock=clock,
            on_alarm=on_alarm,
        )

    def pulse(self, seconds: float | None = None) -> float:
        """Unlock for `seconds` (default `config.pulse_s`); return how long it stays unlocked."""
        return self.relay.pulse(self.config.pulse_s if seconds is None else seconds)

    def lock(self) -> None:
        """End any opening now."""
        self.relay.off()

    @property
    def is_open(self) -> bool:
        """True when the door contact reads open."""
        return self.contact.is_open

    def tick(self) -> None:
        """Let the supervisor check how long the door has been open."""
        self.supervisor.tick()

    def close(self) -> None:
        """Relay off first, then release every pin."""
        self.relay.close()
        for device in (self.contact, self.exit_button):
            try:
                device.close()
            except Exception:
                log.exception("door input could not be released")

    def __enter__(self) -> Door:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
