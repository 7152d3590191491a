"""Hostile messages from the network on a real Mosquitto, through the real link and gate:
a forged ack, an ack past 64 bits, a retained command published while the gate is online."""

from __future__ import annotations

import json

import pytest

from firmware import topics
from host_sim import schemas
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer, ack_payload
from host_sim.publisher import publish

from .test_gate_over_mqtt import COMMUNITY, DEVICE, GATE, World, wait_for

pytestmark = pytest.mark.broker

# Everything is allowed but the gate's events: the broker refuses them (MQTT 5: 0x87).
HOLD_EVENTS_ACL = "topic readwrite #\ntopic deny community/+/gate/+/event\n"


class HeldWorld(World):
    """A broker that refuses the gate's events, and a server that does not ack."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        acl = tmp_path / "acl"
        acl.write_text(HOLD_EVENTS_ACL)
        from host_sim.rig import write_keys

        self.keys = write_keys(tmp_path / "keys")
        self.broker = MosquittoBroker(tmp_path / "broker", extra_config=f"acl_file {acl}").start()
        self.server = CommunityServer(
            self.broker.host, self.broker.port, COMMUNITY, validate=schemas.validate, acking=False
        ).start()
        self.rigs, self.links, self.statuses = [], [], [0] * 32


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


@pytest.fixture
def held(tmp_path):
    w = HeldWorld(tmp_path)
    yield w
    w.close()


def exit_presses(rig, n):
    for _ in range(n):
        rig.sim_door.press_exit_button()
        rig.run_for(0.1, dt=0.05, read_camera=False)


def test_a_forged_ack_past_what_was_sent_prunes_nothing_unsent_and_raises_ack_refused(held):
    rig, _link = held.start_gate()
    exit_presses(rig, 5)
    events = [r.seq for r in rig.outbox.pending(100) if r.kind == "event"]
    assert len(events) == 5
    # Let the broker's refusals (0x87) come back first: only then is "not sent" known.
    assert wait_for(lambda: "refused seq" in str(rig.link.status()["last_error"]), rig=rig)
    rig.run_for(0.5, dt=0.05, read_camera=False)
    forged = json.dumps(ack_payload(rig.outbox.stream, 10**9)).encode()
    publish(held.broker.host, held.broker.port, topics.ack_topic(COMMUNITY, GATE), forged)

    def ack_refused_at_server():
        return [r for r in held.server.records(DEVICE, rig.outbox.stream)
                if r.payload.get("alarm") == "ack_refused"]

    assert wait_for(lambda: bool(ack_refused_at_server()), rig=rig), "no ack_refused alarm"
    detail = ack_refused_at_server()[0].payload["detail"]
    assert detail["through_seq"] == 10**9 and detail["sent_through"] < min(events)
    rig.outbox.prune()
    unsettled = {r.seq for r in rig.outbox.pending(100)}
    assert set(events) <= unsettled, "an event the broker refused was settled by a forged ack"
    assert all(r.kind != "event" for r in held.server.records(DEVICE, rig.outbox.stream))


def test_an_ack_past_64_bits_published_retained_is_ignored_and_delivery_goes_on(world):
    rig, _link = world.start_gate()
    exit_presses(rig, 2)
    stream = rig.outbox.stream
    before = rig.outbox.last_seq()
    assert before >= 1
    assert wait_for(lambda: world.server.through(DEVICE, stream) == before, rig=rig)
    huge = json.dumps({"schema": "gatekiosk/ack/v1", "stream": stream, "through_seq": 2**63})
    publish(world.broker.host, world.broker.port, topics.ack_topic(COMMUNITY, GATE), huge,
            retain=True)
    exit_presses(rig, 3)
    after = rig.outbox.last_seq()
    assert after > before
    assert wait_for(lambda: world.server.through(DEVICE, stream) == after, rig=rig)
    assert wait_for(lambda: rig.outbox.unsettled() == 0, rig=rig), "delivery stopped"
    assert world.server.gaps(DEVICE, stream) == []
    # Clear the retained ack so the broker's store ends clean.
    publish(world.broker.host, world.broker.port, topics.ack_topic(COMMUNITY, GATE), b"",
            retain=True)


def test_a_retained_open_published_while_online_is_refused_under_mqtt_5(world):
    rig, _link = world.start_gate("5")
    world.send("open", world.command("open"), retain=True)
    result = world.result_for(0, rig)
    assert (result["ok"], result["reason"]) == (False, "retained")
    rig.run_for(0.3, dt=0.05, read_camera=False)
    assert not rig.sim_door.relay_energised
    assert world.server.record_count() == 0


def test_a_retained_open_is_refused_at_every_later_connect_under_mqtt_3_1_1(world):
    rig, link = world.start_gate("3.1.1")
    world.send("open", world.command("open"), retain=True)
    # 3.1.1 clears the flag on live delivery: indistinguishable from a normal command.
    first = world.result_for(0, rig)
    world.stop_gate(rig, link)
    rig, _link = world.start_gate("3.1.1")
    again = world.result_for(1, rig)
    assert (again["ok"], again["reason"]) == (False, "retained")
    rig.run_for(0.3, dt=0.05, read_camera=False)
    assert not rig.sim_door.relay_energised
    assert first["ok"] is True, "live, 3.1.1 cannot tell it from a normal command"
