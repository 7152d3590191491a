"""One simulated gate of a fleet: the real outbox and MQTT link, without camera or sensor.

Events are appended to the outbox as the gate's loop would after a decision (record before
report): schema-valid access decisions, exit-button openings and now and then an alarm, numbered
by the outbox. The link is the firmware's own `MqttLink` with the gate's broker list, so
reconnects, back-off, window and ack settling are exactly the gate's. Its birth record is built
right after each CONNACK, which gives the fleet every gate's connect timestamps for free.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware import __version__, payloads
from firmware.clock import SystemClock
from firmware.core import claims, policy
from firmware.link import MqttLink, MqttSettings
from firmware.store.outbox import Outbox

COMMUNITY = "district-1"
TEMPERATURE_THRESHOLD_C = 37.3


class NoJitter(random.Random):
    """A back-off "random" source that always picks the ceiling: every gate waits the same.

    For the reconnect-storm bench only, to show what the jitter prevents; a gate never runs it.
    """

    def uniform(self, a: float, b: float) -> float:
        return b


class TimedLink(MqttLink):
    """The gate's link, noting when each connection attempt starts (what jitter spreads)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempt_times: list[float] = []

    def _connect(self, host: str, port: int) -> bool:
        self.attempt_times.append(time.time())
        return super()._connect(host, port)


@dataclass(frozen=True)
class GateSpec:
    """How to build one gate of the fleet."""

    index: int
    brokers: tuple[str, ...]
    data_root: str
    community: str = COMMUNITY
    protocol: str = "3.1.1"
    window: int = 10
    keepalive: int = 10
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    ack_timeout_s: float = 5.0
    connect_timeout_s: float = 5.0
    status_list_wait_s: float = 15.0
    subscribe_qos: int = 1
    jitter: bool = True

    @property
    def device_id(self) -> str:
        return f"kiosk-{self.index:05d}"

    @property
    def gate_id(self) -> str:
        return f"gate-{self.index:05d}"


def community_of(index: int, communities: int) -> str:
    """The community of gate `index` when the fleet's gates are dealt over `communities`."""
    if communities <= 1:
        return COMMUNITY
    return f"{COMMUNITY}-{index % communities + 1:03d}"


def gate_brokers(addresses: list[str], index: int) -> tuple[str, ...]:
    """The broker list of gate `index`: every node, starting at a different one per gate, so
    that a fleet spreads over the cluster and each gate knows where to go when its node dies."""
    if not addresses:
        raise ValueError("no broker addresses")
    start = index % len(addresses)
    return tuple(addresses[start:] + addresses[:start])


class FleetGate:
    """A gate's outbox and link; `emit()` commits one record as the gate's loop would."""

    def __init__(self, spec: GateSpec, *, clock: SystemClock | None = None) -> None:
        self.spec = spec
        self.clock = clock or SystemClock(lambda: True)
        self.boot_id = str(uuid.uuid4())
        self.identity = payloads.Identity(device_id=spec.device_id, community_id=spec.community,
                                        gate_id=spec.gate_id, direction="in",
                                        boot_id=self.boot_id)
        data_dir = Path(spec.data_root) / spec.device_id
        self.outbox = Outbox(data_dir / "outbox.db", clock=self.clock, integrity_check=False)
        self.connect_times: list[float] = []
        self.status_lists = 0
        self._lock = threading.Lock()
        settings = MqttSettings(
            brokers=list(spec.brokers), client_id=spec.device_id, protocol=spec.protocol,
            keepalive=spec.keepalive, window=spec.window,
            backoff_initial_s=spec.backoff_initial_s, backoff_max_s=spec.backoff_max_s,
            ack_timeout_s=spec.ack_timeout_s, connect_timeout_s=spec.connect_timeout_s,
            status_list_wait_s=spec.status_list_wait_s, subscribe_qos=spec.subscribe_qos,
        )
        self.link = TimedLink(
            settings, clock=self.clock, community_id=spec.community, gate_id=spec.gate_id,
            device_id=spec.device_id, outbox=self.outbox, state_payload=self._birth,
            will_payload=lambda: self._state("offline"), on_message=self._message,
            rng=random.Random() if spec.jitter else NoJitter(),
        )

    def _state(self, state: str) -> dict[str, Any]:
        return {
            "schema": "gatekiosk/state/v1", "state": state, "device_id": self.spec.device_id,
            "community_id": self.spec.community, "gate_id": self.spec.gate_id,
            "firmware": __version__, "boot_id": self.boot_id,
            "time": payloads.iso_time(self.clock.time()), "clock_synced": True,
            "config_hash": "0" * 64,
        }

    def _birth(self) -> dict[str, Any]:
        with self._lock:
            self.connect_times.append(time.time())
        return self._state("online")

    def _message(self, kind: str, _name: str | None, _payload: bytes, _retained: bool) -> None:
        if kind == "status-list":
            with self._lock:
                self.status_lists += 1

    def emit(self, rng: random.Random) -> dict[str, Any]:
        """Commit one record (mostly access decisions) and return it as stored."""
        now = self.clock.time()
        roll = rng.random()
        if roll < 0.03:
            body = payloads.alarm(self.identity, "door_held_open", now, True,
                                detail={"open_s": 31.0})
            return self.outbox.append("alarm", body)
        if roll < 0.15:
            body = payloads.door_event(self.identity, payloads.KIND_EXIT_REQUEST, now, True,
                                     open_seconds=3.0)
            return self.outbox.append("event", body)
        return self.outbox.append("event", self._access(rng, now))

    def _access(self, rng: random.Random, now: float) -> dict[str, Any]:
        decision = policy.Decision()
        decision.pass_info = claims.PassInfo(
            f"p-{rng.randrange(1 << 24):06x}", "resident", self.spec.community,
            int(now) + 30 * 86400)
        decision.status = "normal"
        body_c = round(rng.uniform(36.0, 37.6), 2)
        if body_c >= TEMPERATURE_THRESHOLD_C:
            decision.add("fever")
        else:
            decision.decision = policy.GRANTED
        temperature = {
            "object_c": round(body_c - 1.6, 2), "ambient_c": 22.0, "body_c": body_c,
            "samples": 8, "remeasured": body_c >= TEMPERATURE_THRESHOLD_C,
            "threshold_c": TEMPERATURE_THRESHOLD_C,
        }
        return payloads.access_event(self.identity, decision, temperature, now, True,
                                   open_seconds=3.0 if decision.granted else None)

    def snapshot(self) -> dict[str, Any]:
        """What the fleet reports about this gate."""
        oldest = self.outbox.oldest_unsettled()
        with self._lock:
            connects = list(self.connect_times)
        status = self.link.status()
        return {
            "device_id": self.spec.device_id, "gate_id": self.spec.gate_id,
            "stream": self.outbox.stream, "last_seq": self.outbox.last_seq(),
            "oldest_unsettled": oldest, "connected": self.link.connected,
            "broker": status["connected_broker"], "last_error": status["last_error"],
            "connect_times": connects, "attempt_times": list(self.link.attempt_times),
            "status_lists": self.status_lists,
        }

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop(timeout_s=3.0)
        self.outbox.close()
