"""What a gate costs the cluster: `[mqtt] subscribe_qos = 0` makes no JetStream consumer.

On NATS every QoS 1 subscription of an MQTT session is a replicated JetStream consumer; a gate
has three (status list, `ack`, `cmd/+`), made again on every clean-session connect. At QoS 0
they are plain NATS subscriptions. Either way the gate gets the retained status list, its acks
settle its records, and the server takes the district's communities by wildcard.
"""

from __future__ import annotations

import random

import pytest

from host_sim.fleet.gate import community_of

pytestmark = pytest.mark.cluster

GATE_SUBSCRIPTIONS = 3  # status list, ack, cmd/+


def _consumers(cluster) -> int:
    _, jsz = cluster.nodes[0].monitor("/jsz")
    return int(jsz["consumers"])


def test_a_gate_at_qos_0_makes_no_consumer_and_still_hears_its_list_and_acks(
        cluster, district, kit):
    for i in range(2):
        kit.publish_311(cluster.mqtt_addresses[1], f"community/{community_of(i, 2)}/status-list",
                        "header.claims.signature", retain=True)
    before = _consumers(cluster)
    [at_1] = district.add_gates(1, community=community_of(0, 2))
    assert kit.wait_for(lambda: _consumers(cluster) == before + GATE_SUBSCRIPTIONS, 20.0)
    [at_0] = district.add_gates(1, community=community_of(1, 2), subscribe_qos=0)
    assert kit.wait_for(lambda: at_0.link.connected and at_0.status_lists >= 1, 30.0)
    assert kit.wait_for(lambda: at_1.status_lists >= 1, 30.0)
    assert _consumers(cluster) == before + GATE_SUBSCRIPTIONS  # the QoS 0 gate made none

    # Two communities, two consumers: each takes one community's event and alarm wildcards.
    district.start_server(partitions=2)
    assert kit.wait_for(lambda: _consumers(cluster) == before + GATE_SUBSCRIPTIONS + 4, 20.0)
    rng = random.Random(5)
    for _ in range(6):
        at_0.emit(rng)
        at_1.emit(rng)
    assert kit.wait_for(district.drained, 30.0), [g.snapshot() for g in district.gates]
    books = district.ledger()
    assert (books["events_sent"], books["stored"], books["gaps"]) == (12, 12, 0), books
