"""Delivery through faults: a killed broker, a cut, slow or half-open link, refusals, no
subscriber.

Afterwards every record is at the server, seq has no gap, and any duplicate carries the same
event_id (the server stand-in records a conflict otherwise).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from firmware.clock import SystemClock
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer
from host_sim.schemas import validate
from host_sim.tcp_proxy import TcpProxy

pytestmark = pytest.mark.broker


class SteadyWriter:
    """Appends records at a pace from its own thread, like doors opening during the fault."""

    def __init__(self, outbox, kit, count: int, interval_s: float = 0.004) -> None:
        self._outbox, self._kit, self._count, self._interval_s = outbox, kit, count, interval_s
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SteadyWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        clock = SystemClock()
        try:
            for _ in range(self._count):
                if self._stop.is_set():
                    return
                self._kit.append_records(self._outbox, 1, clock, alarm_every=0)
                self._stop.wait(self._interval_s)
        except BaseException as exc:
            self.error = exc

    def finished(self) -> bool:
        return not self._thread.is_alive()


def assert_complete(server: CommunityServer, outbox, kit, count: int) -> None:
    assert kit.wait_for(lambda: server.through(kit.DEVICE, outbox.stream) == count
                        and outbox.unsettled() == 0), (
        f"server through {server.through(kit.DEVICE, outbox.stream)}, "
        f"gaps {server.gaps(kit.DEVICE, outbox.stream)[:10]}, unsettled {outbox.unsettled()}")
    assert server.seqs(kit.DEVICE, outbox.stream) == list(range(1, count + 1))
    assert server.streams(kit.DEVICE) == [outbox.stream]
    assert server.conflicts == [] and server.problems == []


def test_messages_a_killed_broker_had_pubacked_are_sent_again(
        mosquitto, community_server, make_outbox, make_link, kit):
    # FIELD-NOTES: with the default autosave, PUBACKed messages queued for an offline
    # subscriber die with a SIGKILLed broker. Only the server's ack may settle them.
    clock = SystemClock()
    outbox = make_outbox()
    link, _ = make_link([mosquitto.address], outbox)
    kit.append_records(outbox, 20, clock)
    assert kit.wait_for(lambda: outbox.unsettled() == 0)
    community_server.stop()  # its session stays on the broker, which queues for it
    kit.append_records(outbox, 30, clock)
    assert kit.wait_for(lambda: len(outbox.pending(100)) == 30
                        and all(r.published for r in outbox.pending(100)))
    mosquitto.kill()
    mosquitto.restart()
    community_server.start()
    assert_complete(community_server, outbox, kit, 50)
    assert link.status()["reconnects"] >= 1


def test_broker_sigkilled_mid_stream_and_restarted(
        mosquitto, community_server, make_outbox, make_link, kit):
    outbox = make_outbox()
    link, _ = make_link([mosquitto.address], outbox)
    assert kit.wait_for(lambda: link.connected, 10)
    with SteadyWriter(outbox, kit, 300) as writer:
        assert community_server.wait_until(
            lambda: community_server.through(kit.DEVICE, outbox.stream) >= 60, 20)
        mosquitto.kill()
        assert kit.wait_for(lambda: not link.connected, 10)
        assert kit.wait_for(lambda: outbox.last_seq() >= 120, 20)  # doors keep opening offline
        mosquitto.restart()
        assert kit.wait_for(writer.finished, 30)
    assert writer.error is None
    assert_complete(community_server, outbox, kit, 300)


def test_connection_cut_by_a_proxy_again_and_again(
        mosquitto, community_server, make_outbox, make_link, kit):
    outbox = make_outbox()
    with TcpProxy(mosquitto.host, mosquitto.port) as proxy:
        link, _ = make_link([proxy.address], outbox)
        with SteadyWriter(outbox, kit, 300) as writer:
            for mark in (50, 120, 200):
                assert community_server.wait_until(
                    lambda m=mark: community_server.through(kit.DEVICE, outbox.stream) >= m, 20)
                assert proxy.cut() == 1
            assert kit.wait_for(writer.finished, 30)
        assert writer.error is None
        assert_complete(community_server, outbox, kit, 300)
        assert link.status()["reconnects"] >= 3
        # The broker published the gate's will at each cut, and the birth record after each
        # return.
        assert community_server.wait_until(
            lambda: community_server.states[kit.GATE]["state"] == "online", 10)
        states = [payload["state"] for _gate, payload, _ in community_server.state_history]
        assert states.count("offline") >= 3


def test_the_proxy_delay_holds_each_way():
    """The slow link below is slow: a byte echoed through a 0.2 s delay returns >= 0.4 s later."""
    listener = socket.create_server(("127.0.0.1", 0))
    echo = threading.Thread(target=lambda: _echo_once(listener), daemon=True)
    echo.start()
    with TcpProxy("127.0.0.1", listener.getsockname()[1]) as proxy:
        proxy.delay(0.2)
        with socket.create_connection((proxy.host, proxy.port), timeout=10) as conn:
            started = time.monotonic()
            conn.sendall(b"x")
            assert conn.recv(1) == b"x"
            assert time.monotonic() - started >= 0.4
    listener.close()


def _echo_once(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.sendall(conn.recv(1))


def test_a_slow_link_delivers_everything_in_order_without_reconnecting(
        mosquitto, community_server, make_outbox, make_link, kit):
    # 0.3 s each way, below the keepalive: slow, not dead; the window fills and drains.
    outbox = make_outbox()
    with TcpProxy(mosquitto.host, mosquitto.port) as proxy:
        link, _ = make_link([proxy.address], outbox)
        assert kit.wait_for(lambda: link.connected, 20)
        proxy.delay(0.3)
        with SteadyWriter(outbox, kit, 150) as writer:
            assert kit.wait_for(writer.finished, 30)
        assert writer.error is None
        assert_complete(community_server, outbox, kit, 150)
        assert link.status()["reconnects"] == 0


def test_a_half_open_link_is_noticed_by_keepalive_and_nothing_sent_into_it_is_lost(
        mosquitto, community_server, make_outbox, make_link, kit):
    clock = SystemClock()
    outbox = make_outbox()
    with TcpProxy(mosquitto.host, mosquitto.port) as proxy:
        link, _ = make_link([proxy.address], outbox, keepalive=1, connect_timeout_s=1.0)
        kit.append_records(outbox, 10, clock)
        assert kit.wait_for(lambda: outbox.unsettled() == 0)
        proxy.blackhole()
        kit.append_records(outbox, 10, clock)  # published into a link that no longer carries
        assert kit.wait_for(lambda: not link.connected, 10)
        assert outbox.unsettled() == 10
        proxy.resume()
        assert_complete(community_server, outbox, kit, 20)


def test_a_refused_publish_is_not_settled_and_is_sent_again_later(
        tmp_path, make_outbox, make_link, kit):
    # MQTT 5 tells a denied publish (0x87 Not authorized) in the PUBACK; 3.1.1 would not.
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite #\ntopic deny community/+/gate/+/event\n")
    broker = MosquittoBroker(tmp_path / "broker", extra_config=f"acl_file {acl}")
    with broker, CommunityServer(broker.host, broker.port, kit.COMMUNITY,
                                 validate=validate) as server:
        outbox = make_outbox()
        link, _ = make_link([broker.address], outbox)
        kit.append_records(outbox, 6, SystemClock(), alarm_every=5)  # seq 5 is an alarm
        assert server.wait_until(lambda: server.seqs(kit.DEVICE, outbox.stream) == [5], 10)
        assert kit.wait_for(lambda: "Not authorized" in (link.status()["last_error"] or ""))
        assert kit.wait_for(
            lambda: [r.seq for r in outbox.pending(10) if not r.published] == [1, 2, 3, 4, 6])
        assert link.connected
        acl.write_text("topic readwrite #\n")
        broker.reload()
        assert_complete(server, outbox, kit, 6)


def test_records_nobody_was_subscribed_to_are_sent_again_until_the_server_is_back(
        mosquitto, make_outbox, make_link, kit):
    outbox = make_outbox()
    link, _ = make_link([mosquitto.address], outbox)
    kit.append_records(outbox, 5, SystemClock())
    # PUBACK 0x10 "No matching subscribers": taken by the broker, received by nobody.
    assert kit.wait_for(lambda: all(r.published for r in outbox.pending(10)))
    assert kit.wait_for(lambda: "no subscriber" in (link.status()["last_error"] or ""))
    with CommunityServer(mosquitto.host, mosquitto.port, kit.COMMUNITY,
                         validate=validate) as server:
        assert_complete(server, outbox, kit, 5)
    assert link.connected and link.status()["reconnects"] == 0


def test_records_the_server_received_but_never_acked_are_sent_again_after_the_ack_timeout(
        mosquitto, community_server, make_outbox, make_link, kit):
    community_server.set_acking(False)
    outbox = make_outbox()
    make_link([mosquitto.address], outbox, ack_timeout_s=0.5)
    kit.append_records(outbox, 5, SystemClock())
    assert community_server.wait_until(
        lambda: community_server.through(kit.DEVICE, outbox.stream) == 5, 10)
    assert community_server.wait_until(lambda: community_server.duplicates >= 5, 10)
    assert outbox.unsettled() == 5
    community_server.set_acking(True)
    assert_complete(community_server, outbox, kit, 5)
