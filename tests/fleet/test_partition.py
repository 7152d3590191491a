"""A gate whose node is partitioned away (a black-holed TCP link) comes back through another."""

from __future__ import annotations

import random

import pytest

from host_sim.tcp_proxy import TcpProxy

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("fault", ["blackhole", "refuse"])
def test_a_gate_cut_off_from_its_node_comes_back_to_another_and_loses_nothing(
        cluster, district, kit, fault):
    first = cluster.nodes[0]
    with TcpProxy(first.host, first.mqtt_port) as proxy:
        others = cluster.mqtt_addresses[1:]
        # Its only way to node 1 is the proxy: once that is cut, node 1 is unreachable for it.
        [gate] = district.add_gates(1, brokers=[proxy.address, *others], keepalive=2)
        district.start_server(partitions=1)
        assert kit.wait_for(lambda: gate.link.status()["connected_broker"] == proxy.address,
                            20.0)
        rng = random.Random(3)
        for _ in range(5):
            gate.emit(rng)
        getattr(proxy, fault)()  # dropped bytes (half-open), or reset and refused
        for _ in range(10):
            gate.emit(rng)  # committed while the link is dead or not yet known dead
        assert kit.wait_for(lambda: gate.link.status()["connected_broker"] in others, 30.0)
        assert kit.wait_for(district.drained, 30.0)
        books = district.ledger()
        assert (books["events_sent"], books["stored"], books["gaps"]) == (15, 15, 0), books
        assert books["conflicts"] == 0
