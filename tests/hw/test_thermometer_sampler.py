"""The sampler reads on, reports a fault once and recovery once, and never dies."""

from __future__ import annotations

import threading

import adafruit_mlx90614
import pytest

from firmware.clock import ManualClock, SystemClock
from firmware.hw.thermometer import (
    I2C_ERROR,
    Sample,
    Thermometer,
    ThermometerFault,
    ThermometerSettings,
)
from firmware.hw.thermometer_sampler import ThermometerSampler
from host_sim.mlx90614_sim import FakeMLX90614Bus, Scene

WAIT_S = 10.0  # bound on every wait for the background thread


class Recorder:
    """Collects what the sampler reports, in order."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.changed = threading.Condition()

    def on_sample(self, sample: Sample) -> None:
        self._add(("sample", sample))

    def on_fault(self, code: str, detail: str) -> None:
        self._add(("fault", code))

    def on_recovered(self) -> None:
        self._add(("recovered",))

    def kinds(self) -> list[str]:
        return [event[0] for event in self.events]

    def wait_for(self, predicate, timeout: float = WAIT_S) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.kinds()), timeout)

    def _add(self, event: tuple) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()


def sampler_rig(clock=None, **overrides):
    clock = clock or ManualClock()
    bus = FakeMLX90614Bus(Scene(clock, 22.0, noise_c=0.03))
    options = {"fault_after": 3, "retries": 1, **overrides}
    thermometer = Thermometer(bus, ThermometerSettings(**options), clock)
    recorder = Recorder()
    sampler = ThermometerSampler(
        thermometer, clock, recorder.on_sample, recorder.on_fault, recorder.on_recovered
    )
    return clock, bus, sampler, recorder


def run_steps(clock: ManualClock, sampler: ThermometerSampler, count: int) -> list:
    outcomes = []
    for _ in range(count):
        outcomes.append(sampler.step())
        clock.advance(sampler.period_s)
    return outcomes


def test_a_fault_is_reported_once_after_repeated_failures_and_recovery_once():
    clock, bus, sampler, recorder = sampler_rig(fault_after=3)
    run_steps(clock, sampler, 2)
    bus.inject_oserror(count=1000)
    run_steps(clock, sampler, 2)
    assert "fault" not in recorder.kinds()  # two failures: not yet a fault
    run_steps(clock, sampler, 10)
    bus.clear_faults()
    run_steps(clock, sampler, 3)
    expected = ["sample", "sample", "fault", "recovered", "sample", "sample", "sample"]
    assert recorder.kinds() == expected
    assert recorder.events[2] == ("fault", I2C_ERROR)


@pytest.mark.parametrize(
    "inject",
    [
        lambda bus: bus.inject_oserror(count=1000),
        lambda bus: bus.inject_bad_pec(count=1000),
        lambda bus: bus.inject_error_flag(count=1000),
        lambda bus: bus.stick(),
        lambda bus: bus.disconnect(),
    ],
    ids=["errno121", "bad_pec", "error_flag", "stuck", "unplugged"],
)
def test_the_loop_keeps_going_through_every_fault(inject):
    clock, bus, sampler, recorder = sampler_rig(fault_after=3, stuck_after_s=2.0)
    run_steps(clock, sampler, 2)
    inject(bus)
    during = run_steps(clock, sampler, 40)
    bus.clear_faults()
    after = run_steps(clock, sampler, 3)
    assert any(isinstance(outcome, ThermometerFault) for outcome in during)
    assert all(isinstance(outcome, Sample) for outcome in after)
    assert recorder.kinds().count("fault") == 1
    assert recorder.kinds().count("recovered") == 1
    # Every number handed on came from a good read: the room's temperature.
    for event in recorder.events:
        if event[0] == "sample":
            assert event[1].ambient_c == pytest.approx(22.0, abs=0.02)


def test_a_callback_that_raises_does_not_stop_the_sampling():
    clock = ManualClock()
    bus = FakeMLX90614Bus(Scene(clock, 22.0))
    thermometer = Thermometer(bus, ThermometerSettings(), clock)
    seen = []

    def fragile(sample):
        seen.append(sample)
        raise RuntimeError("consumer bug")

    sampler = ThermometerSampler(thermometer, clock, fragile, lambda code, detail: None)
    run_steps(clock, sampler, 3)
    assert len(seen) == 3


def test_a_driver_bug_is_stepped_over(monkeypatch):
    clock, _, sampler, recorder = sampler_rig(fault_after=1)

    def broken(self, register):
        raise RuntimeError("driver bug")

    monkeypatch.setattr(adafruit_mlx90614.MLX90614, "_read_16", broken)
    outcomes = run_steps(clock, sampler, 2)
    assert [outcome.code for outcome in outcomes] == ["driver_error", "driver_error"]
    assert recorder.kinds() == ["fault"]


def test_the_background_thread_samples_reports_and_recovers_on_a_real_clock():
    _, bus, sampler, recorder = sampler_rig(SystemClock(), sample_hz=50.0, fault_after=2, retries=0)
    sampler.start()
    try:
        assert recorder.wait_for(lambda kinds: kinds.count("sample") >= 3)
        bus.disconnect()
        assert recorder.wait_for(lambda kinds: "fault" in kinds)
        bus.reconnect()
        assert recorder.wait_for(lambda kinds: "recovered" in kinds)
        assert recorder.wait_for(lambda kinds: kinds[-1] == "sample")
    finally:
        assert sampler.stop(timeout=WAIT_S)
    assert recorder.kinds().count("fault") == 1
