"""The whole gate over a real Mosquitto: commands, the retained status list, delivery.

A fresh broker on a free loopback port per test, the community-server stand-in validating
every payload against mqtt_schema/, and the firmware's gate on simulated hardware.
"""

from __future__ import annotations

import json
import time

import pytest

from firmware import config, credentials
from firmware.clock import SystemClock
from firmware.core import status_list as sl
from host_sim import schemas
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer
from host_sim.publisher import publish_status_list, send_command
from host_sim.rig import SimRig, write_keys

pytestmark = pytest.mark.broker

COMMUNITY = "e2e-garden"
GATE = "west-in"
DEVICE = "gate-e2e"
URI = "https://e2e-garden.example/sl/1"
TIMEOUT = 20.0


def wait_for(predicate, timeout=TIMEOUT, rig=None):
    """Poll a condition (stepping the gate, if given) until it holds or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rig is not None:
            rig.step(0.02, read_camera=False)
        else:
            time.sleep(0.02)
        if predicate():
            return True
    return False


class World:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.keys = write_keys(tmp_path / "keys")
        self.broker = MosquittoBroker(tmp_path / "broker").start()
        self.server = CommunityServer(
            self.broker.host, self.broker.port, COMMUNITY, validate=schemas.validate
        ).start()
        self.rigs: list[SimRig] = []
        self.links = []
        self.statuses = [0] * 32

    def config(self, protocol="5"):
        return config.parse(
            f"""
