"""Outbox -> MqttLink -> Mosquitto -> community server, on a healthy network."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from firmware import topics
from firmware.clock import SystemClock
from host_sim.broker import MosquittoBroker, free_port
from host_sim.community_server import CommunityServer, ack_payload
from host_sim.schemas import validate

pytestmark = pytest.mark.broker


def _publisher(broker: MosquittoBroker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-operator",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def _all_delivered(server, outbox, kit, count):
    return kit.wait_for(lambda: server.through(kit.DEVICE, outbox.stream) == count
                        and outbox.unsettled() == 0)


def test_events_arrive_in_order_with_contiguous_seq_and_valid_payloads(
        mosquitto, community_server, make_outbox, make_link, kit):
    clock = SystemClock()
    outbox = make_outbox()
    link, _ = make_link([mosquitto.address], outbox)
    assert kit.wait_for(lambda: link.connected, 10)
    seqs = kit.append_records(outbox, 200, clock)
    assert _all_delivered(community_server, outbox, kit, 200)
    records = community_server.records(kit.DEVICE, outbox.stream)
    assert [r.seq for r in records] == seqs == list(range(1, 201))
    assert [r.arrival for r in records] == list(range(1, 201))  # first copies came in seq order
    assert {r.kind for r in records} == {"event", "alarm"}
    assert community_server.gaps(kit.DEVICE, outbox.stream) == []
    assert community_server.duplicates == 0
    assert community_server.problems == [] and community_server.conflicts == []
    assert link.status()["in_flight"] == 0 and link.status()["reconnects"] == 0


def test_server_ack_payload_matches_the_schema():
    assert validate(ack_payload("0123456789abcdef0123456789abcdef", 42)) == []


def test_broker_down_at_start_events_wait_in_the_outbox(tmp_path, make_outbox, make_link, kit):
    clock = SystemClock()
    broker = MosquittoBroker(tmp_path / "broker", port=free_port())
    outbox = make_outbox()
    # The gate may reach the new broker before the server has subscribed: what it sends then
    # is PUBACKed "no matching subscribers", and sent again until the server is there.
    link, _ = make_link([broker.address], outbox)
    kit.append_records(outbox, 20, clock)
    assert kit.wait_for(lambda: link.status()["connect_attempts"] >= 2, 10)
    assert not link.connected and outbox.unsettled() == 20
    assert "refused" in link.status()["last_error"].lower()
    with broker:
        server = CommunityServer(broker.host, broker.port, kit.COMMUNITY, validate=validate)
        with server:
            assert _all_delivered(server, outbox, kit, 20)
            assert server.gaps(kit.DEVICE, outbox.stream) == [] and server.problems == []


def test_a_broker_that_cannot_be_reached_is_skipped_for_the_next_in_the_list(
        mosquitto, community_server, make_outbox, make_link, kit):
    outbox = make_outbox()
    dead = f"127.0.0.1:{free_port()}"
    link, _ = make_link([dead, mosquitto.address], outbox)
    assert kit.wait_for(lambda: link.connected, 10)
    assert link.status()["connected_broker"] == mosquitto.address
    kit.append_records(outbox, 5, SystemClock())
    assert _all_delivered(community_server, outbox, kit, 5)


def test_ack_mode_keeps_rows_until_the_server_acks_them(
        mosquitto, community_server, make_outbox, make_link, kit):
    community_server.set_acking(False)
    outbox = make_outbox()
    make_link([mosquitto.address], outbox)
    kit.append_records(outbox, 10, SystemClock())
    assert kit.wait_for(lambda: all(r.published for r in outbox.pending(100)))
    assert community_server.wait_until(
        lambda: community_server.through(kit.DEVICE, outbox.stream) == 10, 10)
    assert outbox.unsettled() == 10  # PUBACKed but not settled: the server has not said so
    community_server.set_acking(True)
    assert kit.wait_for(lambda: outbox.unsettled() == 0)


def test_puback_mode_settles_without_a_server_ack(
        mosquitto, community_server, make_outbox, make_link, kit):
    community_server.set_acking(False)
    outbox = make_outbox(settle_on="puback")
    make_link([mosquitto.address], outbox)
    kit.append_records(outbox, 30, SystemClock())
    assert kit.wait_for(lambda: outbox.unsettled() == 0)
    assert community_server.wait_until(
        lambda: community_server.through(kit.DEVICE, outbox.stream) == 30, 10)
    assert community_server.acks_sent == 0


def test_mqtt_3_1_1_delivers_too(mosquitto, community_server, make_outbox, make_link, kit):
    outbox = make_outbox()
    make_link([mosquitto.address], outbox, protocol="3.1.1")
    kit.append_records(outbox, 30, SystemClock())
    assert _all_delivered(community_server, outbox, kit, 30)
    assert community_server.wait_until(
        lambda: community_server.states.get(kit.GATE, {}).get("state") == "online", 5)
    assert community_server.problems == []


def test_birth_record_is_retained_online_and_a_clean_stop_leaves_offline(
        mosquitto, make_outbox, make_link, kit):
    outbox = make_outbox()
    link, _ = make_link([mosquitto.address], outbox)
    assert kit.wait_for(lambda: link.connected, 10)
    # An observer that arrives later still gets the retained birth record.
    with CommunityServer(mosquitto.host, mosquitto.port, kit.COMMUNITY, client_id="observer",
                         validate=validate, persistent_session=False) as observer:
        assert observer.wait_until(lambda: kit.GATE in observer.states, 5)
        _gate, birth, retained = observer.state_history[0]
        assert retained and birth["state"] == "online" and birth["boot_id"] == kit.BOOT_ID
        assert set(birth) >= {"firmware", "config_hash", "clock_synced", "boot_id"}
        assert observer.problems == []
        link.stop()
        assert observer.wait_until(lambda: observer.states[kit.GATE]["state"] == "offline", 5)
    with CommunityServer(mosquitto.host, mosquitto.port, kit.COMMUNITY, client_id="observer2",
                         persistent_session=False) as late:
        assert late.wait_until(lambda: kit.GATE in late.states, 5)
        assert late.state_history[0][1]["state"] == "offline" and late.state_history[0][2]


def test_status_list_and_live_commands_reach_the_app_but_retained_commands_do_not(
        mosquitto, make_outbox, make_link, kit):
    operator = _publisher(mosquitto)
    try:
        status_topic = topics.status_list_topic(kit.COMMUNITY)
        operator.publish(status_topic, b"aaa.bbb.ccc", qos=1, retain=True).wait_for_publish(5)
        stale = topics.cmd_topic(kit.COMMUNITY, kit.GATE, "open")
        operator.publish(stale, b'{"schema":"gatekiosk/command/v1","token":"old"}', qos=1,
                         retain=True).wait_for_publish(5)
        outbox = make_outbox()
        link, received = make_link([mosquitto.address], outbox)
        assert kit.wait_for(lambda: received.of_kind("status-list"), 10)
        assert received.of_kind("status-list")[0] == ("status-list", None, b"aaa.bbb.ccc", True)
        ping = topics.cmd_topic(kit.COMMUNITY, kit.GATE, "ping")
        operator.publish(ping, b'{"schema":"gatekiosk/command/v1","token":"new"}', qos=1)
        assert kit.wait_for(lambda: received.of_kind("cmd"), 10)
        assert received.of_kind("cmd") == [
            ("cmd", "ping", b'{"schema":"gatekiosk/command/v1","token":"new"}', False)]
        # A refresh makes the broker send the retained list again.
        link.refresh_status_list()
        assert kit.wait_for(lambda: len(received.of_kind("status-list")) == 2, 10)
    finally:
        operator.loop_stop()
        operator.disconnect()


def test_bad_acks_are_ignored_and_a_good_one_still_settles(mosquitto, make_outbox, make_link, kit):
    outbox = make_outbox()
    link, _ = make_link([mosquitto.address], outbox)
    kit.append_records(outbox, 5, SystemClock())
    assert kit.wait_for(lambda: all(r.published for r in outbox.pending(100)))
    operator = _publisher(mosquitto)
    try:
        ack = topics.ack_topic(kit.COMMUNITY, kit.GATE)
        for bad in (b"not json", b"[1]", b'{"stream":"zz","through_seq":5}',
                    json.dumps({"stream": outbox.stream, "through_seq": -1}).encode(),
                    json.dumps({"stream": "ab" * 16, "through_seq": 5}).encode()):
            operator.publish(ack, bad, qos=1).wait_for_publish(5)
        good = json.dumps(ack_payload(outbox.stream, 3)).encode()
        operator.publish(ack, good, qos=1).wait_for_publish(5)
        assert kit.wait_for(lambda: outbox.unsettled() == 2)
        assert link.connected and [r.seq for r in outbox.pending(10)] == [4, 5]
    finally:
        operator.loop_stop()
        operator.disconnect()


def test_telemetry_is_published_at_qos_0_and_dropped_while_offline(
    mosquitto, community_server, make_outbox, make_link, kit
):
    clock = SystemClock()
    outbox = make_outbox()

    def snapshot(uptime):
        return {
            "schema": "gatekiosk/telemetry/v1", "device_id": kit.DEVICE,
            "community_id": kit.COMMUNITY, "gate_id": kit.GATE, "boot_id": kit.BOOT_ID,
            "time": "2026-11-22T03:04:05.123Z", "clock_synced": True, "firmware": "0.1.0",
            "uptime_s": uptime, "ambient_c": None, "cpu_temp_c": None,
            "outbox_depth": outbox.depth(), "outbox_unsettled": outbox.unsettled(),
            "decode_rate_hz": None, "frame_rate_hz": None,
            "connected_broker": mosquitto.address, "status_list_age_s": None,
        }

    link, _received = make_link([mosquitto.address], outbox, clock=clock, start=False)
    assert not link.publish_now("telemetry", snapshot(1.0), qos=0)  # not started: dropped
    link.start()
    assert kit.wait_for(lambda: link.connected, 10)
    assert link.publish_now("telemetry", snapshot(2.0), qos=0)
    assert community_server.wait_until(
        lambda: community_server.telemetry.get(kit.GATE, {}).get("uptime_s") == 2.0, 10)
    assert community_server.problems == []


def test_an_idle_link_does_not_read_the_outbox_and_still_sends_the_next_row_at_once(
        mosquitto, community_server, make_outbox, make_link, kit, monkeypatch):
    outbox = make_outbox()
    looks: list[int] = []
    real_pending = outbox.pending

    def counted(limit, after_seq=0):
        looks.append(after_seq)
        return real_pending(limit, after_seq)

    monkeypatch.setattr(outbox, "pending", counted)
    link, _ = make_link([mosquitto.address], outbox)
    kit.append_records(outbox, 3, SystemClock())
    assert _all_delivered(community_server, outbox, kit, 3)
    looks.clear()
    idle = threading.Event()
    idle.wait(1.5)  # fifteen turns of the link thread's loop with nothing to send
    assert len(looks) <= 1, looks  # it used to look on every turn
    kit.append_records(outbox, 2, SystemClock())
    assert _all_delivered(community_server, outbox, kit, 5)
    assert link.status()["reconnects"] == 0
