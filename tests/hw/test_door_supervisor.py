"""Door alarms and the exit button, on the simulated door: real door code over mock pins.

Time is a ManualClock shared by the relay, the door model and the supervisor, so every case is
exact and instant. Assertions are on the alarms raised and on what the pins saw.
"""

import dataclasses

import pytest
from gpiozero.pins.mock import MockFactory

from firmware.clock import ManualClock
from firmware.hw.door import Door, DoorConfig, DoorConfigError
from firmware.hw.pins import PinMap, PinMapError
from host_sim.door_sim import ManualTimers, SimDoor

CONFIG = DoorConfig(pulse_s=3.0, max_pulse_s=10.0, held_open_s=15.0, forced_grace_s=2.0)


class Bench:
    """A door on the bench: the model, the real Door on top, and what it reported."""

    def __init__(self, pins: PinMap | None = None, *, build_door: bool = True) -> None:
        self.pins = pins or PinMap()
        self.factory = MockFactory()
        self.clock = ManualClock()
        self.timers = ManualTimers(self.clock)
        self.sim = SimDoor(
            self.factory, self.pins, start_timer=self.timers.start, unlatch_delay_s=0.2, swing_s=3.0
        )
        self.alarms: list[tuple[str, str, dict]] = []
        self.exit_requests: list[float] = []
        self.door = self.build() if build_door else None

    def build(self) -> Door:
        self.door = Door(
            self.pins,
            CONFIG,
            clock=self.clock,
            start_timer=self.timers.start,
            pin_factory=self.factory,
            on_alarm=lambda *alarm: self.alarms.append(alarm),
            on_exit_request=lambda: self.exit_requests.append(self.clock.monotonic()),
        )
        return self.door

    def run(self, seconds: float, step: float = 0.5) -> None:
        """Let time pass, with the gate loop ticking the door every `step`."""
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end - 1e-9:
            self.timers.advance(min(step, end - self.clock.monotonic()))
            self.door.tick()

    def names(self) -> list[tuple[str, str]]:
        return [(name, state) for name, state, _ in self.alarms]


@pytest.fixture
def bench():
    bench = Bench()
    yield bench
    bench.door.close()


def test_a_granted_passage_raises_no_alarm(bench):
    bench.door.pulse()
    bench.run(0.3)
    assert bench.door.is_open
    bench.run(10.0)
    assert not bench.door.is_open
    assert bench.alarms == []
    assert [s.state for s in bench.sim.contact_pin.states] == [False, True, False]
    assert [s.state for s in bench.sim.relay_pin.states] == [False, True, False]


def test_a_door_forced_with_the_relay_off_raises_and_clears_when_it_shuts(bench):
    bench.run(1.0)
    bench.sim.force_open()
    assert bench.alarms == [("door_forced", "raised", {"seconds_since_relay_off": None})]
    bench.run(3.0)
    assert bench.names()[-1] == ("door_forced", "cleared")
    assert bench.alarms[-1][2] == {"open_s": 3.0}
    assert bench.door.supervisor.raised == frozenset()
    assert [s.state for s in bench.sim.relay_pin.states] == [False]  # the relay never moved


def test_a_door_still_swinging_after_a_pulse_is_not_forced_within_the_grace(bench):
    bench.sim.person_pushes = False  # the strike released but nobody pushed
    bench.door.pulse(1.0)
    bench.run(2.5)  # relay dropped at 1.0
    bench.sim.force_open()  # 1.5 s after the relay dropped: the latch had not caught yet
    assert bench.alarms == []
    bench.run(4.0)
    bench.sim.force_open()  # now 5.5 s after: forced
    assert bench.names() == [("door_forced", "raised")]
    assert bench.alarms[0][2] == {"seconds_since_relay_off": 5.5}


def test_a_door_open_too_long_after_the_pulse_raises_held_open_then_clears(bench):
    bench.sim.hold_open()
    bench.door.pulse(3.0)
    bench.run(3.0 + 14.5)  # opened at 0.2; the relay dropped at 3.0
    assert bench.alarms == []
    bench.run(0.5)
    assert bench.alarms == [("door_held_open", "raised", {"open_s": 17.8, "held_open_s": 15.0})]
    bench.run(30.0)
    assert len(bench.alarms) == 1  # raised once, not on every tick
    bench.sim.let_go()
    bench.run(3.0)
    assert bench.names() == [("door_held_open", "raised"), ("door_held_open", "cleared")]
    assert not bench.door.is_open


