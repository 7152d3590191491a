"""SMBus PEC and error-flag checks of the MLX90614 bus layer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.hw.smbus_pec import (
    ErrorFlagSet,
    PecCheckedI2C,
    PecMismatch,
    UnsupportedTransaction,
    check_read_word,
    crc8,
    read_word_pec,
    write_word_pec,
)
from host_sim.mlx90614_sim import smbus_pec as device_side_pec


def test_pec_of_the_datasheet_read_word_example():
    # SA 0x5A reads RAM 0x07 (Tobj1) = 0x3AD2: bytes B4 07 B5 D2 3A, PEC 0x30.
    assert read_word_pec(0x5A, 0x07, lsb=0xD2, msb=0x3A) == 0x30


def test_pec_of_the_datasheet_write_word_example():
    # SA 0x5A writes EEPROM 0x02 (command 0x22) = 0xC807: bytes B4 22 07 C8, PEC 0x48.
    assert write_word_pec(0x5A, 0x22, lsb=0x07, msb=0xC8) == 0x48


def test_pec_of_the_datasheet_sleep_command():
    # "Enter SLEEP mode": SA 0x5A + W, command 0xFF, PEC 0xE8.
    assert crc8(bytes((0x5A << 1, 0xFF))) == 0xE8


@pytest.mark.parametrize(
    ("lsb", "expected"),
    [(0x00, 0x6F), (0x5A, 0xE1)],  # application note: erase, then write 0x5A, to EEPROM 0x0E
)
def test_pec_of_the_application_note_eeprom_writes(lsb, expected):
    assert write_word_pec(0x00, 0x2E, lsb=lsb, msb=0x00) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=16))
def test_table_pec_agrees_with_bitwise_pec_and_checks_itself(data):
    pec = crc8(data)
    assert pec == device_side_pec(data)
    # A CRC appended to its message leaves a zero remainder: what a receiver verifies.
    assert crc8(data + bytes((pec,))) == 0


def _answer(command: int, word: int, *, pec_delta: int = 0) -> bytes:
    lsb, msb = word & 0xFF, word >> 8
    return bytes((lsb, msb, read_word_pec(0x5A, command, lsb, msb) ^ pec_delta))


def test_a_word_with_its_pec_is_accepted():
    assert check_read_word(0x5A, 0x07, _answer(0x07, 0x3AD2)) == 0x3AD2


def test_a_word_with_a_wrong_pec_is_refused():
    with pytest.raises(PecMismatch):
        check_read_word(0x5A, 0x07, _answer(0x07, 0x3AD2, pec_delta=0x01))


def test_a_word_read_under_another_address_does_not_match_its_pec():
    with pytest.raises(PecMismatch):
        check_read_word(0x5B, 0x07, _answer(0x07, 0x3AD2))


@pytest.mark.parametrize("command", [0x06, 0x07, 0x08])
def test_the_error_flag_of_a_temperature_is_refused_even_with_a_good_pec(command):
    with pytest.raises(ErrorFlagSet):
        check_read_word(0x5A, command, _answer(command, 0xFFFF))


def test_bit_15_of_an_eeprom_cell_is_data_not_an_error():
    # Emissivity 1.0 is stored as 0xFFFF.
    assert check_read_word(0x5A, 0x24, _answer(0x24, 0xFFFF)) == 0xFFFF


class _ScriptedBus:
    """Answers every Read Word with fixed bytes and records what it was asked."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.requests: list[tuple[int, bytes, int]] = []

    def try_lock(self) -> bool:
        return True

    def unlock(self) -> None:
        pass

    def writeto(self, address, buffer, *, start=0, end=None):
        pass

    def readfrom_into(self, address, buffer, *, start=0, end=None):
        pass

    def writeto_then_readfrom(
        self, address, buffer_out, buffer_in, *, out_start=0, out_end=None, in_start=0, in_end=None
    ):
        self.requests.append((address, bytes(buffer_out), len(buffer_in)))
        buffer_in[:] = self.answer[: len(buffer_in)]


def test_the_proxy_asks_for_the_pec_and_hands_the_driver_two_bytes_in_its_own_buffer():
    bus = _ScriptedBus(_answer(0x07, 0x3AD2))
    proxy = PecCheckedI2C(bus)
    shared = bytearray((0x07, 0x00))  # the driver passes one buffer as command and result
    proxy.writeto_then_readfrom(0x5A, shared, shared, out_end=1)
    assert bus.requests == [(0x5A, b"\x07", 3)]
    assert shared == bytearray((0xD2, 0x3A))
    assert proxy.last_word(0x07) == 0x3AD2


def test_the_proxy_leaves_the_driver_buffer_untouched_on_a_bad_pec():
    proxy = PecCheckedI2C(_ScriptedBus(_answer(0x07, 0x3AD2, pec_delta=0x80)))
    shared = bytearray((0x07, 0x00))
    with pytest.raises(PecMismatch):
        proxy.writeto_then_readfrom(0x5A, shared, shared, out_end=1)
    assert shared == bytearray((0x07, 0x00))
    assert proxy.last_word(0x07) is None


def test_the_proxy_refuses_anything_but_a_read_word():
    proxy = PecCheckedI2C(_ScriptedBus(b"\x00\x00\x00"))
    with pytest.raises(UnsupportedTransaction):
        proxy.writeto_then_readfrom(0x5A, b"\x07", bytearray(4))
