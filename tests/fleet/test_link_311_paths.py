"""The MQTT 3.1.1 paths a NATS cluster exercises that Mosquitto under MQTT 5 did not.

No PUBACK reason codes (a message nobody was subscribed to is PUBACKed like any other and lost:
only the server's ack settles), a SUBACK that refuses a subscription (asked for again), a
retained status list that does not come with the SUBACK (asked for again).
"""

from __future__ import annotations

import random

import pytest

from firmware import payloads
from firmware.clock import SystemClock
from firmware.link import MqttLink, MqttSettings
from firmware.store.outbox import Outbox
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer
from host_sim.fleet.gate import FleetGate, GateSpec
from host_sim.nats_cluster import NatsCluster

pytestmark = pytest.mark.cluster

COMMUNITY, GATE, DEVICE = "test-community", "gate-1", "kiosk-1"
IDENTITY = payloads.Identity(device_id=DEVICE, community_id=COMMUNITY, gate_id=GATE,
                           direction="in", boot_id="6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b")
# The gate's user may not subscribe to acks; the server (no credentials) may do anything.
USERS = """
no_auth_user: "server"
authorization {{ users = [
  {{user: "server", password: "s"}},
  {{user: "gate", password: "g",
    permissions: {{publish: ">", subscribe: {{allow: ">", deny: [{deny}]}}}}}}
] }}
"""


def _state(state: str) -> dict:
    return {"schema": "gatekiosk/state/v1", "state": state, "device_id": DEVICE,
            "community_id": COMMUNITY, "gate_id": GATE, "firmware": "0.1.0",
            "boot_id": IDENTITY.boot_id, "time": "2026-12-03T00:00:00.000Z",
            "clock_synced": True, "config_hash": "ab" * 32}


def _link(address: str, outbox: Outbox, clock: SystemClock, **settings) -> MqttLink:
    return MqttLink(
        MqttSettings(brokers=[address], client_id=DEVICE, protocol="3.1.1",
                     backoff_initial_s=0.2, backoff_max_s=1.0, ack_timeout_s=2.0, **settings),
        clock=clock, community_id=COMMUNITY, gate_id=GATE, device_id=DEVICE, outbox=outbox,
        state_payload=lambda: _state("online"), will_payload=lambda: _state("offline"),
        on_message=lambda *_: None)


def _append(outbox: Outbox, clock: SystemClock, count: int) -> None:
    for _ in range(count):
        outbox.append("event", payloads.door_event(IDENTITY, payloads.KIND_EXIT_REQUEST,
                                                 clock.time(), True, open_seconds=3.0))


@pytest.fixture
def node(tmp_path):
    single = NatsCluster(1, tmp_path / "nats", stream_replicas=1,
                         extra_config=USERS.format(deny='"community.*.gate.*.ack"'))
    try:
        yield single.start()
    finally:
        single.close()


def test_a_refused_ack_subscription_is_asked_for_again_and_then_everything_settles(
        node, tmp_path, kit):
    clock = SystemClock(lambda: True)
    host, port = node.nodes[0].host, node.nodes[0].mqtt_port
    server = CommunityServer(host, port, COMMUNITY, protocol="3.1.1").start()
    outbox = Outbox(tmp_path / "outbox.db", clock=clock)
    link = _link(node.mqtt_addresses[0], outbox, clock, username="gate", password="g")
    link.start()
    try:
        _append(outbox, clock, 5)
        assert kit.wait_for(lambda: server.through(DEVICE, outbox.stream) == 5, 20.0)
        assert kit.wait_for(
            lambda: "subscription refused" in (link.status()["last_error"] or ""), 5.0)
        assert not kit.wait_for(lambda: outbox.unsettled() == 0, 1.5)  # no ack reaches it
        node.extra_config = USERS.format(deny='"nothing.at.all"')
        node.reload(0)
        # Asked for again on the same connection, or (after 4 refusals) on a fresh one.
        assert kit.wait_for(lambda: outbox.unsettled() == 0, 20.0)
    finally:
        link.stop()
        server.stop()
        outbox.close()


def test_a_message_nobody_subscribed_to_is_pubacked_but_stays_unsettled_until_the_server_acks(
        cluster, tmp_path, kit):
    clock = SystemClock(lambda: True)
    outbox = Outbox(tmp_path / "outbox.db", clock=clock)
    link = _link(cluster.mqtt_addresses[0], outbox, clock)
    link.start()
    server = None
    try:
        _append(outbox, clock, 3)
        # MQTT 3.1.1 has no "no matching subscribers": the PUBACK looks like any other.
        assert kit.wait_for(lambda: all(r.published for r in outbox.pending(10)), 20.0)
        assert outbox.unsettled() == 3
        server = CommunityServer(cluster.nodes[1].host, cluster.nodes[1].mqtt_port, COMMUNITY,
                                 protocol="3.1.1").start()
        assert kit.wait_for(lambda: outbox.unsettled() == 0, 30.0)
        assert server.gaps(DEVICE, outbox.stream) == []
        assert server.through(DEVICE, outbox.stream) == 3
    finally:
        link.stop()
        if server is not None:
            server.stop()
        outbox.close()


def test_a_gate_that_heard_no_status_list_asks_for_it_again_until_it_comes(tmp_path, kit):
    with MosquittoBroker(tmp_path / "broker", extra_config="log_type subscribe") as broker:
        gate = FleetGate(GateSpec(index=1, brokers=(broker.address,), data_root=str(tmp_path),
                                  community=COMMUNITY, backoff_initial_s=0.2,
                                  backoff_max_s=0.6, status_list_wait_s=0.3))

        def asked() -> int:
            return sum(1 for line in broker.log_text().splitlines()
                       if gate.spec.device_id in line and line.endswith("/status-list"))

        gate.start()
        try:
            assert kit.wait_for(lambda: asked() >= 3, 5.0), broker.log_text()[-500:]
            kit.publish_311(broker.address, f"community/{COMMUNITY}/status-list",
                            "header.claims.signature", retain=True)
            assert kit.wait_for(lambda: gate.status_lists >= 1, 5.0)
            settled = asked()
            assert not kit.wait_for(lambda: asked() > settled + 1, 1.5)
        finally:
            gate.stop()


def test_the_fleet_gate_events_are_schema_valid(tmp_path):
    from host_sim.schemas import validate

    gate = FleetGate(GateSpec(index=3, brokers=("127.0.0.1:1",), data_root=str(tmp_path)))
    rng = random.Random(5)
    try:
        records = [gate.emit(rng) for _ in range(200)]
    finally:
        gate.outbox.close()
    assert [r["seq"] for r in records] == list(range(1, 201))
    assert {r["schema"] for r in records} == {"gatekiosk/event/v1", "gatekiosk/alarm/v1"}
    assert [e for r in records for e in validate(r)] == []