[device]
id = "{DEVICE}"
community = "{COMMUNITY}"
gate = "{GATE}"
[mqtt]
protocol = "{protocol}"
brokers = ["{self.broker.host}:{self.broker.port}"]
backoff_initial_s = 0.2
backoff_max_s = 1.0
[door]
pulse_s = 0.5
"""
        )

    def start_gate(self, protocol="5"):
        cfg = self.config(protocol)
        clock = SystemClock(lambda: True)
        rig = SimRig(cfg, self.tmp / "gate", clock=clock, keys=self.keys, with_link=True)
        link = rig.link
        assert link is not None
        link.start()
        self.rigs.append(rig)
        self.links.append(link)
        assert wait_for(lambda: link.connected, rig=rig), "gate never connected"
        return rig, link

    def stop_gate(self, rig, link):
        link.stop()
        rig.close()
        self.rigs.remove(rig)
        self.links.remove(link)

    def status_list(self, iat=None, key=None):
        iat = int(time.time()) if iat is None else iat
        claims = {
            "sub": URI,
            "iat": iat,
            "exp": iat + 86400,
            "status_list": {"bits": 2, "lst": sl.encode_lst(self.statuses)},
        }
        return credentials.sign_token(claims, key or self.keys["issuer"], "statuslist+jwt")

    def pass_token(self, idx=3):
        now = int(time.time())
        claims = credentials.pass_claims(COMMUNITY, f"r-{idx}", "resident", issued_at=now - 60,
                                         expires=now + 86400, status_idx=idx, status_uri=URI)
        return credentials.sign_token(claims, self.keys["issuer"], "gatepass+jwt")

    def command(self, name, *, key=None, jti=None, exp_in=30, **claims):
        now = int(time.time())
        body = {
            "iss": COMMUNITY,
            "sub": "op-duty",
            "aud": GATE,
            "cmd": name,
            "jti": jti or f"{name}-{time.monotonic_ns()}",
            "iat": now,
            "exp": now + exp_in,
        }
        body.update(claims)
        token = credentials.sign_token(body, key or self.keys["admin"], "gatecmd+jwt")
        return json.dumps({"schema": "gatekiosk/command/v1", "token": token}).encode()

    def send(self, name, payload, retain=False):
        send_command(
            self.broker.host, self.broker.port, COMMUNITY, GATE, name, payload, retain=retain
        )

    def result_for(self, jti_or_count, rig):
        """Wait for the next cmd-result after `count` results were already in."""
        count = jti_or_count
        assert wait_for(lambda: len(self.server.cmd_results) > count, rig=rig), "no cmd-result"
        return self.server.cmd_results[count]

    def close(self):
        for rig, link in zip(list(self.rigs), list(self.links), strict=True):
            self.stop_gate(rig, link)
        self.server.stop()
        self.broker.close()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def test_a_signed_open_command_opens_the_door_and_is_recorded(world):
    rig, _link = world.start_gate()
    world.send("open", world.command("open", args={"reason": "delivery at the gate"}))
    result = world.result_for(0, rig)
    assert result["ok"] is True, result
    assert result["cmd"] == "open"
    assert rig.sim_door.relay_energised or rig.sim_door.is_open
    assert wait_for(lambda: world.server.record_count() >= 1, rig=rig)
    [record] = world.server.records(DEVICE, rig.outbox.stream)
    assert record.payload["kind"] == "remote_open"
    assert record.payload["operator"] == "op-duty"
    assert record.payload["note"] == "delivery at the gate"
    assert world.server.problems == []


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda w: w.command("open", exp_in=-5, iat=int(time.time()) - 60), "expired"),
        (lambda w: w.command("open", exp_in=600), "exp_too_far"),
        (lambda w: w.command("open", key=credentials.generate_keypair("adm1")), "bad_signature"),
        (lambda w: w.command("open", key=credentials.generate_keypair("rogue")), "unknown_key"),
        (lambda w: w.command("open", aud="other-gate"), "wrong_gate"),
        (lambda w: w.command("open", cmd="ping"), "unknown_command"),
        (lambda w: b'{"schema":"gatekiosk/command/v1"}', "malformed"),
        (lambda w: b"\xff\xfe not json", "malformed"),
    ],
)
def test_bad_commands_are_refused_with_a_reason_and_never_open(world, make, reason):
    rig, _link = world.start_gate()
    world.send("open", make(world))
    result = world.result_for(0, rig)
    assert result["ok"] is False
    assert result["reason"] == reason
    assert schemas.validate(result) == []
    rig.run_for(0.3, dt=0.05, read_camera=False)
    assert not rig.sim_door.relay_energised
    assert world.server.record_count() == 0


def test_an_unsigned_command_is_refused(world):
    rig, _link = world.start_gate()
    signed = json.loads(world.command("open"))["token"]
    _header, claims, _sig = signed.split(".")
    from firmware.core import b64

    none_header = b64.encode(
        json.dumps({"alg": "none", "typ": "gatecmd+jwt", "kid": "adm1"}).encode()
    )
    world.send("open", json.dumps({"token": f"{none_header}.{claims}."}).encode())
    result = world.result_for(0, rig)
    assert result["ok"] is False
    assert result["reason"] in ("malformed", "unsupported_algorithm")
    assert not rig.sim_door.relay_energised


def test_a_replayed_command_is_refused_even_after_a_restart(world):
    rig, link = world.start_gate()
    payload = world.command("ping", jti="only-once")
    world.send("ping", payload)
    assert world.result_for(0, rig)["ok"] is True
    world.stop_gate(rig, link)
    rig, _link = world.start_gate()
    world.send("ping", payload)
    result = world.result_for(1, rig)
    assert (result["ok"], result["reason"]) == (False, "replayed")


def test_a_retained_command_is_not_even_delivered_under_mqtt_5(world):
    world.send("open", world.command("open"), retain=True)
    rig, _link = world.start_gate("5")
    # Retain Handling 2 on the command subscription: the broker keeps it to itself.
    assert not wait_for(lambda: world.server.cmd_results, timeout=1.5, rig=rig)
    assert not rig.sim_door.relay_energised
    assert world.server.record_count() == 0


def test_a_retained_command_is_refused_under_mqtt_3_1_1(world):
    world.send("open", world.command("open"), retain=True)
    rig, _link = world.start_gate("3.1.1")
    result = world.result_for(0, rig)
    assert (result["ok"], result["reason"]) == (False, "retained")
    rig.run_for(0.3, dt=0.05, read_camera=False)
    assert not rig.sim_door.relay_energised
    assert world.server.record_count() == 0


def test_ping_answers_with_the_gate_s_health(world):
    rig, _link = world.start_gate()
    world.send("ping", world.command("ping"))
    result = world.result_for(0, rig)
    assert result["ok"] is True
    assert result["result"]["outbox_unsettled"] == 0
    assert "uptime_s" in result["result"]


def test_the_status_list_arrives_retained_survives_a_restart_and_a_worse_one_is_ignored(world):
    world.statuses[3] = 2  # home observation
    first = int(time.time()) - 100
    publish_status_list(
        world.broker.host, world.broker.port, COMMUNITY, world.status_list(iat=first)
    )
    rig, link = world.start_gate()
    assert wait_for(lambda: rig.gate.status.status_list is not None, rig=rig)
    assert rig.gate.status.status_list.iat == first

    # An older list, and a forged one, change nothing.
    world.statuses[3] = 0
    for token in (
        world.status_list(iat=first - 50),
        world.status_list(iat=first + 50, key=credentials.generate_keypair("iss1")),
    ):
        publish_status_list(world.broker.host, world.broker.port, COMMUNITY, token)
    rig.run_for(0.5, dt=0.05, read_camera=False)
    assert rig.gate.status.status_list.iat == first

    # Offline restart: the list comes from disk, and the resident in home observation is refused.
    world.stop_gate(rig, link)
    world.broker.stop()
    cfg = world.config()
    offline = SimRig(cfg, world.tmp / "gate", clock=SystemClock(lambda: True), keys=world.keys)
    try:
        assert offline.gate.status.status_list is not None
        assert offline.gate.status.status_list.iat == first
        offline.present(world.pass_token(3))
        assert wait_for(lambda: offline.gate.decisions == 1, rig=_Stepper(offline))
        [row] = offline.outbox.pending(10)
        assert json.loads(row.payload)["reasons"] == ["home_observation"]
    finally:
        offline.close()


class _Stepper:
    """Steps a rig with its camera (wait_for steps without it by default)."""

    def __init__(self, rig):
        self.rig = rig

    def step(self, seconds, read_camera=False):
        self.rig.step(seconds, read_camera=True)


def test_events_reach_the_server_in_order_with_contiguous_seq_and_valid_schemas(world):
    rig, _link = world.start_gate()
    for _ in range(5):
        rig.sim_door.press_exit_button(hold_s=0.05)
        rig.run_for(0.8, dt=0.05, read_camera=False)
    rig.run_for(2.5, dt=0.05, read_camera=False)  # past the grace after the last opening
    rig.sim_door.force_open()
    rig.run_for(0.3, dt=0.05, read_camera=False)
    last = rig.outbox.last_seq()
    assert last >= 6
    assert wait_for(lambda: world.server.through(DEVICE, rig.outbox.stream) == last, rig=rig)
    assert world.server.gaps(DEVICE, rig.outbox.stream) == []
    kinds = [
        r.payload.get("kind", r.payload.get("alarm"))
        for r in world.server.records(DEVICE, rig.outbox.stream)
    ]
    assert kinds.count("exit_request") == 5
    assert "door_forced" in kinds
    assert world.server.problems == []
    # The server acked everything: the outbox has nothing left to send.
    assert wait_for(lambda: rig.outbox.unsettled() == 0, rig=rig)


def test_birth_record_is_retained_online_and_a_clean_stop_leaves_offline(world):
    rig, link = world.start_gate()
    assert wait_for(lambda: world.server.states.get(GATE, {}).get("state") == "online", rig=rig)
    online = world.server.states[GATE]
    assert online["config_hash"] == rig.cfg.source_hash
    world.stop_gate(rig, link)
    assert wait_for(lambda: world.server.states.get(GATE, {}).get("state") == "offline")
