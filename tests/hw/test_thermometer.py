"""The thermometer port through the real Adafruit driver and the simulated MLX90614."""

from __future__ import annotations

import adafruit_mlx90614
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from firmware.clock import ManualClock
from firmware.hw.thermometer import (
    AMBIENT_OUT_OF_RANGE,
    BAD_PEC,
    ERROR_FLAG,
    FAULT_CODES,
    I2C_ERROR,
    NO_DEVICE,
    STUCK,
    Sample,
    Thermometer,
    ThermometerFault,
    ThermometerSettings,
    correct_for_emissivity,
)
from host_sim.mlx90614_sim import FakeMLX90614Bus, Scene, encode_temperature

RESOLUTION_C = 0.02
PERIOD_S = 1 / 8


def rig(
    ambient_c: float = 22.0,
    *,
    noise_c: float = 0.0,
    sensor_emissivity: float = 1.0,
    object_emissivity: float = 1.0,
    **overrides,
):
    """A ManualClock, a scene, the fake bus and a thermometer on it (emissivity 1: no change)."""
    clock = ManualClock()
    scene = Scene(clock, ambient_c, noise_c=noise_c, object_emissivity=object_emissivity)
    bus = FakeMLX90614Bus(scene, sensor_emissivity=sensor_emissivity)
    options = {"emissivity": 1.0, **overrides}
    thermometer = Thermometer(bus, ThermometerSettings(**options), clock)
    return clock, scene, bus, thermometer


def fault_of(thermometer: Thermometer) -> ThermometerFault:
    with pytest.raises(ThermometerFault) as raised:
        thermometer.read()
    assert raised.value.code in FAULT_CODES
    return raised.value


def test_the_real_adafruit_driver_does_the_reading(monkeypatch):
    calls = []
    original = adafruit_mlx90614.MLX90614._read_temp

    def spy(self, register):
        calls.append(register)
        return original(self, register)

    monkeypatch.setattr(adafruit_mlx90614.MLX90614, "_read_temp", spy)
    _, _, _, thermometer = rig()
    thermometer.read()
    assert calls == [0x06, 0x07]  # ambient, then object 1


def test_readings_match_the_scene_within_the_sensor_resolution():
    clock, scene, _, thermometer = rig(21.3)
    scene.arrive(at=1.0, skin_c=35.9)
    nobody = thermometer.read()
    clock.advance(1.0)
    someone = thermometer.read()
    assert nobody.ambient_c == pytest.approx(21.3, abs=RESOLUTION_C / 2)
    assert nobody.object_c == pytest.approx(21.3, abs=RESOLUTION_C / 2)
    assert someone.object_c == pytest.approx(35.9, abs=RESOLUTION_C / 2)
    assert (someone.raw_object, someone.raw_ambient) == (
        encode_temperature(35.9),
        encode_temperature(21.3),
    )
    assert someone.t == clock.monotonic()


def test_a_person_in_range_is_told_from_the_room():
    clock, scene, _, thermometer = rig(22.0, presence_delta_c=1.5)
    scene.arrive(at=1.0, skin_c=34.8).leave(at=2.0).arrive(at=3.0, skin_c=23.0)
    present = []
    for _ in range(4):
        present.append(thermometer.read().person_present)
        clock.advance(1.0)
    # 23.0 °C is within 1.5 °C of the room: a hand-warm object, not a forehead.
    assert present == [False, True, False, False]


def test_a_single_errno_121_is_retried_and_the_value_returned():
    clock, _, bus, thermometer = rig(22.0, retry_backoff_s=0.005)
    thermometer.read()
    reads_before, started = bus.read_count, clock.monotonic()
    bus.inject_oserror(count=1)
    sample = thermometer.read()
    assert sample.ambient_c == pytest.approx(22.0, abs=RESOLUTION_C)
    assert bus.read_count - reads_before == 3  # ambient (failed, retried), object
    assert clock.monotonic() - started == pytest.approx(0.005)
    assert thermometer.consecutive_failures == 0


def test_retries_are_bounded_and_then_an_i2c_error_is_reported():
    _, _, bus, thermometer = rig(retries=3)
    thermometer.read()
    reads_before = bus.read_count
    bus.inject_oserror(count=100)
    fault = fault_of(thermometer)
    assert fault.code == I2C_ERROR
    assert "121" in fault.detail
    assert bus.read_count - reads_before == 4


