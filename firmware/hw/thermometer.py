"""The IR thermometer port: an MLX90614 read through the Adafruit driver, made trustworthy.

`Thermometer.read()` returns a `Sample` or raises `ThermometerFault` with a stable `code`; it
never returns a temperature it cannot vouch for. Under it, the real `adafruit_mlx90614.MLX90614`
talks to a `PecCheckedI2C` proxy that verifies every word's PEC and error flag. Transient
failures (the Pi's Errno 121 under clock stretching, a corrupted transfer) are retried with a
short back-off on the injected clock. `ThermometerSampler` reads at a fixed rate, hands samples
on, and reports a fault once after repeated failures and recovery once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware.clock import Clock
from firmware.core import temperature
from firmware.hw.smbus_pec import (
    RAM_TA,
    RAM_TOBJ1,
    I2CBus,
    PecCheckedI2C,
    SMBusIntegrityError,
)
from firmware.settings import internal, setting

logger = logging.getLogger(__name__)

# --- Datasheet facts (MLX90614 Rev 13) -----------------------------------------------------
DEFAULT_ADDRESS = 0x5A  # factory SMBus address
KELVIN_OFFSET = 273.15  # "T = raw x 0.02 - 273.15"
EEPROM_EMISSIVITY = 0x24  # EEPROM access (001x xxxx) | cell 0x04
EMISSIVITY_FULL_SCALE = 0xFFFF  # "Emissivity = round(65535 x e)": 0xFFFF is 1.0
# Sensor (ambient) range of the E temperature code: -40...85 °C.
SENSOR_AMBIENT_RANGE_C = (-40.0, 85.0)
# Screening works best in a 16-32 °C room (FIELD-NOTES, temperature screening).
OPERATING_AMBIENT_RANGE_C = (temperature.ROOM_LOW_C, temperature.ROOM_HIGH_C)
# An emissivity below this is no skin and no usable EEPROM setting.
MIN_EMISSIVITY = 0.1

# --- Stable fault codes ----------------------------------------------------------------------
I2C_ERROR = "i2c_error"  # OSError from the bus on every attempt (NACK, Errno 121, ...)
BAD_PEC = "bad_pec"  # the word's PEC did not match on every attempt
ERROR_FLAG = "error_flag"  # the sensor flagged its temperature invalid on every attempt
STUCK = "stuck"  # identical raw words for longer than stuck_after_s
AMBIENT_OUT_OF_RANGE = "ambient_out_of_range"  # ambient outside the sensor's valid range
NO_DEVICE = "no_device"  # nothing answers at the address
BAD_EMISSIVITY = "bad_emissivity"  # the EEPROM emissivity is unusable
DRIVER_ERROR = "driver_error"  # the driver failed in an unexpected way (a bug, not the wire)
FAULT_CODES = frozenset(
    {
        I2C_ERROR,
        BAD_PEC,
        ERROR_FLAG,
        STUCK,
        AMBIENT_OUT_OF_RANGE,
        NO_DEVICE,
        BAD_EMISSIVITY,
        DRIVER_ERROR,
    }
)


class ThermometerFault(Exception):
    """A reading that could not be trusted. `code` is one of FAULT_CODES; `detail` one line."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ThermometerSettings:
    """How the thermometer is read: also the `[thermometer]` section of the configuration.
    Invalid values raise ValueError naming the field."""

    # "pi": the MLX90614 on the Pi's I2C-1 through Blinka; "sim": a simulated sensor.
    bus: str = setting("pi", choices=("pi", "sim"))
    address: int = setting(DEFAULT_ADDRESS, 0x03, 0x77)
    sample_hz: float = setting(8.0, 0.5, 50.0)
    retries: int = setting(3, 0, 10)  # extra attempts per word after the first fails
    fault_after: int = setting(5, 1, 100)  # consecutive failed reads before the sensor is faulty
    stuck_after_s: float = setting(30.0, 1.0, 3600.0)
    presence_delta_c: float = setting(1.5, 0.2, 15.0)
    emissivity: float = setting(0.98, MIN_EMISSIVITY, 1.0)  # human skin
    retry_backoff_s: float = internal(0.005)
    ambient_valid_c: tuple[float, float] = internal(SENSOR_AMBIENT_RANGE_C)
    ambient_operating_c: tuple[float, float] = internal(OPERATING_AMBIENT_RANGE_C)

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("address", 0x03 <= self.address <= 0x77, "a 7-bit I2C address 0x03..0x77"),
            ("sample_hz", 0 < self.sample_hz <= 50, "between 0 and 50 Hz"),
            ("retries", 0 <= self.retries <= 10, "0..10"),
            ("retry_backoff_s", 0 <= self.retry_backoff_s <= 1, "0..1 s"),
            ("fault_after", self.fault_after >= 1, "at least 1"),
            ("stuck_after_s", self.stuck_after_s > 0, "positive"),
            ("presence_delta_c", self.presence_delta_c > 0, "positive"),
            ("emissivity", MIN_EMISSIVITY <= self.emissivity <= 1.0, "0.1..1.0"),
            ("ambient_valid_c", _is_range(self.ambient_valid_c), "a (low, high) pair"),
            ("ambient_operating_c", _is_range(self.ambient_operating_c), "a (low, high) pair"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"thermometer.{name}: {getattr(self, name)!r} is not {expected}")


