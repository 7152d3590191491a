"""A gate run as the service runs it (`gatekiosk run`, a config file, simulated sensor and
camera, pins from the `simlog` pin factory so the relay's history outlives the process) and the
signed-command traffic that flows through it; shared by the tests of tests/fault."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware import credentials, topics
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer

COMMUNITY, GATE, DEVICE = "fault-garden", "east-in", "gate-fault-1"
MAX_PULSE_S = 2.0


class Traffic(threading.Thread):
    """Signed `open` and `ping` commands, a few a second, whether or not the gate is up."""

    def __init__(self, broker: MosquittoBroker, admin: dict, rng: random.Random) -> None:
        super().__init__(name="fault-traffic", daemon=True)
        self._admin, self._rng = admin, rng
        self.stop_event = threading.Event()
        self.sent = 0
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fault-operator")
        self._client.reconnect_delay_set(min_delay=0.05, max_delay=0.5)  # type: ignore[arg-type]
        self._client.connect_async(broker.host, broker.port, keepalive=10)
        self._client.loop_start()

    def command(self, name: str, **args: object) -> bytes:
        now = int(time.time())
        claims = {"iss": COMMUNITY, "sub": "op-fault", "aud": GATE, "cmd": name,
                  "jti": f"{name}-{time.monotonic_ns()}", "iat": now, "exp": now + 30,
                  "args": args}
        token = credentials.sign_token(claims, self._admin, "gatecmd+jwt")
        return json.dumps({"schema": "gatekiosk/command/v1", "token": token}).encode()

    def publish(self, name: str, payload: bytes) -> None:
        self._client.publish(topics.cmd_topic(COMMUNITY, GATE, name), payload, qos=1)

    def run(self) -> None:
        while not self.stop_event.wait(0.25):
            if self._rng.random() < 0.8:
                seconds = self._rng.choice([0.2, 0.5, 1.0, 60.0])  # 60 s: the cap must hold
                self.publish("open", self.command("open", seconds=seconds, reason="fault"))
            else:
                self.publish("ping", self.command("ping"))
            self.sent += 1

    def close(self) -> None:
        self.stop_event.set()
        if self.is_alive():
            self.join(5)
        self._client.loop_stop()
        self._client.disconnect()


def write_config(tmp: Path, broker: MosquittoBroker, keys: dict) -> Path:
    """The gate's config file in `tmp`; its data directory is `tmp/data`."""
    config = tmp / "gatekiosk.toml"
    config.write_text(f"""
[device]
id = "{DEVICE}"
community = "{COMMUNITY}"
gate = "{GATE}"
data_dir = "{tmp / "data"}"
[thermometer]
bus = "sim"
[camera]
source = "sim"
width = 320
height = 240
[door]
pulse_s = 0.5
max_pulse_s = {MAX_PULSE_S}
[screen]
enabled = false
[voice]
enabled = false
[keys]
issuers = "{keys["issuers_path"]}"
admins = "{keys["admins_path"]}"
[mqtt]
brokers = ["{broker.host}:{broker.port}"]
backoff_initial_s = 0.1
backoff_max_s = 1.0
""")
    return config


def start_gate(config: Path, log: Path, wrapper: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """`gatekiosk run` (under `wrapper`, a command that execs its arguments), stderr to `log`."""
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="simlog", GATEKIOSK_SIM_PIN_LOG=str(pin_log(log)))
    return subprocess.Popen(
        [*wrapper, sys.executable, "-m", "firmware.cli", "run", "--config", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"),
    )


def pin_log(log: Path) -> Path:
    """The pin log of the gates writing to `log` (one file for every life)."""
    return log.with_name("pins.log")


def births(server: CommunityServer) -> int:
    """How many `online` birth records the server has seen."""
    return sum(1 for _gate, state, _retained in server.state_history if state["state"] == "online")


def outbox_head(db: Path) -> tuple[str, int]:
    """(stream, last seq) of the outbox, read-only, with the gate dead."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    finally:
        conn.close()
    return meta["stream"], int(meta["next_seq"]) - 1


def outbox_rows(db: Path) -> dict[int, str]:
    """seq -> event_id of every record in the outbox, read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT seq, event_id FROM outbox").fetchall())
    finally:
        conn.close()
