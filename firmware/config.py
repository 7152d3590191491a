"""The one configuration loader: TOML in, typed and validated objects out.

Like ESPHome's schemas, every key is declared (type, default, bounds); an unknown key or an
impossible value fails at load time with the key's path and one sentence, before a pin is
touched. A half-valid configuration never reaches the hardware.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.core import temperature
from firmware.hw.pins import PinMap, PinMapError
from firmware.screen.settings import ScreenSettings
from firmware.topics import validate_id
from firmware.voice.settings import VoiceSettings


class ConfigError(ValueError):
    """A configuration that must not be used; the message is `path: problem`, one line."""


def _bounds(low: float | None = None, high: float | None = None, **extra: Any) -> Any:
    return {"low": low, "high": high, **extra}


def _f(default: Any, low: float | None = None, high: float | None = None, **extra: Any) -> Any:
    """A field with bounds (inclusive) checked at load time."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=_bounds(low, high, **extra))
    return field(default=default, metadata=_bounds(low, high, **extra))


@dataclass(frozen=True)
class DeviceConfig:
    id: str = "gate-0001"
    community: str = "demo-community"
    gate: str = "main-in"
    direction: str = _f("in", choices=("in", "out"))
    data_dir: str = "/var/lib/gatekiosk"
    # Local time offset for opening hours (China Standard Time by default).
    utc_offset_hours: float = _f(8.0, -12.0, 14.0)