@pytest.mark.parametrize(
    ("inject", "code"),
    [
        (lambda bus: bus.inject_oserror(count=1000), I2C_ERROR),
        (lambda bus: bus.inject_oserror(count=1000, errno_code=5), I2C_ERROR),
        (lambda bus: bus.inject_bad_pec(count=1000), BAD_PEC),
        (lambda bus: bus.inject_error_flag(count=1000), ERROR_FLAG),
        (lambda bus: bus.disconnect(), I2C_ERROR),
    ],
    ids=["errno121", "eio", "bad_pec", "error_flag", "unplugged"],
)
def test_a_persistent_wire_fault_is_a_reported_fault_never_a_number(inject, code):
    _, _, bus, thermometer = rig()
    thermometer.read()
    inject(bus)
    for _ in range(3):
        assert fault_of(thermometer).code == code


@pytest.mark.parametrize(
    "inject",
    [
        lambda bus: bus.inject_oserror(count=3),
        lambda bus: bus.inject_bad_pec(count=3),
        lambda bus: bus.inject_error_flag(count=3),
    ],
    ids=["errno121", "bad_pec", "error_flag"],
)
def test_transient_faults_within_the_retries_still_give_the_right_value(inject):
    _, _, bus, thermometer = rig(30.5, retries=3)
    inject(bus)
    sample = thermometer.read()
    assert sample.ambient_c == pytest.approx(30.5, abs=RESOLUTION_C)
    assert sample.object_c == pytest.approx(30.5, abs=RESOLUTION_C)


def test_a_sensor_missing_at_start_is_no_device_and_is_found_when_it_answers():
    _, _, bus, thermometer = rig()
    bus.disconnect()
    assert fault_of(thermometer).code == NO_DEVICE
    bus.reconnect()
    assert isinstance(thermometer.read(), Sample)


def test_the_eeprom_emissivity_is_read_once():
    clock, _, bus, thermometer = rig(sensor_emissivity=0.95)
    for _ in range(5):
        thermometer.read()
        clock.advance(PERIOD_S)
    assert [t.command for t in bus.transactions].count(0x24) == 1
    assert thermometer.sensor_emissivity == pytest.approx(0.95, abs=1e-4)


def test_a_lower_emissivity_makes_a_warm_object_hotter_and_leaves_the_room_alone():
    clock, scene, _, thermometer = rig(22.0, emissivity=0.95)
    room = thermometer.read()
    scene.arrive(skin_c=35.0)
    clock.advance(PERIOD_S)
    person = thermometer.read()
    assert room.object_c == pytest.approx(room.ambient_c, abs=1e-9)
    assert person.object_c > 35.0 + 0.3
    assert person.raw_object == encode_temperature(35.0)  # the raw word is as read


def test_emissivity_correction_recovers_the_true_skin_temperature():
    # The sensor is set to 1.0 and looks at skin of emissivity 0.97: it reads low. Configured
    # with the skin's emissivity, the thermometer gives the true temperature back.
    _, scene, _, thermometer = rig(20.0, object_emissivity=0.97, emissivity=0.97)
    scene.arrive(skin_c=36.0)
    sample = thermometer.read()
    assert sample.raw_object < encode_temperature(36.0) - 10  # the sensor alone reads low
    assert sample.object_c == pytest.approx(36.0, abs=2 * RESOLUTION_C)


def test_emissivity_correction_is_the_identity_at_equal_emissivities():
    assert correct_for_emissivity(36.6, 21.0, 0.98, 0.98) == pytest.approx(36.6, abs=1e-9)


def test_ambient_outside_the_sensor_range_is_a_fault():
    clock, scene, _, thermometer = rig(25.0)
    thermometer.read()
    scene.set_ambient(90.0)
    clock.advance(PERIOD_S)
    assert fault_of(thermometer).code == AMBIENT_OUT_OF_RANGE


def test_a_cold_room_is_flagged_on_the_sample_not_refused():
    clock, scene, _, thermometer = rig(10.0)
    assert thermometer.read().ambient_outside_operating_range is True
    scene.set_ambient(24.0)
    clock.advance(PERIOD_S)
    assert thermometer.read().ambient_outside_operating_range is False


