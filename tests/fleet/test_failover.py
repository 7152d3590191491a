"""Gates spread over a 3-node NATS cluster lose nothing when nodes are SIGKILLed under them.

Each gate is the real outbox and MQTT link (MQTT 3.1.1) with every node in its broker list, a
different one first; the server stand-in commits to SQLite and acks. What the ledger must show
after the faults: every committed record at the server, no seq gap, and duplicates only as
repeats of the same event_id.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter

import pytest

pytestmark = pytest.mark.cluster

RETAINED_DELAY_ALLOWED_S = 60.0  # measured: 10-44 s on a 3-node NATS 2.x cluster

soak = pytest.mark.skipif(os.environ.get("GATEKIOSK_SOAK") != "1",
                          reason="waits on NATS's own recovery (up to a minute): make soak")


def _traffic(gates, stop, period_s=0.05, seed=7):
    rng = random.Random(seed)
    while not stop.is_set():
        rng.choice(gates).emit(rng)
        stop.wait(period_s)


def test_gates_spread_over_the_nodes_lose_nothing_when_two_nodes_die_in_turn(
        cluster, district, kit):
    gates = district.add_gates(9)
    district.start_server(partitions=2)
    assert kit.wait_for(lambda: all(g.link.connected for g in gates), 20.0)
    spread = Counter(g.link.status()["connected_broker"] for g in gates)
    assert sorted(spread) == sorted(cluster.mqtt_addresses), spread

    stop = threading.Event()
    writer = threading.Thread(target=_traffic, args=(gates, stop), daemon=True)
    writer.start()
    try:
        for victim in (0, 1):
            time.sleep(1.5)
            on_victim = [g for g in gates
                         if g.link.status()["connected_broker"] == cluster.mqtt_addresses[victim]]
            cluster.kill(victim)
            # Those gates find another node, and every one of them is connected again.
            assert kit.wait_for(lambda on=on_victim: all(
                g.link.connected and len(g.connect_times) >= 2 for g in on), 40.0)
            cluster.restart(victim, wait=False)
        time.sleep(1.0)
    finally:
        stop.set()
        writer.join(5.0)
    assert kit.wait_for(district.drained, 60.0), [g.snapshot() for g in gates
                                                  if g.outbox.unsettled()][:2]
    books = district.ledger()
    assert books["events_sent"] > 100
    assert books["gaps"] == 0, books
    assert books["conflicts"] == 0, books
    assert books["stored"] == books["events_sent"], books


@soak
@pytest.mark.timeout(200)
def test_the_retained_status_list_is_still_served_after_the_node_leading_it_died(
        cluster, district, kit):
    kit.publish_311(cluster.mqtt_addresses[0], "community/district-1/status-list",
                    "header.claims.signature", retain=True)
    leader = cluster.stream_leader("$MQTT_rmsgs")
    assert leader is not None
    cluster.kill(leader)
    survivors = [a for i, a in enumerate(cluster.mqtt_addresses) if i != leader]
    [gate] = district.add_gates(1, brokers=survivors)
    started = time.monotonic()
    # NATS may take tens of seconds to serve retained messages again; the gate works from its
    # own persisted copy meanwhile (DESIGN 2.2, tests/e2e), and here must get it in the end.
    assert kit.wait_for(lambda: gate.status_lists >= 1, RETAINED_DELAY_ALLOWED_S)
    print(f"retained status list served {time.monotonic() - started:.1f} s after the leader died")