@dataclass(frozen=True)
class PolicyConfig:
    skew_s: int = _f(300, 0, 3600)
    stale_grace_h: float = _f(72.0, 0.0, 24.0 * 30)
    stale_grace_types: list[str] = _f(["resident"], item_choices=("resident", "visitor", "staff"))
    passback_s: int = _f(30, 0, 3600)
    # e.g. ["06:00-22:00"]; empty = open around the clock
    open_hours: list[str] = _f([], item_pattern=r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d")
    # None: `in` gates measure, `out` gates do not (DESIGN 2.3)
    measure_temperature: bool | None = None


@dataclass(frozen=True)
class ModelConfig:
    gain: float = _f(1.0, 0.5, 1.5)
    ambient_slope: float = _f(-0.186, -1.0, 1.0)
    intercept: float = _f(6.81, -10.0, 15.0)


@dataclass(frozen=True)
class TemperatureConfig:
    threshold_c: float = _f(37.3, 35.0, 40.0)
    confirm_fever: bool = True
    body_min_c: float = _f(34.0, 30.0, 37.0)
    body_max_c: float = _f(42.5, 39.0, 45.0)
    ambient_min_c: float = _f(0.0, -40.0, 50.0)
    ambient_max_c: float = _f(50.0, 0.0, 85.0)
    window_s: float = _f(1.0, 0.1, 10.0)
    min_samples: int = _f(3, 1, 50)
    max_spread_c: float = _f(0.3, 0.05, 2.0)
    # How long a person is asked to face the sensor before "no reading" is decided.
    measure_timeout_s: float = _f(6.0, 1.0, 60.0)
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


@dataclass(frozen=True)
class ThermometerConfig:
    bus: str = _f("pi", choices=("pi", "sim"))
    address: int = _f(0x5A, 0x01, 0x7F)
    sample_hz: float = _f(8.0, 0.5, 50.0)
    emissivity: float = _f(0.98, 0.1, 1.0)
    retries: int = _f(3, 0, 10)
    fault_after: int = _f(5, 1, 100)
    stuck_after_s: float = _f(30.0, 1.0, 3600.0)
    presence_delta_c: float = _f(1.5, 0.2, 15.0)


@dataclass(frozen=True)
class CameraConfig:
    source: str = _f("pi", choices=("pi", "sim"))
    decoder: str = _f("zxing", choices=("zxing", "pyzbar"))
    width: int = _f(1280, 160, 4056)
    height: int = _f(960, 120, 3040)
    # A code absent this long may be reported again (a new presentation).
    absence_s: float = _f(1.0, 0.1, 30.0)


@dataclass(frozen=True)
class DoorConfig:
    pulse_s: float = _f(3.0, 0.2, 30.0)
    max_pulse_s: float = _f(10.0, 0.5, 60.0)
    held_open_s: float = _f(15.0, 2.0, 600.0)
    forced_grace_s: float = _f(2.0, 0.0, 30.0)
    # After a decision the gate ignores new codes this long (the person walks through).
    cooldown_s: float = _f(1.5, 0.0, 30.0)
    # After a fever the warning stays up this long (the person is asked to wait for staff).
    fever_hold_s: float = _f(10.0, 0.0, 300.0)
    # A visit that never reaches a decision is abandoned after this long.
    session_timeout_s: float = _f(15.0, 2.0, 300.0)


@dataclass(frozen=True)
class KeysConfig:
    issuers: str = "/etc/gatekiosk/issuers.jwks"
    admins: str = "/etc/gatekiosk/admins.jwks"


@dataclass(frozen=True)
class TlsConfig:
    ca: str = ""
    cert: str = ""
    key: str = ""


@dataclass(frozen=True)
class MqttConfig:
    # host:port entries (optionally mqtt:// or mqtts://), tried in order. TLS is on when
    # [mqtt.tls] ca is set; an mqtts:// broker without it is refused at load time.
    brokers: list[str] = _f(
        ["localhost:1883"], item_pattern=r"(mqtts?://)?[A-Za-z0-9.\-\[\]:]+:\d{1,5}"
    )
    protocol: str = _f("5", choices=("5", "3.1.1"))
    keepalive: int = _f(30, 5, 1200)
    window: int = _f(10, 1, 100)
    settle_on: str = _f("ack", choices=("ack", "puback"))
    telemetry_period_s: float = _f(60.0, 5.0, 3600.0)
    backoff_initial_s: float = _f(1.0, 0.1, 60.0)
    backoff_max_s: float = _f(60.0, 1.0, 3600.0)
    username: str = ""
    password_file: str = ""
    tls: TlsConfig = field(default_factory=TlsConfig)


@dataclass(frozen=True)
class OutboxConfig:
    retention_days: float = _f(7.0, 0.0, 365.0)
    max_rows: int = _f(200_000, 100, 10_000_000)
    high_water: float = _f(0.8, 0.1, 0.99)


@dataclass(frozen=True)
class Config:
    device: DeviceConfig = field(default_factory=DeviceConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    thermometer: ThermometerConfig = field(default_factory=ThermometerConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    # The pin map's own class: its validate() is the one set of pin rules.
    pins: PinMap = field(default_factory=PinMap)
    door: DoorConfig = field(default_factory=DoorConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    # The screen's and the voice's own settings classes (firmware/screen, firmware/voice).
    screen: ScreenSettings = field(default_factory=ScreenSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    # sha256 of the file it was loaded from: goes into the birth record.
    source_hash: str = field(default="", metadata={"internal": True})

    def open_hours_minutes(self) -> list[tuple[int, int]] | None:
        """Opening hours as (start, end) minutes of the local day, or None for always open."""
        if not self.policy.open_hours:
            return None
        out = []
        for span in self.policy.open_hours:
            start, end = span.split("-")
            out.append((_minutes(start), _minutes(end)))
        return out


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_value(path: str, value: Any, tp: Any, meta: typing.Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _check_value(path, value, options[0], meta)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: must be a list")
        item_tp = typing.get_args(tp)[0]
        items = [_check_value(f"{path}[{i}]", v, item_tp, {}) for i, v in enumerate(value)]
        for i, item in enumerate(items):
            if "item_choices" in meta and item not in meta["item_choices"]:
                raise ConfigError(f"{path}[{i}]: must be one of {', '.join(meta['item_choices'])}")
            if "item_pattern" in meta and not re.fullmatch(meta["item_pattern"], item):
                raise ConfigError(f"{path}[{i}]: {item!r} is not of the form expected here")
        return items
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: must be an integer")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: must be a number")
        value = float(value)
    elif tp is str and not isinstance(value, str):
        raise ConfigError(f"{path}: must be a string")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{path}: must be one of {', '.join(meta['choices'])}, not {value!r}")
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{path}: {value} is outside {low}..{high}")
    return value


def _build(cls: Any, table: Any, path: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{path or 'config'}: must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            raise ConfigError(f"{where}: unknown key (expected one of {', '.join(fields)})")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, where)
        else:
            kwargs[key] = _check_value(where, value, tp, fields[key].metadata)
    return cls(**kwargs)


def _cross_checks(cfg: Config) -> None:
    for what, value in (
        ("device.id", cfg.device.id),
        ("device.community", cfg.device.community),
        ("device.gate", cfg.device.gate),
    ):
        try:
            validate_id(value, what)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if cfg.door.pulse_s > cfg.door.max_pulse_s:
        raise ConfigError(
            f"door.pulse_s: {cfg.door.pulse_s} is longer than door.max_pulse_s "
            f"{cfg.door.max_pulse_s}"
        )
    t = cfg.temperature
    if not t.body_min_c < t.threshold_c < t.body_max_c:
        raise ConfigError("temperature.threshold_c: must lie between body_min_c and body_max_c")
    if t.ambient_min_c >= t.ambient_max_c:
        raise ConfigError("temperature.ambient_min_c: must be below ambient_max_c")
    if cfg.mqtt.backoff_initial_s > cfg.mqtt.backoff_max_s:
        raise ConfigError("mqtt.backoff_initial_s: must not exceed mqtt.backoff_max_s")
    tls = cfg.mqtt.tls
    if (tls.cert or tls.key) and not (tls.cert and tls.key):
        raise ConfigError("mqtt.tls: cert and key go together")
    if not tls.ca and any(b.startswith("mqtts://") for b in cfg.mqtt.brokers):
        raise ConfigError("mqtt.tls.ca: an mqtts:// broker needs the CA that signed it")
    try:
        cfg.pins.validate("pins")
    except PinMapError as exc:
        raise ConfigError(str(exc)) from None
    try:
        cfg.screen.validate("screen")
        cfg.voice.validate("voice")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def parse(text: str, source: str = "config") -> Config:
    """Parse and validate TOML text; raise ConfigError with one line naming the key."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    cfg = _build(Config, table, "")
    cfg = dataclasses.replace(cfg, source_hash=hashlib.sha256(text.encode()).hexdigest())
    _cross_checks(cfg)
    return cfg


def load(path: str | Path) -> Config:
    """Load a configuration file; a missing or unreadable file is a ConfigError too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse(text, str(path))
