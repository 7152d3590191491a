"""SMBus integrity for the MLX90614: Packet Error Code (PEC) and the RAM error flag.

The Adafruit driver reads two bytes per word and trusts them. The sensor sends a third, the PEC,
and marks a failed linearised temperature with bit 15. `PecCheckedI2C` sits between the driver
and the bus: it reads all three bytes, verifies both, and hands the driver only data it can
trust. Anything else raises a typed error, so a corrupted transfer can never become a number.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

# Datasheet (MLX90614 Rev 13, 8.4.3.1): "The PEC is a CRC-8 with polynomial X8+X2+X1+1".
PEC_POLYNOMIAL = 0x07
# Datasheet 8.4.6: "The MSB read from RAM is an error flag (active high) for the linearized
# temperatures (TOBJ1, TOBJ2 and Ta)". For raw IR data it is a sign bit; for EEPROM, data.
ERROR_FLAG = 0x8000
# RAM commands of the linearised temperatures (opcode 000x xxxx + RAM address).
RAM_TA = 0x06
RAM_TOBJ1 = 0x07
RAM_TOBJ2 = 0x08
LINEARISED_TEMPERATURE_COMMANDS = frozenset({RAM_TA, RAM_TOBJ1, RAM_TOBJ2})
# Read Word answers "Data Byte Low, Data Byte High, PEC" (datasheet figure "SMBus read word").
WORD_BYTES = 2
WORD_WITH_PEC_BYTES = 3


class I2CBus(Protocol):
    """The five `busio.I2C` methods `adafruit_bus_device.I2CDevice` calls."""

    def try_lock(self) -> bool: ...

    def unlock(self) -> None: ...

    def writeto(
        self, address: int, buffer: bytes | bytearray, *, start: int = 0, end: int | None = None
    ) -> None: ...

    def readfrom_into(
        self, address: int, buffer: bytearray, *, start: int = 0, end: int | None = None
    ) -> None: ...

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: bytes | bytearray,
        buffer_in: bytearray,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None: ...


class SMBusIntegrityError(Exception):
    """A word arrived but cannot be trusted. `code` is a stable fault code."""

    code = "smbus_integrity"


class PecMismatch(SMBusIntegrityError):
    """The PEC byte does not match the CRC-8 of the transaction."""

    code = "bad_pec"


class ErrorFlagSet(SMBusIntegrityError):
    """The sensor flagged a linearised temperature as invalid (bit 15 set)."""

    code = "error_flag"


class UnsupportedTransaction(ValueError):
    """The MLX90614 supports only SMBus Read Word and Write Word (datasheet 8.4.2)."""


def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ PEC_POLYNOMIAL) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8_TABLE = _crc8_table()


def crc8(data: bytes | bytearray) -> int:
    """CRC-8, polynomial 0x07, initial value 0, MSB first: the SMBus PEC."""
    crc = 0
    for byte in data:
        crc = _CRC8_TABLE[crc ^ byte]
    return crc


def read_word_pec(address: int, command: int, lsb: int, msb: int) -> int:
    """PEC of a Read Word: over address+W, command, address+R, data low, data high."""
    return crc8(bytes((address << 1, command, (address << 1) | 1, lsb, msb)))


def write_word_pec(address: int, command: int, lsb: int, msb: int) -> int:
    """PEC of a Write Word: over address+W, command, data low, data high."""
    return crc8(bytes((address << 1, command, lsb, msb)))


def check_read_word(address: int, command: int, answer: bytes | bytearray) -> int:
    """The data word of a three-byte Read Word answer, or a typed error if it cannot be trusted.

    Raises `PecMismatch` when the PEC is wrong and `ErrorFlagSet` when a linearised temperature
    has its error flag set.
    """
    lsb, msb, pec = answer[0], answer[1], answer[2]
    expected = read_word_pec(address, command, lsb, msb)
    if pec != expected:
        raise PecMismatch(
            f"PEC 0x{pec:02X} != 0x{expected:02X} for command 0x{command:02X} "
            f"data 0x{msb:02X}{lsb:02X}"
        )
    word = (msb << 8) | lsb
    if command in LINEARISED_TEMPERATURE_COMMANDS and word & ERROR_FLAG:
        raise ErrorFlagSet(f"error flag set in command 0x{command:02X} word 0x{word:04X}")
    return word


class PecCheckedI2C:
    """A `busio.I2C` look-alike that PEC-checks every Read Word before the driver sees it.

    Hand it to `adafruit_mlx90614.MLX90614` in place of the bus. Locking, the address probe and
    plain writes pass straight through; a Read Word asks the bus for three bytes, verifies them
    with `check_read_word`, and copies the two data bytes into the driver's buffer. The last
    trusted word of each command is kept (`last_word`) so callers can see the sensor's raw data.
    """

    def __init__(self, bus: I2CBus) -> None:
        self._bus = bus
        self._last_words: dict[int, int] = {}
        self._words_lock = threading.Lock()

    def try_lock(self) -> bool:
        """Take the underlying bus's lock without waiting."""
        return self._bus.try_lock()

    def unlock(self) -> None:
        """Release the underlying bus's lock."""
        self._bus.unlock()

    def writeto(
        self, address: int, buffer: bytes | bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        """Plain write (the driver's address probe writes zero bytes)."""
        self._bus.writeto(address, buffer, start=start, end=end)

    def readfrom_into(
        self, address: int, buffer: bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        """Plain read; only the address probe's fall-back uses it, and no data is kept."""
        self._bus.readfrom_into(address, buffer, start=start, end=end)

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: bytes | bytearray,
        buffer_in: bytearray,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
        stop: bool = False,
    ) -> None:
        """A Read Word: one command byte out, two data bytes in, checked against PEC and flag."""
        out_end = len(buffer_out) if out_end is None else out_end
        in_end = len(buffer_in) if in_end is None else in_end
        if out_end - out_start != 1 or in_end - in_start != WORD_BYTES:
            raise UnsupportedTransaction(
                f"expected a Read Word (1 byte out, 2 in), got {out_end - out_start} out, "
                f"{in_end - in_start} in"
            )
        # The driver passes one buffer as both out and in: take the command before writing.
        command = buffer_out[out_start]
        word = self._read_checked(address, command)
        buffer_in[in_start] = word & 0xFF
        buffer_in[in_start + 1] = word >> 8

    def read_word(self, address: int, command: int) -> int:
        """Checked Read Word for what the driver does not offer (EEPROM cells). Takes the lock."""
        while not self._bus.try_lock():
            time.sleep(0)  # yield, as adafruit_bus_device does
        try:
            return self._read_checked(address, command)
        finally:
            self._bus.unlock()

    def last_word(self, command: int) -> int | None:
        """The last word read for `command` that passed every check, or None."""
        with self._words_lock:
            return self._last_words.get(command)

    def _read_checked(self, address: int, command: int) -> int:
        answer = bytearray(WORD_WITH_PEC_BYTES)
        self._bus.writeto_then_readfrom(address, bytes((command,)), answer)
        word = check_read_word(address, command, answer)
        with self._words_lock:
            self._last_words[command] = word
        return word
