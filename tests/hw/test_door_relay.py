"""Relay timing, asserted from what the relay pin recorded (gpiozero MockPin.states).

Pulse lengths here are real time (MockPin stamps changes with time.monotonic), so they are
short and compared with a tolerance: a timer never fires early, but on a loaded machine it may
fire late. Waits are on the pin's own change notifications, bounded, never fixed sleeps.
"""

import queue
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from firmware.clock import ManualClock
from firmware.hw.door import Door, DoorConfig
from firmware.hw.pins import PinMap
from firmware.hw.relay import Relay
from host_sim.door_sim import ManualTimers, WatchedOutputPin

RELAY_GPIO = 17
EARLY_S = 0.01  # clock granularity
LATE_S = 0.1  # scheduling delay on a loaded 2-core machine
REPO = Path(__file__).resolve().parents[2]


class RelayPinWatch:
    """The relay's mock pin, with a queue of the levels it is driven to."""

    def __init__(self, factory: MockFactory, gpio: int = RELAY_GPIO) -> None:
        self.pin = factory.pin(gpio, pin_class=WatchedOutputPin)
        self.levels: queue.Queue[bool] = queue.Queue()
        self.pin.listener = self.levels.put

    def start_recording(self) -> None:
        """Forget what happened so far: history and queue start from here."""
        self.pin.clear_states()
        while not self.levels.empty():
            self.levels.get_nowait()

    def next_level(self, timeout: float = 3.0) -> bool:
        return self.levels.get(timeout=timeout)

    def durations(self) -> list[tuple[bool, float]]:
        """(level, seconds held) for every level after the first, from the pin's history."""
        states = self.pin.states
        return [(states[i].state, states[i + 1].timestamp) for i in range(1, len(states) - 1)]


def assert_close(measured: float, expected: float) -> None:
    assert expected - EARLY_S <= measured <= expected + LATE_S, (measured, expected)


@pytest.fixture
def factory():
    return MockFactory()


def test_relay_claims_its_pin_at_the_inactive_level_even_if_it_was_left_active(factory):
    pin = factory.pin(RELAY_GPIO)
    pin.function = "output"
    pin.state = True  # as a crashed earlier process could have left it
    relay = Relay(RELAY_GPIO, active_high=True, max_pulse_s=1.0, pin_factory=factory)
    assert pin.state is False
    assert not relay.is_active
    relay.close()


def test_pulse_holds_the_relay_on_for_the_requested_time(factory):
    watch = RelayPinWatch(factory)
    relay = Relay(RELAY_GPIO, active_high=True, max_pulse_s=1.0, pin_factory=factory)
    watch.start_recording()
    assert relay.pulse(0.2) == pytest.approx(0.2)
    assert watch.next_level() is True
    assert watch.next_level() is False
    [(level, held_s)] = watch.durations()
    assert level is True
    assert_close(held_s, 0.2)
    relay.close()


def test_pulse_longer_than_the_cap_is_cut_to_max_pulse_s(factory):
    watch = RelayPinWatch(factory)
    relay = Relay(RELAY_GPIO, active_high=True, max_pulse_s=0.25, pin_factory=factory)
    watch.start_recording()
    assert relay.pulse(30.0) == pytest.approx(0.25)
    assert watch.next_level() is True
    assert watch.next_level() is False
    [(_, held_s)] = watch.durations()
    assert_close(held_s, 0.25)
    relay.close()


def test_a_later_pulse_cannot_extend_the_opening_past_its_hard_deadline(factory):
    watch = RelayPinWatch(factory)
    relay = Relay(RELAY_GPIO, active_high=True, max_pulse_s=0.3, pin_factory=factory)
    watch.start_recording()
    granted: list[float] = []
    relay.pulse(0.2)
    # While it is open, ask again for far longer than the cap: the end moves to opening + 0.3 s.
    later = threading.Timer(0.15, lambda: granted.append(relay.pulse(10.0)))
    later.start()
    assert watch.next_level() is True
    assert watch.next_level() is False
    later.join(timeout=3.0)
    [(level, held_s)] = watch.durations()  # one opening, not two
    assert level is True
    assert_close(held_s, 0.3)
    assert 0.0 < granted[0] <= 0.15 + EARLY_S
    relay.close()


def test_relay_is_off_right_after_an_exception_inside_the_door_block(factory):
    watch = RelayPinWatch(factory)
    with (
        pytest.raises(RuntimeError, match="camera died"),
        Door(PinMap(), DoorConfig(), pin_factory=factory) as door,
    ):
        watch.start_recording()
        door.pulse(5.0)
        assert watch.next_level() is True
        raise RuntimeError("camera died")
    assert watch.pin.state is False
    [(level, held_s)] = watch.durations()
    assert level is True
    assert held_s < LATE_S  # dropped at once, not when the 5 s pulse would have ended
    assert not door.relay.is_active
    assert door.relay.pulse(1.0) == 0.0  # a closed door cannot be opened again