def test_identical_words_for_too_long_are_a_stuck_fault_until_they_move():
    clock, _, bus, thermometer = rig(22.0, noise_c=0.05, stuck_after_s=30.0)
    bus.stick()
    outcomes = []
    for _ in range(int(31 / PERIOD_S)):
        try:
            thermometer.read()
            outcomes.append("ok")
        except ThermometerFault as fault:
            outcomes.append(fault.code)
        clock.advance(PERIOD_S)
    first_stuck = outcomes.index(STUCK)
    assert first_stuck * PERIOD_S == pytest.approx(30.0, abs=PERIOD_S)
    assert set(outcomes[:first_stuck]) == {"ok"}
    assert set(outcomes[first_stuck:]) == {STUCK}
    bus.unstick()
    assert isinstance(thermometer.read(), Sample)


def test_a_live_sensor_in_a_still_room_is_not_called_stuck():
    clock, _, _, thermometer = rig(22.0, noise_c=0.03, stuck_after_s=30.0)
    for _ in range(int(60 / PERIOD_S)):
        thermometer.read()
        clock.advance(PERIOD_S)


def test_health_follows_consecutive_failures():
    _, _, bus, thermometer = rig(fault_after=3, retries=0)
    thermometer.read()
    bus.inject_oserror(count=3)
    for expected in (True, True, False):
        fault_of(thermometer)
        assert thermometer.healthy is expected
    assert thermometer.last_fault is not None and thermometer.last_fault.code == I2C_ERROR
    thermometer.read()
    assert thermometer.healthy


def test_a_driver_bug_is_a_fault_not_an_escaping_exception(monkeypatch):
    _, _, _, thermometer = rig()

    def broken(self, register):
        raise RuntimeError("driver bug")

    monkeypatch.setattr(adafruit_mlx90614.MLX90614, "_read_16", broken)
    assert fault_of(thermometer).code == "driver_error"


@pytest.mark.parametrize(
    ("field", "value"),
    [("emissivity", 1.2), ("sample_hz", 0), ("fault_after", 0), ("address", 0x80)],
)
def test_impossible_settings_are_refused_with_the_field_name(field, value):
    with pytest.raises(ValueError, match=f"thermometer.{field}"):
        ThermometerSettings(**{field: value})


# Half the sensor's 0.02 °C step, plus float rounding of the values on a half step.
HALF_STEP_C = RESOLUTION_C / 2 + 1e-9


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(schedule=[("none", 0)], skin_c=30.6)  # exactly on a half step
@given(
    schedule=st.lists(
        st.tuples(st.sampled_from(["none", "oserror", "bad_pec", "error_flag"]), st.integers(0, 9)),
        min_size=1,
        max_size=25,
    ),
    skin_c=st.floats(30.0, 42.0),
)
def test_under_any_fault_schedule_a_sample_is_right_or_it_is_a_fault(schedule, skin_c):
    clock, scene, bus, thermometer = rig(23.0, retries=2)
    scene.arrive(skin_c=skin_c)
    for fault, count in schedule:
        if fault == "oserror":
            bus.inject_oserror(count=count)
        elif fault == "bad_pec":
            bus.inject_bad_pec(count=count)
        elif fault == "error_flag":
            bus.inject_error_flag(count=count)
        try:
            sample = thermometer.read()
        except ThermometerFault as error:
            assert error.code in FAULT_CODES
        else:
            # At most half a step of quantisation (a value on a half step rounds either way).
            assert sample.object_c == pytest.approx(skin_c, abs=HALF_STEP_C)
            assert sample.ambient_c == pytest.approx(23.0, abs=HALF_STEP_C)
        bus.clear_faults()
        clock.advance(PERIOD_S)


def test_an_unexpected_error_while_opening_counts_against_health(monkeypatch):
    _, _, _, thermometer = rig(fault_after=2)

    def broken_init(self, i2c_bus, address=0x5A):
        raise RuntimeError("bus layer bug")

    monkeypatch.setattr(adafruit_mlx90614.MLX90614, "__init__", broken_init)
    for _ in range(2):
        assert fault_of(thermometer).code == "driver_error"
    assert not thermometer.healthy
