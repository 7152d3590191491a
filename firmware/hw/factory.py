"""The hardware factory: which world the devices are made in (as gpiozero's pin factory).

`Hardware` is what the one wiring (`firmware.assemble`) asks for: the pin factory for gpiozero
devices, the timer the relay's hard cap runs on, the prompt sink, the thermometer's I2C bus and
the camera. `PiHardware` is the Raspberry Pi: gpiozero's default pin factory (lgpio on the Pi),
Blinka's I2C-1, picamera2, imported only when used. Other worlds plug in by the entry point group
`gatekiosk.hardware` (the host simulator registers `sim`), so the firmware never imports them;
`[thermometer] bus` and `[camera] source` name the world each device comes from.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from firmware.clock import Clock
from firmware.hw.relay import StartTimer, start_thread_timer

if TYPE_CHECKING:
    from firmware.hw.camera_settings import CameraSettings
    from firmware.hw.code_reader import Camera
    from firmware.hw.indicator import PromptSink
    from firmware.hw.pins import PinMap
    from firmware.hw.smbus_pec import I2CBus
    from firmware.hw.thermometer import ThermometerSettings

ENTRY_POINT_GROUP = "gatekiosk.hardware"


class Hardware(Protocol):
    """One world of devices."""

    pin_factory: Any  # a gpiozero Factory, or None for gpiozero's default
    start_timer: StartTimer
    prompt_sink: PromptSink | None

    def claim_pins(self, pins: PinMap) -> None:
        """Called before the door is built (a simulated door wires its pins here)."""

    def thermometer_bus(self, settings: ThermometerSettings, clock: Clock) -> I2CBus: ...

    def camera(self, settings: CameraSettings, clock: Clock) -> Camera: ...


class PiHardware:
    """The Raspberry Pi's own devices."""

    pin_factory: Any = None
    start_timer: StartTimer = staticmethod(start_thread_timer)
    prompt_sink: PromptSink | None = None

    def claim_pins(self, pins: PinMap) -> None:
        """Nothing to do: the pins are the Pi's."""

    def thermometer_bus(self, settings: ThermometerSettings, clock: Clock) -> I2CBus:
        from firmware.hw.thermometer import open_pi_bus

        return open_pi_bus()

    def camera(self, settings: CameraSettings, clock: Clock) -> Camera:
        from firmware.hw.code_reader import PiCamera

        return PiCamera((settings.width, settings.height))


class HardwareNotFound(LookupError):
    """No hardware world of that name is installed."""


def load_hardware(name: str) -> Hardware:
    """The hardware world `name`: "pi", or one registered under `gatekiosk.hardware`."""
    if name == "pi":
        return PiHardware()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            world: Hardware = ep.load()()
            return world
    raise HardwareNotFound(f"no hardware {name!r} installed (entry points {ENTRY_POINT_GROUP})")


class MixedHardware:
    """Pins, timer and prompts of one world; thermometer and camera each from the world its
    configuration names (`[thermometer] bus`, `[camera] source`)."""

    def __init__(self, base: Hardware, thermometer_world: Hardware, camera_world: Hardware) -> None:
        self.pin_factory = base.pin_factory
        self.start_timer = base.start_timer
        self.prompt_sink = base.prompt_sink
        self._base = base
        self._thermometer_world = thermometer_world
        self._camera_world = camera_world

    def claim_pins(self, pins: PinMap) -> None:
        self._base.claim_pins(pins)

    def thermometer_bus(self, settings: ThermometerSettings, clock: Clock) -> I2CBus:
        return self._thermometer_world.thermometer_bus(settings, clock)

    def camera(self, settings: CameraSettings, clock: Clock) -> Camera:
        return self._camera_world.camera(settings, clock)


def hardware_from_config(thermometer_bus: str, camera_source: str) -> Hardware:
    """The world `gatekiosk run` and the technician tools use: the Pi's pins (or whatever
    GPIOZERO_PIN_FACTORY names), sensor and camera from the worlds the configuration names."""
    base = PiHardware()
    if thermometer_bus == "pi" and camera_source == "pi":
        return base
    return MixedHardware(base, load_hardware(thermometer_bus), load_hardware(camera_source))
