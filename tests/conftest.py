"""Suite-wide set-up: simulated GPIO everywhere, no test ever touches real hardware.

The delivery fixtures below serve every folder that talks to a real Mosquitto: `mosquitto` is a
fresh broker per test started on a free loopback port (persistence on, default autosave, so a
SIGKILL loses what it had not saved); `community_server` takes everything the gate sends and
validates every payload against mqtt_schema/; `make_outbox` and `make_link` build the gate's side
with short back-offs so that tests stay fast.
"""

from __future__ import annotations

import os

# gpiozero picks its pin factory from this variable on first use: only MockFactory pins here.
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")

import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from firmware import __version__, payloads
from firmware.clock import Clock, SystemClock
from firmware.link import MqttLink, MqttSettings
from firmware.store.outbox import Outbox
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer
from host_sim.schemas import validate

COMMUNITY = "test-community"
GATE = "gate-1"
DEVICE = "kiosk-1"
BOOT_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
IDENTITY = payloads.Identity(device_id=DEVICE, community_id=COMMUNITY, gate_id=GATE,
                           direction="in", boot_id=BOOT_ID)
DELIVERY_TIMEOUT_S = 30.0


def wait_for(predicate: Callable[[], bool], timeout_s: float = DELIVERY_TIMEOUT_S,
             interval_s: float = 0.01) -> bool:
    """Poll `predicate` until it holds or `timeout_s` passes (a bounded wait on a condition)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True


def state_record(state: str, clock: Clock) -> dict[str, Any]:
    """The gate's birth (`online`) or last-will (`offline`) record."""
    return {
        "schema": "gatekiosk/state/v1",
        "state": state,
        "device_id": DEVICE,
        "community_id": COMMUNITY,
        "gate_id": GATE,
        "firmware": __version__,
        "boot_id": BOOT_ID,
        "time": payloads.iso_time(clock.time()),
        "clock_synced": clock.synced(),
        "config_hash": "ab" * 32,
    }


def exit_event(clock: Clock) -> dict[str, Any]:
    """A schema-valid event body (the outbox adds event_id, stream and seq)."""
    return payloads.door_event(IDENTITY, payloads.KIND_EXIT_REQUEST, clock.time(), clock.synced(),
                             open_seconds=5.0)


def held_open_alarm(clock: Clock) -> dict[str, Any]:
    """A schema-valid alarm body, numbered in the same stream as the payloads."""
    return payloads.alarm(IDENTITY, "door_held_open", clock.time(), clock.synced(),
                        detail={"open_s": 31.0})


def append_records(outbox: Outbox, count: int, clock: Clock, alarm_every: int = 5) -> list[int]:
    """Append `count` records (every `alarm_every`-th an alarm); returns their seqs."""
    seqs = []
    for n in range(1, count + 1):
        if alarm_every and n % alarm_every == 0:
            record = outbox.append("alarm", held_open_alarm(clock))
        else:
            record = outbox.append("event", exit_event(clock))
        seqs.append(record["seq"])
    return seqs


class Received:
    """What the link handed the app (kind, name, payload, retained), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[tuple[str, str | None, bytes, bool]] = []

    def __call__(self, kind: str, name: str | None, payload: bytes, retained: bool) -> None:
        with self._lock:
            self.messages.append((kind, name, payload, retained))

    def of_kind(self, kind: str) -> list[tuple[str, str | None, bytes, bool]]:
        with self._lock:
            return [m for m in self.messages if m[0] == kind]


@pytest.fixture
def kit() -> SimpleNamespace:
    """The ids and helpers of this folder (test modules cannot import conftest)."""
    return SimpleNamespace(
        COMMUNITY=COMMUNITY, GATE=GATE, DEVICE=DEVICE, BOOT_ID=BOOT_ID,
        DELIVERY_TIMEOUT_S=DELIVERY_TIMEOUT_S, wait_for=wait_for, state_record=state_record,
        exit_event=exit_event, held_open_alarm=held_open_alarm, append_records=append_records,
    )


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A real broker on a free loopback port, persistence on, default autosave (1800 s)."""
    broker = MosquittoBroker(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def community_server(mosquitto: MosquittoBroker) -> Iterator[CommunityServer]:
    """The server stand-in, acking, validating every payload against mqtt_schema/."""
    server = CommunityServer(mosquitto.host, mosquitto.port, COMMUNITY, validate=validate)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_outbox(tmp_path: Path) -> Iterator[Callable[..., Outbox]]:
    """Outbox factory on tmp_path (real clock unless one is given); all closed afterwards."""
    made: list[Outbox] = []

    def factory(name: str = "outbox.db", **kwargs: Any) -> Outbox:
        kwargs.setdefault("clock", SystemClock())
        outbox = Outbox(tmp_path / name, **kwargs)
        made.append(outbox)
        return outbox

    yield factory
    for outbox in made:
        outbox.close()


@pytest.fixture
def make_link() -> Iterator[Callable[..., tuple[MqttLink, Received]]]:
    """MqttLink factory with short back-offs; started; stopped afterwards."""
    made: list[MqttLink] = []

    def factory(brokers: list[str], outbox: Outbox, *, clock: Clock | None = None,
                start: bool = True, rng: random.Random | None = None,
                **settings: Any) -> tuple[MqttLink, Received]:
        clock = clock or SystemClock()
        defaults: dict[str, Any] = {
            "keepalive": 5, "backoff_initial_s": 0.05, "backoff_max_s": 0.5,
            "ack_timeout_s": 30.0, "connect_timeout_s": 5.0,
        }
        defaults.update(settings)
        received = Received()
        link = MqttLink(
            MqttSettings(brokers=brokers, client_id=DEVICE, **defaults),
            clock=clock, community_id=COMMUNITY, gate_id=GATE, device_id=DEVICE,
            outbox=outbox,
            state_payload=lambda: state_record("online", clock),
            will_payload=lambda: state_record("offline", clock),
            on_message=received, rng=rng or random.Random(7),
        )
        made.append(link)
        if start:
            link.start()
        return link, received

    yield factory
    for link in made:
        link.stop()
