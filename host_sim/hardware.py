"""The simulator's side of the hardware factory (`gatekiosk.hardware` entry point `sim`).

Everything under the ports is real driver code: the Adafruit MLX90614 driver reads a
register-level fake I2C bus, the QR decoder reads rendered camera frames, and — in a rig — the
door's gpiozero devices drive MockFactory pins wired to a door model (`SimDoor`). With a
`ManualClock` the relay's timers are `ManualTimers`, so a day runs in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockFactory

from firmware.clock import Clock, ManualClock
from firmware.hw.camera_settings import CameraSettings
from firmware.hw.indicator import PromptSink
from firmware.hw.pins import PinMap
from firmware.hw.relay import StartTimer, start_thread_timer
from firmware.hw.thermometer import ThermometerSettings
from host_sim import camera_sim, mlx90614_sim
from host_sim.door_sim import ManualTimers, SimDoor

# The room of the simulated sensor when nothing else is said.
SIM_ROOM_C = 22.0


class SimHardware:
    """Simulated sensor and camera; optionally MockFactory pins under a door model.

    `SimHardware()` is what `gatekiosk run` gets for `bus = "sim"` / `source = "sim"`: an empty
    room and rendered frames, pins from GPIOZERO_PIN_FACTORY. `SimHardware.rig(clock, ...)` is a
    whole simulated gate: its own MockFactory, the door model, manual timers on a ManualClock.
    """

    def __init__(
        self,
        *,
        pin_factory: Any = None,
        start_timer: StartTimer = start_thread_timer,
        prompt_sink: PromptSink | None = None,
        ambient_c: float = SIM_ROOM_C,
        seed: int = 0,
        camera_size: tuple[int, int] | None = None,
        object_emissivity: float | None = None,
        camera_wrapper: Callable[[camera_sim.SimCamera], Any] | None = None,
    ) -> None:
        self.pin_factory = pin_factory
        # Wraps the simulated camera before the reader gets it (a simulator's faster path).
        self.camera_wrapper = camera_wrapper
        self.start_timer = start_timer
        self.prompt_sink = prompt_sink
        self.ambient_c = ambient_c
        self.seed = seed
        self.camera_size = camera_size
        self.object_emissivity = object_emissivity
        self.sim_door: SimDoor | None = None
        self.timers: ManualTimers | None = None
        self.scene: mlx90614_sim.Scene | None = None
        self.i2c: mlx90614_sim.FakeMLX90614Bus | None = None
        self.sim_camera: camera_sim.SimCamera | None = None

    @classmethod
    def rig(
        cls,
        clock: Clock,
        *,
        prompt_sink: PromptSink | None = None,
        ambient_c: float = SIM_ROOM_C,
        seed: int = 0,
        camera_size: tuple[int, int] = (640, 480),
        object_emissivity: float | None = None,
        camera_wrapper: Callable[[camera_sim.SimCamera], Any] | None = None,
    ) -> SimHardware:
        """A whole simulated gate on its own pins; manual timers when `clock` is manual."""
        timers = ManualTimers(clock) if isinstance(clock, ManualClock) else None
        world = cls(
            pin_factory=MockFactory(),
            start_timer=timers.start if timers is not None else start_thread_timer,
            prompt_sink=prompt_sink,
            ambient_c=ambient_c,
            seed=seed,
            camera_size=camera_size,
            object_emissivity=object_emissivity,
            camera_wrapper=camera_wrapper,
        )
        world.timers = timers
        return world

    def claim_pins(self, pins: PinMap) -> None:
        """The door model takes its pins first, so the real door code drives these pins."""
        if isinstance(self.pin_factory, MockFactory):
            self.sim_door = SimDoor(self.pin_factory, pins, start_timer=self.start_timer)

    def thermometer_bus(
        self, settings: ThermometerSettings, clock: Clock
    ) -> mlx90614_sim.FakeMLX90614Bus:
        emissivity = self.object_emissivity or settings.emissivity
        self.scene = mlx90614_sim.Scene(
            clock, self.ambient_c, object_emissivity=emissivity, seed=self.seed
        )
        self.i2c = mlx90614_sim.FakeMLX90614Bus(self.scene, address=settings.address)
        return self.i2c

    def camera(self, settings: CameraSettings, clock: Clock) -> Any:
        size = self.camera_size or (settings.width, settings.height)
        self.sim_camera = camera_sim.SimCamera(size, clock=clock, seed=self.seed)
        if self.camera_wrapper is not None:
            return self.camera_wrapper(self.sim_camera)
        return self.sim_camera
