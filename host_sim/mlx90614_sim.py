"""A simulated MLX90614 on a fake I2C bus, for running the real Adafruit driver on a host.

`FakeMLX90614Bus` implements the five `busio.I2C` methods that `adafruit_bus_device` calls and
answers like the sensor's register map: SMBus Read Word with the data low byte, high byte and a
correct PEC. What the sensor sees comes from a `Scene` (room temperature, a person's forehead
arriving and leaving) driven by the injected clock. Faults are injected at the wire level:

    bus = FakeMLX90614Bus(Scene(clock, ambient_c=22.0).arrive(at=2.0, skin_c=36.1).leave(at=6.0))
    bus.inject_oserror(count=2)        # the next two reads fail with Errno 121
    bus.inject_bad_pec(count=1)        # a data bit flips on the wire; the PEC no longer matches
    bus.inject_error_flag(count=1)     # the sensor sets bit 15 of a temperature word
    bus.stick()                        # the temperature words freeze at their current values
    bus.disconnect()                   # nothing answers at the address any more

The simulation is a device, not a test double of our code: it knows nothing of the firmware's
thermometer and computes its own PEC (bit by bit, independently of the firmware's table).
"""

from __future__ import annotations

import errno
import random
import threading
from collections import deque
from dataclasses import dataclass

from host_sim.mlx90614_scene import Scene

# --- Datasheet facts (MLX90614 Rev 13) -----------------------------------------------------
DEFAULT_ADDRESS = 0x5A  # "SMBus address ... factory default 0x5A"
KELVIN_OFFSET = 273.15
KELVIN_PER_LSB = 0.02  # "T = raw x 0.02" (Kelvin), 0.02 °C resolution
RAM_WORD_MAX = 0x7FFF  # RAM temperatures sweep up to 0x7FFF; bit 15 is the error flag
ERROR_FLAG = 0x8000  # "The MSB read from RAM is an error flag (active high)"
PEC_POLYNOMIAL = 0x07  # "CRC-8 with polynomial X8+X2+X1+1"
# Commands: RAM access 000x xxxx, EEPROM access 001x xxxx (x = 5-bit cell address).
RAM_RAW_IR1 = 0x04
RAM_RAW_IR2 = 0x05
RAM_TA = 0x06
RAM_TOBJ1 = 0x07
RAM_TOBJ2 = 0x08
EEPROM_ACCESS = 0x20
EEPROM_EMISSIVITY = EEPROM_ACCESS | 0x04  # "Emissivity = round(65535 x e)", 0xFFFF = 1.0
EEPROM_SMBUS_ADDRESS = EEPROM_ACCESS | 0x0E  # low byte is the address
READ_FLAGS = 0xF0
EMISSIVITY_FULL_SCALE = 0xFFFF
# Linux reports a NACK (no device, or the Pi's clock-stretching trouble) as EREMOTEIO, 121.
EREMOTEIO = errno.EREMOTEIO
# A flipped bit in the data high byte: 256 LSB = 5.12 °C, a plausible but wrong temperature.
CORRUPTED_DATA_BIT = 0x01


def encode_temperature(celsius: float) -> int:
    """RAM word for a temperature: round((T + 273.15) / 0.02), limited to the RAM range."""
    raw = round((celsius + KELVIN_OFFSET) / KELVIN_PER_LSB)
    return max(0, min(RAM_WORD_MAX, raw))


def decode_temperature(raw: int) -> float:
    """Temperature of a RAM word, as the datasheet defines it: raw x 0.02 - 273.15."""
    return raw * KELVIN_PER_LSB - KELVIN_OFFSET


