"""Topic names, ack parsing, settings, and the reconnect back-off — no broker needed."""

from __future__ import annotations

import random

import pytest

from firmware import topics
from firmware.clock import ManualClock
from firmware.link.backoff import Backoff
from firmware.link.settings import MqttSettings, parse_broker
from firmware.payloads import parse_ack
from host_sim.broker import free_port


class UpperBound(random.Random):
    """An RNG whose uniform(a, b) is b: the back-off's ceilings become visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


# -- topics ------------------------------------------------------------------------------------


def test_topic_names_follow_the_contract():
    c, g = "sunny-gardens", "north-1"
    assert topics.event_topic(c, g) == "community/sunny-gardens/gate/north-1/event"
    assert topics.alarm_topic(c, g) == "community/sunny-gardens/gate/north-1/alarm"
    assert topics.state_topic(c, g) == "community/sunny-gardens/gate/north-1/state"
    assert topics.telemetry_topic(c, g) == "community/sunny-gardens/gate/north-1/telemetry"
    assert topics.cmd_result_topic(c, g) == "community/sunny-gardens/gate/north-1/cmd-result"
    assert topics.ack_topic(c, g) == "community/sunny-gardens/gate/north-1/ack"
    assert topics.cmd_topic(c, g, "open") == "community/sunny-gardens/gate/north-1/cmd/open"
    assert topics.cmd_subscription(c, g) == "community/sunny-gardens/gate/north-1/cmd/+"
    assert topics.status_list_topic(c) == "community/sunny-gardens/status-list"
    assert topics.community_filter("event", c) == "community/sunny-gardens/gate/+/event"


@pytest.mark.parametrize("bad", ["", "A", "gate/1", "gate+", "#", "g" * 65, "gate 1", "gate-1\n",
                                 "ü", None, 7])
def test_an_id_outside_the_pattern_is_refused_in_one_line(bad):
    with pytest.raises(ValueError) as refused:
        topics.event_topic("c", bad)
    assert "\n" not in str(refused.value) and "gate_id" in str(refused.value)


def test_incoming_topics_are_classified_for_this_gate_only():
    c, g = "c1", "g1"
    assert topics.classify("community/c1/status-list", c, g) == ("status-list", None)
    assert topics.classify("community/c1/gate/g1/ack", c, g) == ("ack", None)
    assert topics.classify("community/c1/gate/g1/cmd/open", c, g) == ("cmd", "open")
    assert topics.classify("community/c1/gate/g2/cmd/open", c, g) is None
    assert topics.classify("community/c1/gate/g1/cmd/Open", c, g) is None
    assert topics.classify("community/c1/gate/g1/cmd/a/b", c, g) is None
    assert topics.parse_gate_topic("community/c1/gate/g1/event") == ("c1", "g1", "event")
    assert topics.parse_gate_topic("community/c1/gate/g1/cmd/open") is None


# -- acks and settings -------------------------------------------------------------------------


def test_a_server_ack_is_parsed_and_anything_else_is_a_one_line_error():
    stream = "0123456789abcdef0123456789abcdef"
    assert parse_ack(b'{"schema":"gatekiosk/ack/v1","stream":"%s","through_seq":5}'
                     % stream.encode()) == (stream, 5)
    assert parse_ack(b'{"stream":"%s","through_seq":0}' % stream.encode()) == (stream, 0)
    for bad in (b"", b"\xff", b"[]", b"null", b'{"stream":"xyz","through_seq":1}',
                b'{"stream":"%s","through_seq":-1}' % stream.encode(),
                b'{"stream":"%s","through_seq":true}' % stream.encode(),
                b'{"stream":"%s","through_seq":"5"}' % stream.encode(),
                b'{"schema":"gatekiosk/ack/v2","stream":"%s","through_seq":1}' % stream.encode()):
        with pytest.raises(ValueError) as refused:
            parse_ack(bad)
        assert "\n" not in str(refused.value)


def test_broker_addresses_and_settings_are_checked():
    assert parse_broker("10.0.0.2:8883") == ("10.0.0.2", 8883)
    assert parse_broker("mqtts://broker.example:8883") == ("broker.example", 8883)
    assert parse_broker("[::1]:1883") == ("::1", 1883)
    assert parse_broker(("localhost", 1883)) == ("localhost", 1883)
    for bad in ("localhost", "host:0", "host:x", ("host", "1883"), ("host", True)):
        with pytest.raises(ValueError):
            parse_broker(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="client_id"):
        MqttSettings(brokers=["h:1"], client_id="Kiosk/1")
    with pytest.raises(ValueError, match="protocol"):
        MqttSettings(brokers=["h:1"], client_id="k", protocol="3.1")
    with pytest.raises(ValueError, match="brokers"):
        MqttSettings(brokers=[], client_id="k")
    with pytest.raises(ValueError, match="subscribe_qos"):
        MqttSettings(brokers=["h:1"], client_id="k", subscribe_qos=2)


# -- back-off ----------------------------------------------------------------------------------


def test_backoff_ceiling_doubles_to_the_maximum_and_resets():
    backoff = Backoff(1.0, 60.0, UpperBound())
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_backoff_is_full_jitter_so_gates_spread_out():
    # A thousand gates lose the broker at the same moment: their first retries spread over the
    # whole first interval, and no two wait exactly alike.
    firsts = [Backoff(1.0, 60.0, random.Random(seed)).next_delay() for seed in range(1000)]
    assert all(0.0 <= d <= 1.0 for d in firsts)
    assert len(set(firsts)) == 1000
    assert min(firsts) < 0.1 and max(firsts) > 0.9
    fifth = []
    for seed in range(200):
        backoff = Backoff(1.0, 60.0, random.Random(seed))
        fifth.append([backoff.next_delay() for _ in range(5)][-1])
    assert max(fifth) <= 16.0 and max(fifth) > 8.0  # ceiling 16 after four doublings


def test_the_link_walks_every_broker_then_waits_a_growing_delay_on_its_clock(
        make_outbox, make_link, kit):
    clock = ManualClock()
    dead = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    outbox = make_outbox(clock=clock)
    link, _ = make_link(dead, outbox, clock=clock, rng=UpperBound(),
                        backoff_initial_s=1.0, backoff_max_s=4.0)
    seen_delays = []
    for round_number in range(1, 5):
        assert kit.wait_for(lambda n=round_number: link.status()["connect_attempts"] == 2 * n
                            and link.status()["next_attempt_in_s"] is not None, 10)
        status = link.status()
        assert not status["connected"] and "127.0.0.1" in status["last_error"]
        seen_delays.append(status["next_attempt_in_s"])
        # The clock stands still: no new attempt, however long we wait in real time.
        assert not kit.wait_for(lambda n=round_number: link.status()["connect_attempts"] > 2 * n,
                                0.3)
        clock.advance(status["next_attempt_in_s"])
    assert seen_delays == [1.0, 2.0, 4.0, 4.0]
