"""Device settings from the configuration: the one place config sections become driver settings.

`gatekiosk run`, the technician tools and the simulator build their devices from these, so a
key read one way in one of them is read the same way in all.
"""

from __future__ import annotations

from firmware.config import Config
from firmware.hw.door import DoorConfig
from firmware.hw.thermometer import ThermometerSettings


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
