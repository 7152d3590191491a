"""The gate's own sections: who it is, whom it trusts, its rules and its temperature model."""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware.core import temperature
from firmware.settings import setting

# Open hours are "HH:MM-HH:MM" spans of the local day.
OPEN_HOURS_PATTERN = r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d"


@dataclass(frozen=True)
class DeviceConfig:
    id: str = "gate-0001"
    community: str = "demo-community"
    gate: str = "main-in"
    direction: str = setting("in", choices=("in", "out"))
    data_dir: str = "/var/lib/gatekiosk"
    # Local time offset for opening hours (China Standard Time by default).
    utc_offset_hours: float = setting(8.0, -12.0, 14.0)


@dataclass(frozen=True)
class KeysConfig:
    issuers: str = "/etc/gatekiosk/issuers.jwks"
    admins: str = "/etc/gatekiosk/admins.jwks"


@dataclass(frozen=True)
class PolicyConfig:
    skew_s: int = setting(300, 0, 3600)
    stale_grace_h: float = setting(72.0, 0.0, 24.0 * 30)
    stale_grace_types: list[str] = setting(
        ["resident"], item_choices=("resident", "visitor", "staff")
    )
    passback_s: int = setting(30, 0, 3600)
    # e.g. ["06:00-22:00"]; empty = open around the clock
    open_hours: list[str] = setting([], item_pattern=OPEN_HOURS_PATTERN)
    # None: `in` gates measure, `out` gates do not (DESIGN 2.3)
    measure_temperature: bool | None = None

    def open_hours_minutes(self) -> list[tuple[int, int]] | None:
        """Opening hours as (start, end) minutes of the local day, or None for always open."""
        if not self.open_hours:
            return None
        out = []
        for span in self.open_hours:
            start, end = span.split("-")
            out.append((_minutes(start), _minutes(end)))
        return out


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class ModelConfig:
    gain: float = setting(1.0, 0.5, 1.5)
    ambient_slope: float = setting(-0.186, -1.0, 1.0)
    intercept: float = setting(6.81, -10.0, 15.0)


@dataclass(frozen=True)
class TemperatureConfig:
    threshold_c: float = setting(37.3, 35.0, 40.0)
    confirm_fever: bool = True
    body_min_c: float = setting(34.0, 30.0, 37.0)
    body_max_c: float = setting(42.5, 39.0, 45.0)
    ambient_min_c: float = setting(0.0, -40.0, 50.0)
    ambient_max_c: float = setting(50.0, 0.0, 85.0)
    window_s: float = setting(1.0, 0.1, 10.0)
    min_samples: int = setting(3, 1, 50)
    max_spread_c: float = setting(0.3, 0.05, 2.0)
    # How long a person is asked to face the sensor before "no reading" is decided.
    measure_timeout_s: float = setting(6.0, 1.0, 60.0)
    # After a fever the warning stays up this long (the person is asked to wait for staff).
    fever_hold_s: float = setting(10.0, 0.0, 300.0)
    model: ModelConfig = field(default_factory=ModelConfig)

    def compensation_model(self) -> temperature.CompensationModel:
        """The core's skin-to-core model with these constants."""
        m = self.model
        return temperature.CompensationModel(m.gain, m.ambient_slope, m.intercept)

    def temperature_policy(self) -> temperature.TemperaturePolicy:
        """The core's thresholds and windows with these values."""
        return temperature.TemperaturePolicy(
            threshold_c=self.threshold_c,
            confirm_fever=self.confirm_fever,
            body_min_c=self.body_min_c,
            body_max_c=self.body_max_c,
            ambient_min_c=self.ambient_min_c,
            ambient_max_c=self.ambient_max_c,
            window_s=self.window_s,
            min_samples=self.min_samples,
            max_spread_c=self.max_spread_c,
        )