def test_active_low_relay_idles_high_and_pulls_low_to_open(factory):
    watch = RelayPinWatch(factory, gpio=4)
    relay = Relay(4, active_high=False, max_pulse_s=1.0, pin_factory=factory)
    assert watch.pin.state is True
    watch.start_recording()
    relay.pulse(0.1)
    assert watch.next_level() is False
    assert watch.next_level() is True
    [(level, held_s)] = watch.durations()
    assert level is False
    assert_close(held_s, 0.1)
    relay.close()
    assert watch.pin.state is True


def test_relay_is_driven_off_at_exit_after_an_uncaught_exception(tmp_path):
    # A separate interpreter that crashes with the relay open; an exit hook registered before
    # the relay runs after the relay's own, and reports what the pin saw.
    script = textwrap.dedent(
        f"""
        import atexit, sys
        from gpiozero.pins.mock import MockFactory
        factory = MockFactory()
        pin = factory.pin({RELAY_GPIO})
        atexit.register(lambda: print("levels", [s.state for s in pin.states], flush=True))
        from firmware.hw.relay import Relay
        relay = Relay({RELAY_GPIO}, active_high=True, max_pulse_s=30.0, pin_factory=factory)
        relay.pulse(30.0)
        raise RuntimeError("crash while the door is open")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "crash while the door is open" in result.stderr
    assert "levels [False, True, False]" in result.stdout


# Pulse rules on a manual clock: exact, instant, no real time.


@pytest.fixture
def manual(factory):
    clock = ManualClock()
    timers = ManualTimers(clock)
    relay = Relay(
        RELAY_GPIO,
        active_high=True,
        max_pulse_s=5.0,
        clock=clock,
        start_timer=timers.start,
        pin_factory=factory,
    )
    yield relay, timers, factory.pin(RELAY_GPIO)
    relay.close()


def test_later_pulses_lengthen_up_to_the_first_openings_deadline(manual):
    relay, timers, pin = manual
    assert relay.pulse(2.0) == 2.0
    timers.advance(1.5)
    assert relay.pulse(10.0) == pytest.approx(3.5)  # opened at 0, cap 5 s
    timers.advance(3.4)
    assert relay.is_active and pin.state is True
    timers.advance(0.2)
    assert not relay.is_active and pin.state is False


def test_a_shorter_second_pulse_does_not_cut_the_opening_short(manual):
    relay, timers, pin = manual
    relay.pulse(4.0)
    timers.advance(1.0)
    assert relay.pulse(1.0) == pytest.approx(3.0)
    timers.advance(2.9)
    assert pin.state is True
    timers.advance(0.2)
    assert pin.state is False


def test_after_the_relay_drops_a_new_pulse_gets_a_new_window(manual):
    relay, timers, _ = manual
    relay.pulse(10.0)
    timers.advance(5.0)
    assert not relay.is_active
    assert relay.off_for(timers.clock.monotonic()) == 0.0
    assert relay.pulse(10.0) == 5.0


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "3", None, True])
def test_a_nonsense_pulse_leaves_the_door_locked(manual, bad):
    relay, timers, pin = manual
    assert relay.pulse(bad) == 0.0
    assert pin.state is False
    assert timers.pending() == 0


def test_lock_ends_a_pulse_at_once(manual):
    relay, timers, pin = manual
    relay.pulse(3.0)
    relay.off()
    assert pin.state is False
    assert timers.pending() == 0


class StuckLowPin(MockPin):
    """An output that fails whenever it is driven high (a broken driver transistor, say)."""

    def _set_state(self, value):
        if value:
            raise OSError("GPIO write failed")
        super()._set_state(value)


def test_a_pin_that_cannot_be_driven_leaves_the_door_locked_without_raising(factory):
    clock = ManualClock()
    timers = ManualTimers(clock)
    factory.pin(RELAY_GPIO, pin_class=StuckLowPin)
    relay = Relay(
        RELAY_GPIO,
        active_high=True,
        max_pulse_s=5.0,
        clock=clock,
        start_timer=timers.start,
        pin_factory=factory,
    )
    assert relay.pulse(3.0) == 0.0
    assert not relay.is_active
    assert timers.pending() == 0
    relay.close()


def test_a_timer_that_cannot_start_never_leaves_the_relay_open(factory):
    clock = ManualClock()
    timers = ManualTimers(clock)
    starts = []

    def start_timer(delay_s, action):
        starts.append(delay_s)
        if len(starts) > 1:
            raise RuntimeError("can't start new thread")
        return timers.start(delay_s, action)

    relay = Relay(
        RELAY_GPIO,
        active_high=True,
        max_pulse_s=5.0,
        clock=clock,
        start_timer=start_timer,
        pin_factory=factory,
    )
    pin = factory.pin(RELAY_GPIO)
    assert relay.pulse(2.0) == 2.0
    timers.advance(1.0)
    assert relay.pulse(4.0) == 1.0  # not extended: the first end still stands
    timers.advance(1.0)
    assert pin.state is False
    assert relay.pulse(2.0) == 0.0  # no timer, no opening
    assert pin.state is False
    relay.close()


def test_max_pulse_outside_the_ceiling_is_refused_at_construction(factory):
    with pytest.raises(ValueError, match="max_pulse_s"):
        Relay(RELAY_GPIO, active_high=True, max_pulse_s=600.0, pin_factory=factory)
    assert RELAY_GPIO not in [info.number for info in factory.pins]