def _is_range(pair: tuple[float, float]) -> bool:
    return len(pair) == 2 and pair[0] < pair[1]


@dataclass(frozen=True)
class Sample:
    """One trusted reading. `object_c` is corrected for the configured emissivity."""

    t: float  # monotonic seconds of the injected clock, when the reading completed
    object_c: float
    ambient_c: float
    raw_object: int  # RAM word of Tobj1 as read (before emissivity correction)
    raw_ambient: int  # RAM word of Ta as read
    person_present: bool
    ambient_outside_operating_range: bool = False


def correct_for_emissivity(
    object_c: float, ambient_c: float, sensor_emissivity: float, target_emissivity: float
) -> float:
    """Object temperature as it would read with the sensor set to `target_emissivity`.

    The thermopile signal is proportional to e * (To^4 - Ta^4) in Kelvin (Stefan-Boltzmann).
    The sensor divided by its EEPROM emissivity `e_s`; for a target of emissivity `e_t`:
        To_t^4 = Ta^4 + (e_s / e_t) * (To_s^4 - Ta^4)
    A warm object of lower emissivity is hotter than the sensor's figure. Done in software
    because the EEPROM is rated for few writes.
    """
    ta4 = (ambient_c + KELVIN_OFFSET) ** 4
    to4 = (object_c + KELVIN_OFFSET) ** 4
    corrected4 = ta4 + (sensor_emissivity / target_emissivity) * (to4 - ta4)
    if corrected4 <= 0:
        raise ThermometerFault(
            BAD_EMISSIVITY, f"no temperature radiates as {object_c:.2f} °C at this emissivity"
        )
    return float(corrected4**0.25 - KELVIN_OFFSET)