def smbus_pec(data: bytes) -> int:
    """CRC-8 (polynomial 0x07, MSB first, initial 0), computed bit by bit."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ PEC_POLYNOMIAL) if crc & 0x80 else (crc << 1)
            crc &= 0xFF
    return crc


def apparent_temperature(
    true_c: float, ambient_c: float, object_emissivity: float, sensor_emissivity: float
) -> float:
    """What the sensor reports for an object when its EEPROM emissivity is not the object's.

    The thermopile sees e_obj * (T^4 - Ta^4) (Stefan-Boltzmann, Kelvin); the sensor divides by
    its own emissivity setting and linearises back to a temperature.
    """
    t4 = (true_c + KELVIN_OFFSET) ** 4
    ta4 = (ambient_c + KELVIN_OFFSET) ** 4
    apparent4 = ta4 + (object_emissivity / sensor_emissivity) * (t4 - ta4)
    return float(max(apparent4, 0.0) ** 0.25 - KELVIN_OFFSET)


@dataclass(frozen=True)
class BusTransaction:
    """One Read Word as the bus saw it: when, which command, what went back (or the error)."""

    t: float
    command: int
    answer: bytes
    outcome: str  # "ok", "oserror", "bad_pec", "error_flag", "stuck", "no_device"


class FakeMLX90614Bus:
    """A `busio.I2C` stand-in with one MLX90614 on it, answering from a `Scene`."""

    def __init__(
        self,
        scene: Scene,
        *,
        address: int = DEFAULT_ADDRESS,
        sensor_emissivity: float = 1.0,
        history: int = 1000,
    ) -> None:
        self.scene = scene
        self.address = address
        self._eeprom = {
            EEPROM_EMISSIVITY: round(sensor_emissivity * EMISSIVITY_FULL_SCALE),
            EEPROM_SMBUS_ADDRESS: 0xBE00 | address,
        }
        self._locked = threading.Lock()
        self._state = threading.Lock()
        self._connected = True
        self._oserrors_left = 0
        self._oserror_probability = 0.0
        self._oserror_errno = EREMOTEIO
        self._oserror_random = random.Random(0)
        self._bad_pecs_left = 0
        self._error_flags_left = 0
        self._stuck: dict[int, int] | None = None
        self.transactions: deque[BusTransaction] = deque(maxlen=history)
        self.read_count = 0

    # --- fault injection ------------------------------------------------------------------
    def inject_oserror(
        self,
        count: int = 1,
        *,
        probability: float = 0.0,
        errno_code: int = EREMOTEIO,
        seed: int = 0,
    ) -> None:
        """The next `count` reads fail with OSError(errno_code); then each read fails with
        `probability` (seeded). Errno 121 is what the Pi's I2C gives on clock stretching."""
        with self._state:
            self._oserrors_left = count
            self._oserror_probability = probability
            self._oserror_errno = errno_code
            self._oserror_random = random.Random(seed)

    def inject_bad_pec(self, count: int = 1) -> None:
        """The next `count` reads arrive with a flipped data bit, so their PEC does not match."""
        with self._state:
            self._bad_pecs_left = count

    def inject_error_flag(self, count: int = 1) -> None:
        """The next `count` temperature reads carry the error flag (bit 15), with a valid PEC."""
        with self._state:
            self._error_flags_left = count

    def stick(self, raw_object: int | None = None, raw_ambient: int | None = None) -> None:
        """Freeze the temperature words (default: the values the scene gives now)."""
        ambient = self.scene.ambient_c()
        with self._state:
            self._stuck = {
                RAM_TA: encode_temperature(ambient) if raw_ambient is None else raw_ambient,
                RAM_TOBJ1: self._object_word(ambient) if raw_object is None else raw_object,
            }
            self._stuck[RAM_TOBJ2] = self._stuck[RAM_TOBJ1]

    def unstick(self) -> None:
        """Let the temperature words follow the scene again."""
        with self._state:
            self._stuck = None

    def disconnect(self) -> None:
        """Nothing acknowledges the address any more (wire off, sensor dead)."""
        with self._state:
            self._connected = False

    def reconnect(self) -> None:
        """The sensor answers again."""
        with self._state:
            self._connected = True

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._state:
            self._oserrors_left = 0
            self._oserror_probability = 0.0
            self._bad_pecs_left = 0
            self._error_flags_left = 0
            self._stuck = None
            self._connected = True

    # --- the busio.I2C surface adafruit_bus_device uses ---------------------------------------
    def try_lock(self) -> bool:
        """Take the bus if free."""
        return self._locked.acquire(blocking=False)

    def unlock(self) -> None:
        """Release the bus."""
        if self._locked.locked():
            self._locked.release()

    def writeto(
        self, address: int, buffer: bytes | bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        """The address probe writes nothing and needs an ACK; other writes are not modelled
        (the firmware never writes the EEPROM), so the device NACKs them."""
        self._require_ack(address)
        end = len(buffer) if end is None else end
        if end - start:
            raise OSError(EREMOTEIO, "write not modelled by the simulated MLX90614")

    def readfrom_into(
        self, address: int, buffer: bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        """A read without a command (the probe's fall-back): the released bus reads 0xFF."""
        self._require_ack(address)
        end = len(buffer) if end is None else end
        for index in range(start, end):
            buffer[index] = 0xFF

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
        """SMBus Read Word: command out, repeated start, data low, data high, PEC in."""
        out_end = len(buffer_out) if out_end is None else out_end
        in_end = len(buffer_in) if in_end is None else in_end
        command = buffer_out[out_start] if out_end > out_start else None
        answer, outcome, error = self._answer(address, command)
        with self._state:
            self.read_count += 1
            self.transactions.append(
                BusTransaction(self.scene.clock.monotonic(), command or 0, answer, outcome)
            )
        if error is not None:
            raise error
        # The master clocks out as many bytes as it wants; past the PEC the bus reads 0xFF.
        for offset, index in enumerate(range(in_start, in_end)):
            buffer_in[index] = answer[offset] if offset < len(answer) else 0xFF

    # --- the device ---------------------------------------------------------------------------
    def _require_ack(self, address: int) -> None:
        with self._state:
            present = self._connected and address == self.address
        if not present:
            raise OSError(EREMOTEIO, "Remote I/O error")

    def _answer(self, address: int, command: int | None) -> tuple[bytes, str, OSError | None]:
        with self._state:
            if not (self._connected and address == self.address) or command is None:
                return b"", "no_device", OSError(EREMOTEIO, "Remote I/O error")
            if self._oserrors_left > 0 or (
                self._oserror_probability
                and self._oserror_random.random() < self._oserror_probability
            ):
                self._oserrors_left = max(0, self._oserrors_left - 1)
                return b"", "oserror", OSError(self._oserror_errno, "Remote I/O error")
            stuck = self._stuck
        word = self._word(command, stuck)
        if word is None:
            return b"", "oserror", OSError(EREMOTEIO, f"command 0x{command:02X} NACKed")
        outcome = "stuck" if stuck is not None and command in stuck else "ok"
        with self._state:
            if self._error_flags_left > 0 and command in (RAM_TA, RAM_TOBJ1, RAM_TOBJ2):
                self._error_flags_left -= 1
                word |= ERROR_FLAG
                outcome = "error_flag"
            corrupt = self._bad_pecs_left > 0
            if corrupt:
                self._bad_pecs_left -= 1
        lsb, msb = word & 0xFF, word >> 8
        pec = smbus_pec(bytes((address << 1, command, (address << 1) | 1, lsb, msb)))
        if corrupt:
            # The PEC was computed by the sensor; the bit flipped on the wire afterwards.
            msb ^= CORRUPTED_DATA_BIT
            outcome = "bad_pec"
        return bytes((lsb, msb, pec)), outcome, None

    def _word(self, command: int, stuck: dict[int, int] | None) -> int | None:
        if stuck is not None and command in stuck:
            return stuck[command]
        if command == RAM_TA:
            return encode_temperature(self.scene.ambient_c())
        if command in (RAM_TOBJ1, RAM_TOBJ2):
            return self._object_word(self.scene.ambient_c())
        if command in (RAM_RAW_IR1, RAM_RAW_IR2):
            return 0x0000  # raw thermopile data: not modelled
        if command & 0xE0 == EEPROM_ACCESS:
            return self._eeprom.get(command, 0x0000)
        if command == READ_FLAGS:
            return 0x0010  # INIT done (active low bit 4 reads 1), EEPROM idle
        return None

    def _object_word(self, ambient_c: float) -> int:
        sensor_emissivity = self._eeprom[EEPROM_EMISSIVITY] / EMISSIVITY_FULL_SCALE
        reported = apparent_temperature(
            self.scene.object_c(), ambient_c, self.scene.object_emissivity, sensor_emissivity
        )
        return encode_temperature(reported)
