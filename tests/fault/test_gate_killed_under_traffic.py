"""`gatekiosk run` SIGKILLed at random moments while commands and events flow, the broker
SIGKILLed and restarted now and then; nothing committed is lost.

The gate runs as the service does (a process, a config file, simulated sensor and camera,
gpiozero mock pins) against a real Mosquitto and the community-server stand-in. A traffic
thread publishes signed `open` commands (each one a `remote_open` event committed before the
door moves) and `ping`s. Each cycle starts the gate, kills it after a random delay (some land
during start-up, some mid-traffic), and checks that the outbox kept its stream and never went
backwards. At the end a last gate drains everything, and: every record in the outbox is at the
server, seq has no gap, duplicates are byte-identical repeats, no remote opening was longer
than `door.max_pulse_s`, the last gate answers a ping (its loop is alive), and no log holds a
traceback. (The relay's pin history lives in each killed process and dies with it; the door
timing from pin history is proven in tests/hw and tests/gate.)

Short profile (`make test`): 50 kills, 5 broker restarts. `make soak`: GATEKIOSK_FAULT_KILLS,
GATEKIOSK_FAULT_BROKER_RESTARTS (1,000 and 100).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware import credentials, topics
from host_sim import schemas
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer
from host_sim.rig import write_keys

from .soak_report import profile_int, record

pytestmark = pytest.mark.broker

COMMUNITY, GATE, DEVICE = "fault-garden", "east-in", "gate-fault-1"
MAX_PULSE_S = 2.0
KILLS = profile_int("GATEKIOSK_FAULT_KILLS", 50)
BROKER_RESTARTS = profile_int("GATEKIOSK_FAULT_BROKER_RESTARTS", 5)
SEED = int(os.environ.get("GATEKIOSK_FAULT_SEED", "20261203"))


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


def start_gate(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock")
    return subprocess.Popen(
        [sys.executable, "-m", "firmware.cli", "run", "--config", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"),
    )


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


# A kill cycle costs ~2.2 s on a loaded 2-core host; the drain at the end up to 4 minutes.
@pytest.mark.timeout(300 + 10 * KILLS)
def test_the_gate_killed_at_random_under_traffic_loses_nothing(tmp_path):
    rng = random.Random(SEED)
    keys = write_keys(tmp_path / "keys")
    started = time.monotonic()
    log = tmp_path / "run.log"
    with MosquittoBroker(tmp_path / "broker") as broker:
        server = CommunityServer(broker.host, broker.port, COMMUNITY,
                                 validate=schemas.validate).start()
        config = write_config(tmp_path, broker, keys)
        traffic = Traffic(broker, keys["admin"], rng)
        traffic.start()
        db = tmp_path / "data" / "outbox.db"
        stream, last = None, 0
        restart_every = max(1, KILLS // max(1, BROKER_RESTARTS)) if BROKER_RESTARTS else 0
        broker_restarts = kills_online = 0
        try:
            for cycle in range(KILLS):
                online_before = births(server)
                gate = start_gate(config, log)
                try:
                    time.sleep(rng.uniform(0.3, 4.0))
                finally:
                    gate.kill()
                    gate.wait(10)
                if births(server) > online_before:
                    kills_online += 1
                if db.exists():
                    now_stream, now_last = outbox_head(db)
                    assert stream in (None, now_stream), "the outbox was replaced"
                    assert now_last >= last, "the outbox went backwards"
                    stream, last = now_stream, now_last
                if restart_every and cycle % restart_every == restart_every - 1:
                    broker.kill()
                    broker.restart()
                    broker_restarts += 1
            traffic.close()
            final = start_gate(config, log)
            try:
                assert server.wait_until(lambda: server.states.get(GATE, {}).get("state")
                                         == "online", 120), log.read_text()[-2000:]
                stream, last = outbox_head(db)
                assert server.wait_until(lambda: server.through(DEVICE, stream) >= last, 120), (
                    f"server through {server.through(DEVICE, stream)} of {last}")
                pings_before = len(server.cmd_results)
                traffic_last = Traffic(broker, keys["admin"], rng)
                traffic_last.publish("ping", traffic_last.command("ping"))
                assert server.wait_until(
                    lambda: any(r["cmd"] == "ping" and r["ok"]
                                for r in server.cmd_results[pings_before:]), 60), "loop dead"
                traffic_last.close()
                assert server.wait_until(
                    lambda: server.through(DEVICE, stream) >= outbox_head(db)[1], 60)
                final.terminate()
                assert final.wait(30) == 0
                stream, last = outbox_head(db)
            finally:
                final.kill()
                final.wait(10)
        finally:
            traffic.close()
            server.stop()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = dict(conn.execute("SELECT seq, event_id FROM outbox").fetchall())
    conn.close()
    assert sorted(rows) == list(range(1, last + 1)), "a committed record went missing locally"
    held = {r.seq: r for r in server.records(DEVICE, stream)}
    assert sorted(held) == list(range(1, last + 1)), server.gaps(DEVICE, stream)
    assert all(held[seq].event_id == event_id for seq, event_id in rows.items())
    assert server.conflicts == [], "a duplicate differed from its first copy"
    assert server.problems == []
    openings = [r.payload for r in held.values() if r.payload.get("kind") == "remote_open"]
    assert openings, "no traffic reached the outbox"
    assert all(o["door"]["open_seconds"] <= MAX_PULSE_S for o in openings)
    assert all(r["result"]["open_seconds"] <= MAX_PULSE_S
               for r in server.cmd_results if r["cmd"] == "open" and r["ok"])
    assert "Traceback" not in log.read_text()
    record("gate_kills", {
        "kills": KILLS, "kills_after_online": kills_online, "broker_restarts": broker_restarts,
        "records": last, "remote_openings": len(openings), "duplicates": server.duplicates,
        "commands_sent": traffic.sent, "seconds": round(time.monotonic() - started, 1),
    })