class Thermometer:
    """The MLX90614 behind the real Adafruit driver, with PEC, retries and sanity checks.

    The bus is not touched until the first `read()`: a sensor missing at boot is a fault like
    any other, and is found when it comes back.
    """

    def __init__(self, i2c_bus: I2CBus, settings: ThermometerSettings, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._bus = PecCheckedI2C(i2c_bus)
        self._driver: Any = None
        self._sensor_emissivity: float | None = None
        self._consecutive_failures = 0
        self._last_fault: ThermometerFault | None = None
        self._unchanged_words: tuple[int, int] | None = None
        self._unchanged_since = 0.0

    @property
    def healthy(self) -> bool:
        """False once `fault_after` reads in a row have failed, until one succeeds."""
        return self._consecutive_failures < self.settings.fault_after

    @property
    def last_fault(self) -> ThermometerFault | None:
        """The most recent fault (kept after recovery, for diagnostics)."""
        return self._last_fault

    @property
    def consecutive_failures(self) -> int:
        """Failed reads since the last good one."""
        return self._consecutive_failures

    @property
    def sensor_emissivity(self) -> float | None:
        """The emissivity the sensor's EEPROM holds, once read."""
        return self._sensor_emissivity

    def read(self) -> Sample:
        """One sample: ambient then object, each retried; raises ThermometerFault."""
        try:
            sample = self._read_sample()
        except ThermometerFault as fault:
            self._count_failure(fault)
            raise
        except Exception as error:  # a bug below us still counts against the sensor's health
            logger.exception("thermometer read raised unexpectedly")
            unexpected = ThermometerFault(DRIVER_ERROR, repr(error))
            self._count_failure(unexpected)
            raise unexpected from error
        self._consecutive_failures = 0
        return sample

    def _count_failure(self, fault: ThermometerFault) -> None:
        self._consecutive_failures += 1
        self._last_fault = fault
        logger.debug("thermometer read failed: %s", fault)

    def _read_sample(self) -> Sample:
        driver = self._open()
        assert self._sensor_emissivity is not None  # set by _open
        ambient_c = self._with_retries("ambient", lambda: float(driver.ambient_temperature))
        raw_ambient = self._bus.last_word(RAM_TA)
        object_c = self._with_retries("object", lambda: float(driver.object_temperature))
        raw_object = self._bus.last_word(RAM_TOBJ1)
        assert raw_ambient is not None and raw_object is not None  # set by the checked reads
        now = self._clock.monotonic()
        self._check_not_stuck((raw_object, raw_ambient), now)
        low, high = self.settings.ambient_valid_c
        if not low <= ambient_c <= high:
            raise ThermometerFault(
                AMBIENT_OUT_OF_RANGE, f"ambient {ambient_c:.2f} °C outside {low:g}..{high:g} °C"
            )
        object_c = correct_for_emissivity(
            object_c, ambient_c, self._sensor_emissivity, self.settings.emissivity
        )
        op_low, op_high = self.settings.ambient_operating_c
        return Sample(
            t=now,
            object_c=object_c,
            ambient_c=ambient_c,
            raw_object=raw_object,
            raw_ambient=raw_ambient,
            person_present=object_c - ambient_c > self.settings.presence_delta_c,
            ambient_outside_operating_range=not op_low <= ambient_c <= op_high,
        )

    def _open(self) -> Any:
        """The driver, made on first use (probe + EEPROM emissivity, read once)."""
        if self._driver is not None:
            return self._driver
        try:
            import adafruit_mlx90614  # imports Blinka's busio for type hints only
        except Exception as error:  # an install problem must not kill the loop
            raise ThermometerFault(DRIVER_ERROR, f"cannot import the driver: {error}") from error
        address = self.settings.address
        try:
            driver = adafruit_mlx90614.MLX90614(self._bus, address=address)
        except ValueError as error:  # the bus-device probe's "No I2C device at address"
            raise ThermometerFault(NO_DEVICE, f"no answer at 0x{address:02X}") from error
        word = self._with_retries(
            "emissivity", lambda: self._bus.read_word(address, EEPROM_EMISSIVITY)
        )
        emissivity = word / EMISSIVITY_FULL_SCALE
        if emissivity < MIN_EMISSIVITY:
            raise ThermometerFault(BAD_EMISSIVITY, f"EEPROM emissivity word 0x{word:04X}")
        self._sensor_emissivity = emissivity
        self._driver = driver
        logger.info("thermometer at 0x%02X, EEPROM emissivity %.4f", address, emissivity)
        return driver

    def _with_retries(self, what: str, read: Callable[[], Any]) -> Any:
        """Run one checked bus read, retrying transient failures with a short back-off."""
        attempts = 1 + self.settings.retries
        for attempt in range(1, attempts + 1):
            try:
                return read()
            except OSError as error:
                code, reason = I2C_ERROR, f"[Errno {error.errno}] {error.strerror or error}"
            except SMBusIntegrityError as error:
                code, reason = error.code, str(error)
            except ThermometerFault:
                raise
            except Exception as error:  # a driver bug is reported, not retried
                logger.exception("thermometer %s read failed unexpectedly", what)
                raise ThermometerFault(DRIVER_ERROR, f"{what}: {error!r}") from error
            if attempt < attempts:
                self._clock.sleep(self.settings.retry_backoff_s)
        raise ThermometerFault(code, f"{what} read failed {attempts} times: {reason}")

    def _check_not_stuck(self, words: tuple[int, int], now: float) -> None:
        if words != self._unchanged_words:
            self._unchanged_words = words
            self._unchanged_since = now
            return
        unchanged_for = now - self._unchanged_since
        if unchanged_for >= self.settings.stuck_after_s:
            raise ThermometerFault(
                STUCK,
                f"object 0x{words[0]:04X} and ambient 0x{words[1]:04X} unchanged "
                f"for {unchanged_for:.1f} s",
            )


def open_pi_bus() -> I2CBus:
    """The Raspberry Pi's I2C-1 (GPIO 2/3) through Blinka. Only importable on the Pi.

    Blinka ignores `frequency` on Linux: set the bus speed with
    `dtparam=i2c_arm_baudrate=50000` in /boot/firmware/config.txt.
    """
    import board
    import busio

    bus: I2CBus = busio.I2C(board.SCL, board.SDA)
    return bus


def release_bus(bus: object) -> None:
    """Give the I2C bus back (Blinka's busio.I2C has deinit; the simulated bus has nothing)."""
    deinit = getattr(bus, "deinit", None)
    if callable(deinit):
        with contextlib.suppress(Exception):
            deinit()
