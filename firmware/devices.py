"""Devices from the configuration: the one place config sections become driver settings and
drivers. `[thermometer] bus` and `[camera] source` choose the Pi's hardware ("pi", imported
lazily) or the simulated sensor and camera of host_sim ("sim").

`gatekiosk run`, the technician tools and the simulator build their devices from these, so a
key read one way in one of them is read the same way in all.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from firmware.clock import Clock
from firmware.config import Config
from firmware.hw.door import DoorConfig
from firmware.hw.thermometer import ThermometerSettings

if TYPE_CHECKING:
    from firmware.hw.code_reader import Camera
    from firmware.hw.smbus_pec import I2CBus
    from firmware.hw.thermometer import Thermometer

# The room of the simulated sensor (`[thermometer] bus = "sim"`).
SIM_ROOM_C = 22.0


def thermometer_settings(cfg: Config) -> ThermometerSettings:
    t = cfg.thermometer
    return ThermometerSettings(
        address=t.address,
        sample_hz=t.sample_hz,
        retries=t.retries,
        fault_after=t.fault_after,
        stuck_after_s=t.stuck_after_s,
        presence_delta_c=t.presence_delta_c,
        emissivity=t.emissivity,
    )


def door_config(cfg: Config) -> DoorConfig:
    d = cfg.door
    return DoorConfig(
        pulse_s=d.pulse_s,
        max_pulse_s=d.max_pulse_s,
        held_open_s=d.held_open_s,
        forced_grace_s=d.forced_grace_s,
    )


def open_thermometer_bus(cfg: Config, clock: Clock) -> I2CBus:
    """The I2C bus `[thermometer] bus` names: the Pi's I2C-1, or a simulated MLX90614 on a
    simulated bus (an empty room at SIM_ROOM_C; `bus.scene` puts a person in front of it)."""
    if cfg.thermometer.bus == "sim":
        from host_sim import mlx90614_sim

        # The simulated forehead has exactly the emissivity the configuration assumes.
        scene = mlx90614_sim.Scene(clock, SIM_ROOM_C, object_emissivity=cfg.thermometer.emissivity)
        return mlx90614_sim.FakeMLX90614Bus(scene, address=cfg.thermometer.address)
    from firmware.hw.thermometer import open_pi_bus

    return open_pi_bus()


def open_thermometer(cfg: Config, clock: Clock, bus: I2CBus | None = None) -> Thermometer:
    """The thermometer as `gatekiosk run` reads it: the real driver, PEC checks, retries."""
    from firmware.hw.thermometer import Thermometer

    return Thermometer(
        open_thermometer_bus(cfg, clock) if bus is None else bus,
        thermometer_settings(cfg),
        clock,
    )


def release_bus(bus: object) -> None:
    """Give the I2C bus back (Blinka's busio.I2C has deinit; the simulated bus has nothing)."""
    deinit = getattr(bus, "deinit", None)
    if callable(deinit):
        with contextlib.suppress(Exception):
            deinit()


def open_camera(cfg: Config, clock: Clock) -> Camera:
    """The camera `[camera] source` names: picamera2 on the Pi, or rendered frames."""
    size = (cfg.camera.width, cfg.camera.height)
    if cfg.camera.source == "sim":
        from host_sim.camera_sim import SimCamera

        return SimCamera(size, clock=clock)
    from firmware.hw.code_reader import PiCamera

    return PiCamera(size)