def test_a_forced_door_left_open_is_forced_and_held_open(bench):
    bench.sim.hold_open()
    bench.sim.force_open()
    bench.run(15.0)
    bench.sim.let_go()
    bench.run(3.0)
    assert bench.names() == [
        ("door_forced", "raised"),
        ("door_held_open", "raised"),
        ("door_forced", "cleared"),
        ("door_held_open", "cleared"),
    ]


def test_a_door_found_open_at_start_can_be_held_open_but_not_forced():
    bench = Bench(build_door=False)
    bench.sim.hold_open()
    bench.sim.force_open()
    door = bench.build()
    assert door.is_open
    bench.run(16.0)
    assert bench.names() == [("door_held_open", "raised")]
    door.close()


def test_the_exit_button_reports_one_request_per_press(bench):
    bench.run(5.0)
    bench.sim.press_exit_button(hold_s=0.5)
    bench.run(1.0)
    bench.sim.press_exit_button()
    bench.run(1.0)
    assert bench.exit_requests == [pytest.approx(1005.0), pytest.approx(1006.0)]
    assert [s.state for s in bench.sim.exit_button_pin.states] == [True, False, True, False, True]
    assert not bench.door.relay.is_active  # the gate loop decides whether to open


def test_a_failing_alarm_callback_does_not_stop_the_supervisor(bench, caplog):
    def explode(*_):
        raise RuntimeError("queue full")

    bench.door.supervisor.on_alarm = explode
    bench.sim.force_open()
    assert bench.door.supervisor.raised == frozenset({"door_forced"})
    assert "door alarm callback failed" in caplog.text
    bench.run(3.0)
    assert bench.door.supervisor.raised == frozenset()


@pytest.mark.parametrize(
    ("pull", "closed_level"),
    [("up", "low"), ("down", "high"), ("up", "high"), ("none", "low"), ("none", "high")],
)
def test_every_contact_wiring_reads_open_and_shut_the_right_way(pull, closed_level):
    pins = dataclasses.replace(
        PinMap(), door_contact_pull=pull, door_contact_closed_level=closed_level
    )
    bench = Bench(pins)
    closed_high = closed_level == "high"
    assert bench.sim.contact_pin.state is closed_high
    assert not bench.door.is_open
    bench.sim.force_open()
    assert bench.sim.contact_pin.state is not closed_high
    assert bench.door.is_open
    assert bench.names() == [("door_forced", "raised")]
    bench.run(3.0)
    assert not bench.door.is_open
    bench.door.close()


def test_exit_button_wired_to_3v3_with_a_pull_down_is_pressed_when_high():
    bench = Bench(dataclasses.replace(PinMap(), exit_button_pull_up=False))
    assert bench.sim.exit_button_pin.state is False
    bench.sim.press_exit_button()
    assert bench.sim.exit_button_pin.state is True
    assert len(bench.exit_requests) == 1
    bench.door.close()


def test_a_bad_pin_map_is_refused_before_any_pin_is_claimed():
    factory = MockFactory()
    with pytest.raises(PinMapError, match=r"^pins\.relay: GPIO 5 is pulled up"):
        Door(PinMap(relay=5), CONFIG, pin_factory=factory)
    assert not factory.pins


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"pulse_s": 0}, "door.pulse_s: must be > 0, not 0"),
        ({"max_pulse_s": float("nan")}, "door.max_pulse_s: must be a number of seconds"),
        ({"held_open_s": "15"}, "door.held_open_s: must be a number of seconds, not '15'"),
        ({"forced_grace_s": -1.0}, "door.forced_grace_s: must be >= 0, not -1.0"),
        ({"max_pulse_s": 120.0}, "door.max_pulse_s: 120.0 s is longer than the 60 s"),
        ({"pulse_s": 12.0}, "door.pulse_s: 12.0 s is longer than max_pulse_s (10.0 s)"),
    ],
)
def test_bad_door_timings_are_refused_with_the_key(changes, expected):
    with pytest.raises(DoorConfigError) as caught:
        dataclasses.replace(CONFIG, **changes).validate()
    assert str(caught.value).startswith(expected)


def test_sim_door_must_be_wired_before_the_door_claims_the_pins():
    factory = MockFactory()
    door = Door(PinMap(), CONFIG, pin_factory=factory)
    with pytest.raises(RuntimeError, match="create SimDoor before the Door"):
        SimDoor(factory, PinMap(), start_timer=ManualTimers(ManualClock()).start)
    door.close()
