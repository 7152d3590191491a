"""Device checks through the real drivers: thermometer, camera, door relay, indicator.

Devices come from the configuration as `gatekiosk run` builds them; their libraries are
imported only when a check uses them. Only the relay check moves anything: the door opens.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

from firmware.assemble import open_camera, open_thermometer_bus
from firmware.cli.checks import FAIL, PASS, WARN, Check
from firmware.cli.errors import ERROR_CHARS
from firmware.cli.technician import read_samples
from firmware.clock import Clock
from firmware.config import Config
from firmware.core import temperature
from firmware.errors import one_line
from firmware.hw.thermometer import OPERATING_AMBIENT_RANGE_C

if TYPE_CHECKING:
    from firmware.hw.code_reader import Camera
    from firmware.hw.smbus_pec import I2CBus

CAMERA_FRAMES = 8
RELAY_TEST_PULSE_S = 1.0
# How much longer than asked the relay may take to drop before the check calls it stuck.
RELAY_DROP_MARGIN_S = 0.5
RELAY_POLL_S = 0.02
# The room range in which the compensation model holds well (FIELD-NOTES, temperature).


def check_thermometer(cfg: Config, clock: Clock, samples: int, bus: I2CBus | None = None) -> Check:
    """`samples` reads through the real driver path, spaced at the configured rate."""
    from firmware.hw.thermometer import Thermometer, release_bus

    opened_here = bus is None
    try:
        if bus is None:
            bus = open_thermometer_bus(cfg, clock)
        thermometer = Thermometer(bus, cfg.thermometer, clock)
    except Exception as exc:  # Blinka raises anything from ImportError to RuntimeError
        reason = one_line(exc, ERROR_CHARS)
        return Check("thermometer", FAIL, f"cannot open the I2C bus: {reason}")
    try:
        good, faults = read_samples(thermometer, clock, samples, cfg.thermometer.sample_hz)
    finally:
        if opened_here:
            release_bus(bus)
    data: dict[str, Any] = {"reads": samples, "good": len(good), "failed": len(faults)}
    if faults:
        data["fault"] = faults[-1].code
    if not good:
        fault = faults[-1]
        return Check(
            "thermometer",
            FAIL,
            f"no reading in {samples} tries: {fault.code}: {fault.detail}",
            data,
        )
    ambient = statistics.median(s.ambient_c for s in good)
    obj = statistics.median(s.object_c for s in good)
    present = sum(1 for s in good if s.person_present)
    emissivity = thermometer.sensor_emissivity
    data.update(
        ambient_c=round(ambient, 2),
        object_c=round(obj, 2),
        person_present=present,
        sensor_emissivity=None if emissivity is None else round(emissivity, 4),
    )
    someone = f"someone in view in {present}" if present else "nobody in view"
    detail = (
        f"{len(good)}/{samples} reads: ambient {ambient:.2f} °C, object {obj:.2f} °C, {someone}"
    )
    low, high = OPERATING_AMBIENT_RANGE_C
    if faults:
        last = faults[-1]
        return Check("thermometer", WARN, f"{detail}; {len(faults)} failed: {last.code}", data)
    if temperature.ambient_warning(ambient, low, high):
        return Check(
            "thermometer",
            WARN,
            f"{detail}: the room is outside {low:g}–{high:g} °C, where the model holds well",
            data,
        )
    return Check("thermometer", PASS, detail, data)


def check_camera(
    cfg: Config, clock: Clock, frames: int = CAMERA_FRAMES, camera: Camera | None = None
) -> Check:
    """Start the camera, read `frames` frames through the real reader and decoder."""
    from firmware.hw.code_reader import CodeReader
    from firmware.hw.qr_decode import make_decoder

    try:
        decoder = make_decoder(cfg.camera.decoder)
        if camera is None:
            camera = open_camera(cfg, clock)
    except Exception as exc:  # a missing decoder library or camera stack
        return Check("camera", FAIL, one_line(exc, ERROR_CHARS))
    codes: list[bytes] = []
    faults: list[str] = []
    reader = CodeReader(
        camera,
        decoder,
        clock,
        codes.append,
        lambda _code, detail: faults.append(detail),
        absence_s=cfg.camera.absence_s,
    )
    frame_times: list[float] = []
    try:
        for _ in range(frames):
            reader.step()
            if faults:
                break
            frame_times.append(clock.monotonic())
    finally:
        reader.stop()
    stats = reader.stats()
    size = f"{cfg.camera.width}x{cfg.camera.height}"
    data: dict[str, Any] = {
        "source": cfg.camera.source,
        "decoder": decoder.name,
        "frames": stats["frames"],
        "codes": len(codes),
    }
    if faults:
        return Check("camera", FAIL, faults[0], data)
    fps = None
    if len(frame_times) >= 2 and frame_times[-1] > frame_times[0]:
        fps = (len(frame_times) - 1) / (frame_times[-1] - frame_times[0])
    decode_ms = stats["decode_ms"]
    data.update(
        frame_rate_hz=None if fps is None else round(fps, 1),
        decode_ms=None if decode_ms is None else round(decode_ms, 1),
    )
    rate = "" if fps is None else f" at {fps:.1f} fps"
    timing = "" if decode_ms is None else f", {decoder.name} {decode_ms:.0f} ms/frame"
    detail = f"{stats['frames']} frames {size}{rate}{timing}"
    if not codes:
        return Check("camera", WARN, f"{detail}; no code in view", data)
    # The code names a pass: only its size is shown.
    return Check("camera", PASS, f"{detail}; read a code ({len(codes[0])} bytes)", data)


def _pin_factory_name() -> str:
    from gpiozero import Device

    factory = Device.pin_factory
    return "none yet" if factory is None else type(factory).__name__


def check_relay(cfg: Config, pulse_s: float = RELAY_TEST_PULSE_S) -> Check:
    """Pulse the door relay (the door opens!) and see it drop by itself; always off after."""
    from firmware.hw.door import Door

    pins = cfg.pins
    try:
        door = Door(pins, cfg.door)
    except Exception as exc:  # a line held by another process, no GPIO at all, ...
        return Check("relay", FAIL, f"GPIO{pins.relay}: {one_line(exc, ERROR_CHARS)}")
    data: dict[str, Any] = {"gpio": pins.relay, "pin_factory": _pin_factory_name()}
    try:
        shut_before = not door.is_open
        started = time.monotonic()
        granted = door.pulse(pulse_s)
        if granted <= 0:
            return Check("relay", FAIL, f"GPIO{pins.relay}: the relay refused the pulse", data)
        opened_during = False
        deadline = started + granted + RELAY_DROP_MARGIN_S
        while door.relay.is_active and time.monotonic() < deadline:
            opened_during = opened_during or door.is_open
            time.sleep(RELAY_POLL_S)
        on_s = time.monotonic() - started
        dropped = not door.relay.is_active
    finally:
        door.close()  # relay off first, whatever happened above
    data.update(on_s=round(on_s, 2), contact_shut_before=shut_before)
    if not dropped:
        return Check(
            "relay", FAIL, f"GPIO{pins.relay}: still on after {on_s:.2f} s; forced off", data
        )
    if not shut_before:
        contact = "door contact reads open (door open, or its wire cut)"
    elif opened_during:
        contact = "the door opened during the pulse"
    else:
        contact = "door contact stayed shut (nobody pushed the door)"
    return Check("relay", PASS, f"GPIO{pins.relay} on for {on_s:.2f} s, then off; {contact}", data)


class _SilentPrompts:
    """The check shows the idle pattern; its prompt text is of no use here."""

    def prompt(self, text_by_lang: dict[str, str]) -> None:
        pass


def check_indicator(cfg: Config) -> Check:
    """Claim the LEDs and the buzzer and show the idle pattern (everything off)."""
    from firmware.hw.indicator import Indicator

    pins = cfg.pins
    gpios = f"GPIO{pins.led_green}/{pins.led_red}/{pins.buzzer}"
    try:
        indicator = Indicator(pins, prompt_sink=_SilentPrompts())
    except Exception as exc:
        return Check("indicator", FAIL, f"{gpios}: {one_line(exc, ERROR_CHARS)}")
    try:
        indicator.show("idle")
    finally:
        indicator.close()
    return Check(
        "indicator",
        PASS,
        f"{gpios} claimed, idle shown (all off); pin factory {_pin_factory_name()}",
        {"pin_factory": _pin_factory_name()},
    )
