"""The one configuration loader: TOML in, typed and validated objects out.

Like ESPHome's schemas, each component declares its own section (a frozen dataclass whose fields
carry their bounds, see `firmware.settings`); this module composes them, checks every key, and
cross-checks what no single section can. An unknown key or an impossible value fails at load
time with the key's path and one sentence, before a pin is touched. A half-valid configuration
never reaches the hardware.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.gate.settings import (
    DeviceConfig,
    KeysConfig,
    ModelConfig,
    PolicyConfig,
    TemperatureConfig,
)
from firmware.hw.camera_settings import CameraSettings
from firmware.hw.door import DoorConfig, DoorConfigError
from firmware.hw.pins import PinMap, PinMapError
from firmware.hw.thermometer import ThermometerSettings
from firmware.link.settings import MqttConfig, parse_broker
from firmware.screen.settings import ScreenSettings
from firmware.store.settings import OutboxConfig
from firmware.topics import validate_id
from firmware.voice.settings import VoiceSettings

__all__ = ["Config", "ConfigError", "ModelConfig", "load", "parse"]


class ConfigError(ValueError):
    """A configuration that must not be used; the message is `path: problem`, one line."""


@dataclass(frozen=True)
class Config:
    device: DeviceConfig = field(default_factory=DeviceConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    thermometer: ThermometerSettings = field(default_factory=ThermometerSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
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
        try:
            value = float(value)
        except OverflowError:  # an integer beyond any float
            raise ConfigError(f"{path}: must be a finite number, not so large") from None
        if not math.isfinite(value):
            raise ConfigError(f"{path}: must be a finite number, not {value}")
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
            # A quoted TOML key may hold a line break: shown escaped, the refusal stays one line.
            shown = where if where.isprintable() else repr(where)
            raise ConfigError(f"{shown}: unknown key (expected one of {', '.join(fields)})")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, where)
        else:
            kwargs[key] = _check_value(where, value, tp, fields[key].metadata)
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a section's own checks (they name the key)
        raise ConfigError(str(exc)) from None


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
    t = cfg.temperature
    if not t.body_min_c < t.threshold_c < t.body_max_c:
        raise ConfigError("temperature.threshold_c: must lie between body_min_c and body_max_c")
    if t.ambient_min_c >= t.ambient_max_c:
        raise ConfigError("temperature.ambient_min_c: must be below ambient_max_c")
    if cfg.mqtt.backoff_initial_s > cfg.mqtt.backoff_max_s:
        raise ConfigError("mqtt.backoff_initial_s: must not exceed mqtt.backoff_max_s")
    _check_brokers(cfg)
    tls = cfg.mqtt.tls
    if (tls.cert or tls.key) and not (tls.cert and tls.key):
        raise ConfigError("mqtt.tls: cert and key go together")
    if not tls.ca and any(b.startswith("mqtts://") for b in cfg.mqtt.brokers):
        raise ConfigError("mqtt.tls.ca: an mqtts:// broker needs the CA that signed it")

    try:
        cfg.pins.validate("pins")
        cfg.door.validate("door")
    except (PinMapError, DoorConfigError) as exc:
        raise ConfigError(str(exc)) from None
    try:
        cfg.screen.validate("screen")
        cfg.voice.validate("voice")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_brokers(cfg: Config) -> None:
    if not cfg.mqtt.brokers:
        raise ConfigError("mqtt.brokers: must name at least one broker (host:port)")
    for i, broker in enumerate(cfg.mqtt.brokers):
        try:
            parse_broker(broker)
        except ValueError as exc:
            raise ConfigError(f"mqtt.brokers[{i}]: {exc}") from None


def parse(text: str, source: str = "config") -> Config:
    """Parse and validate TOML text; raise ConfigError with one line naming the key."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a configuration") from None
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
    cfg = parse(text, str(path))
    _check_files(cfg)
    return cfg


def _check_files(cfg: Config) -> None:
    """Files the configuration names that must exist on this machine before anything starts."""
    tls = cfg.mqtt.tls
    for key in ("ca", "cert", "key"):
        # A missing CA would leave the gate offline forever, one failed handshake at a time.
        value = getattr(tls, key)
        if value and not Path(value).is_file():
            raise ConfigError(f"mqtt.tls.{key}: {value} is not a readable file")
