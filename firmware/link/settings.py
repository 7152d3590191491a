"""How the gate connects: brokers, protocol, TLS, credentials, window and back-off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paho.mqtt.enums import MQTTProtocolVersion

from firmware import topics
from firmware.settings import setting

PROTOCOLS = {"5": MQTTProtocolVersion.MQTTv5, "3.1.1": MQTTProtocolVersion.MQTTv311}


@dataclass(frozen=True)
class TlsSettings:
    """TLS towards the broker: the CA that signed it, and this gate's certificate and key."""

    ca_file: str
    cert_file: str | None = None
    key_file: str | None = None


def parse_broker(value: str | tuple[str, int] | Sequence[Any]) -> tuple[str, int]:
    """`"host:port"`, `"[v6addr]:port"`, `"mqtt(s)://host:port"` or `(host, port)` -> (host, port).

    ValueError with one line if it is none of those. (Whether TLS is used is `MqttSettings.tls`.)
    """
    if isinstance(value, str):
        _, _, address = value.rpartition("://")
        host, sep, port_text = address.rpartition(":")
        if not sep or not port_text.isdigit():
            raise ValueError(f"broker {value!r} must be host:port")
        host = host.strip("[]")
        port = int(port_text)
    elif isinstance(value, Sequence) and len(value) == 2:
        if (not isinstance(value[0], str) or isinstance(value[1], bool)
                or not isinstance(value[1], int)):
            raise ValueError(f"broker {value!r} must be (host, port)")
        host, port = value[0], value[1]
    else:
        raise ValueError(f"broker {value!r} must be host:port or (host, port)")
    if not host or not 0 < port < 65536:
        raise ValueError(f"broker {value!r}: empty host or port outside 1-65535")
    return host, port


@dataclass(frozen=True)
class MqttSettings:
    """How the gate connects. `client_id` is the device id."""

    brokers: Sequence[str | tuple[str, int]]
    client_id: str
    protocol: str = "5"
    keepalive: int = 30
    tls: TlsSettings | None = None
    username: str | None = None
    password: str | None = None
    window: int = 10
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    ack_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    # How long to wait for the retained status list on a new connection before asking again.
    status_list_wait_s: float = 15.0
    # QoS the gate asks for on cmd, ack and the status list. 1 is DESIGN 2.4; 0 spares a
    # clustered broker one replicated consumer per subscription (NATS, hardware/README.md).
    subscribe_qos: int = 1
    endpoints: tuple[tuple[str, int], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.brokers, str | bytes) or not self.brokers:
            raise ValueError("brokers must be a non-empty list of host:port")
        object.__setattr__(self, "endpoints", tuple(parse_broker(b) for b in self.brokers))
        topics.validate_id(self.client_id, "client_id")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, got {self.protocol!r}")
        if not 1 <= self.window <= 1000:
            raise ValueError(f"window must be 1-1000, got {self.window}")
        if (self.keepalive < 1 or self.connect_timeout_s <= 0 or self.ack_timeout_s <= 0
                or self.status_list_wait_s <= 0):
            raise ValueError("keepalive, connect_timeout_s, ack_timeout_s and "
                             "status_list_wait_s must be positive")
        if not 0 < self.backoff_initial_s <= self.backoff_max_s:
            raise ValueError("backoff needs 0 < backoff_initial_s <= backoff_max_s")
        if self.password is not None and self.username is None:
            raise ValueError("password given without username")
        if self.subscribe_qos not in (0, 1):
            raise ValueError(f"subscribe_qos must be 0 or 1, got {self.subscribe_qos!r}")


@dataclass(frozen=True)
class TlsConfig:
    ca: str = ""
    cert: str = ""
    key: str = ""


@dataclass(frozen=True)
class MqttConfig:
    """The `[mqtt]` section (`MqttSettings` is what the link is then given)."""

    # host:port entries (optionally mqtt:// or mqtts://), tried in order. TLS is on when
    # [mqtt.tls] ca is set; an mqtts:// broker without it is refused at load time.
    brokers: list[str] = setting(
        ["localhost:1883"], item_pattern=r"(mqtts?://)?[A-Za-z0-9.\-\[\]:]+:\d{1,5}"
    )
    protocol: str = setting("5", choices=tuple(PROTOCOLS))
    keepalive: int = setting(30, 5, 1200)
    window: int = setting(10, 1, 100)
    settle_on: str = setting("ack", choices=("ack", "puback"))
    telemetry_period_s: float = setting(60.0, 5.0, 3600.0)
    backoff_initial_s: float = setting(1.0, 0.1, 60.0)
    backoff_max_s: float = setting(60.0, 1.0, 3600.0)
    subscribe_qos: int = setting(1, 0, 1)
    username: str = ""
    password_file: str = ""
    tls: TlsConfig = field(default_factory=TlsConfig)

    def link_settings(self, client_id: str) -> MqttSettings:
        """What the link is given; reads the password file (OSError if it cannot)."""
        tls = None
        if self.tls.ca:
            tls = TlsSettings(self.tls.ca, self.tls.cert or None, self.tls.key or None)
        password = None
        if self.password_file:
            password = Path(self.password_file).read_text(encoding="utf-8").strip()
        return MqttSettings(
            brokers=list(self.brokers),
            client_id=client_id,
            protocol=self.protocol,
            keepalive=self.keepalive,
            tls=tls,
            username=self.username or None,
            password=password,
            window=self.window,
            backoff_initial_s=self.backoff_initial_s,
            backoff_max_s=self.backoff_max_s,
            subscribe_qos=self.subscribe_qos,
        )
