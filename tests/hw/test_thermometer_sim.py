"""The simulated MLX90614 answers the real Adafruit driver like the sensor's register map."""

from __future__ import annotations

import adafruit_mlx90614
import pytest

from firmware.clock import ManualClock
from firmware.hw.smbus_pec import read_word_pec
from host_sim.mlx90614_sim import (
    FakeMLX90614Bus,
    Scene,
    decode_temperature,
    encode_temperature,
)

RESOLUTION_C = 0.02


def _read_word(bus: FakeMLX90614Bus, command: int, length: int = 3) -> bytes:
    answer = bytearray(length)
    bus.writeto_then_readfrom(0x5A, bytes((command,)), answer)
    return bytes(answer)


def test_encoding_is_the_datasheets():
    # Datasheet 8.4.6: Tobj1 "will sweep between 0x27AD to 0x7FFF as the object temperature
    # rises from -70.01 °C to +382.19 °C"; and the PEC example's word 0x3AD2 is 28.01 °C.
    for word, celsius in ((0x27AD, -70.01), (0x7FFF, 382.19), (0x3AD2, 28.01)):
        assert encode_temperature(celsius) == word
        assert decode_temperature(word) == pytest.approx(celsius, abs=1e-9)
    assert encode_temperature(-300.0) == 0
    assert encode_temperature(1000.0) == 0x7FFF  # bit 15 is never set by a temperature
    # 37.3 °C itself is not representable: its neighbours are 37.29 and 37.31.
    assert {round(decode_temperature(encode_temperature(37.3)), 2)} <= {37.29, 37.31}


def test_the_real_driver_reads_the_scene_within_the_sensor_resolution():
    clock = ManualClock()
    scene = Scene(clock, ambient_c=21.4, noise_c=0.0).arrive(at=1.0, skin_c=35.7)
    driver = adafruit_mlx90614.MLX90614(FakeMLX90614Bus(scene))
    assert driver.ambient_temperature == pytest.approx(21.4, abs=RESOLUTION_C / 2)
    assert driver.object_temperature == pytest.approx(21.4, abs=RESOLUTION_C / 2)
    clock.advance(1.0)
    assert driver.object_temperature == pytest.approx(35.7, abs=RESOLUTION_C / 2)


def test_every_answer_carries_the_pec_of_the_transaction():
    bus = FakeMLX90614Bus(Scene(ManualClock(), ambient_c=23.0, noise_c=0.0))
    for command in (0x06, 0x07, 0x08, 0x24):
        lsb, msb, pec = _read_word(bus, command)
        assert pec == read_word_pec(0x5A, command, lsb, msb)


def test_emissivity_lives_in_eeprom_0x24():
    clock = ManualClock()
    assert _read_word(FakeMLX90614Bus(Scene(clock)), 0x24)[:2] == b"\xff\xff"
    lsb, msb, _ = _read_word(FakeMLX90614Bus(Scene(clock), sensor_emissivity=0.95), 0x24)
    assert (msb << 8 | lsb) == round(0.95 * 0xFFFF)


def test_a_person_arrives_and_leaves_over_time():
    clock = ManualClock()
    scene = Scene(clock, ambient_c=20.0, noise_c=0.0).arrive(at=2.0, skin_c=34.0).leave(at=5.0)
    seen = []
    for _ in range(7):
        seen.append(scene.skin_c())
        clock.advance(1.0)
    assert seen == [None, None, 34.0, 34.0, 34.0, None, None]


def test_the_room_can_warm_up_mid_scene():
    clock = ManualClock()
    scene = Scene(clock, ambient_c=20.0, noise_c=0.0).set_ambient(30.0, at=10.0)
    assert scene.ambient_c() == 20.0
    clock.advance(10.0)
    assert scene.ambient_c() == 30.0
    assert scene.object_c() == 30.0


def test_noise_is_seeded():
    def readings(seed):
        scene = Scene(ManualClock(), ambient_c=22.0, noise_c=0.05, seed=seed)
        return [scene.object_c() for _ in range(5)]

    assert readings(7) == readings(7)
    assert readings(7) != readings(8)


def test_an_absent_sensor_fails_the_drivers_probe():
    bus = FakeMLX90614Bus(Scene(ManualClock()))
    bus.disconnect()
    with pytest.raises(ValueError, match="No I2C device"):
        adafruit_mlx90614.MLX90614(bus)


def test_a_sensor_at_another_address_does_not_answer():
    with pytest.raises(ValueError):
        adafruit_mlx90614.MLX90614(FakeMLX90614Bus(Scene(ManualClock())), address=0x5B)


def test_injected_oserrors_carry_errno_121_and_run_out():
    bus = FakeMLX90614Bus(Scene(ManualClock()))
    bus.inject_oserror(count=2)
    for _ in range(2):
        with pytest.raises(OSError) as raised:
            _read_word(bus, 0x07)
        assert raised.value.errno == 121
    _read_word(bus, 0x07)
    assert [t.outcome for t in bus.transactions] == ["oserror", "oserror", "ok"]


def test_a_bad_pec_corrupts_the_data_not_the_pec():
    bus = FakeMLX90614Bus(Scene(ManualClock(), ambient_c=22.0, noise_c=0.0))
    good = _read_word(bus, 0x07)
    bus.inject_bad_pec()
    bad = _read_word(bus, 0x07)
    assert bad[2] == good[2] and bad[:2] != good[:2]


def test_an_unchecked_driver_would_return_a_wrong_temperature_on_a_bad_pec():
    # Why the PEC matters: the Adafruit driver alone trusts a corrupted word.
    bus = FakeMLX90614Bus(Scene(ManualClock(), ambient_c=22.0, noise_c=0.0))
    driver = adafruit_mlx90614.MLX90614(bus)
    bus.inject_bad_pec()
    assert abs(driver.object_temperature - 22.0) > 5.0


def test_the_error_flag_sets_bit_15_with_a_valid_pec():
    bus = FakeMLX90614Bus(Scene(ManualClock()))
    bus.inject_error_flag()
    lsb, msb, pec = _read_word(bus, 0x07)
    assert msb & 0x80
    assert pec == read_word_pec(0x5A, 0x07, lsb, msb)


def test_a_stuck_sensor_repeats_its_words_whatever_the_scene_does():
    clock = ManualClock()
    bus = FakeMLX90614Bus(Scene(clock, ambient_c=22.0).arrive(at=1.0, skin_c=35.0))
    bus.stick()
    before = _read_word(bus, 0x07), _read_word(bus, 0x06)
    clock.advance(2.0)
    assert (_read_word(bus, 0x07), _read_word(bus, 0x06)) == before
    bus.unstick()
    assert _read_word(bus, 0x07) != before[0]
