"""Fixtures for the fleet tests: a real 3-node NATS cluster, gates and the server stand-in.

`cluster` is a fresh cluster per test (JetStream, MQTT, 3 replicas, own data dirs and free
loopback ports), stopped and removed by the fixture's finalizer. `district` builds gates (the
real outbox and MQTT link each, `host_sim.fleet.gate`) and a partitioned server stand-in
(`host_sim.fleet.server`) running on threads of the test process, so a test can kill nodes
under them and then read the server's SQLite ledger.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from host_sim.fleet import ledger
from host_sim.fleet.gate import FleetGate, GateSpec, gate_brokers
from host_sim.fleet.server import Consumer, plan_shares
from host_sim.fleet.worker import stop_all
from host_sim.nats_cluster import NatsCluster
from host_sim.publisher import publish

pytestmark = pytest.mark.cluster


def wait_for(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True


def publish_311(address: str, topic: str, payload: bytes | str, *,
                retain: bool = False) -> None:
    """Publish once at QoS 1 over MQTT 3.1.1 (the cluster refuses MQTT 5), wait for PUBACK."""
    host, port = address.rsplit(":", 1)
    publish(host, int(port), topic, payload, retain=retain, timeout_s=10.0,
            client_id=f"publisher-{time.time_ns()}", protocol="3.1.1")


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers of this folder (test modules cannot import conftest)."""
    return SimpleNamespace(wait_for=wait_for, publish_311=publish_311)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    nodes = NatsCluster(3, tmp_path / "cluster")
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.close()


class District:
    """Gates and server consumers on one cluster, all stopped by the fixture."""

    def __init__(self, brokers: list[str], root: Path) -> None:
        self.brokers = brokers
        self.root = root
        self.gates: list[FleetGate] = []
        self.stores: list[Path] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def add_gates(self, count: int, **spec: Any) -> list[FleetGate]:
        """Start `count` gates, each with every node in its list (a different one first)."""
        spec.setdefault("backoff_initial_s", 0.2)
        spec.setdefault("backoff_max_s", 2.0)
        spec.setdefault("ack_timeout_s", 3.0)
        fixed = spec.pop("brokers", None)
        made = []
        for _ in range(count):
            index = len(self.gates)
            brokers = fixed or gate_brokers(self.brokers, index)
            gate = FleetGate(GateSpec(index=index, brokers=tuple(brokers),
                                      data_root=str(self.root / "gates"), **spec))
            gate.start()
            self.gates.append(gate)
            made.append(gate)
        return made

    def start_server(self, partitions: int = 2) -> None:
        """The stand-in's consumers, each owning its partition of the gates added so far."""
        consumers = []
        shares = plan_shares([(g.spec.community, g.spec.gate_id) for g in self.gates],
                             partitions)
        for p, share in enumerate(shares):
            store = self.root / f"server-{p}.db"
            start = p % len(self.brokers)
            consumer = Consumer(self.brokers[start:] + self.brokers[:start], p, store, share)
            thread = threading.Thread(target=consumer.run, args=(self._stop,), daemon=True)
            thread.start()
            self.stores.append(store)
            self._threads.append(thread)
            consumers.append(consumer)
        assert all(c.subscribed.wait(30.0) for c in consumers), "server never subscribed"

    def drained(self) -> bool:
        return all(g.link.connected and g.outbox.unsettled() == 0 for g in self.gates)

    def ledger(self) -> dict[str, Any]:
        return ledger.reconcile([g.snapshot() for g in self.gates], self.stores)

    def close(self) -> None:
        stop_all(self.gates)
        self._stop.set()
        for thread in self._threads:
            thread.join(10.0)


@pytest.fixture
def district(cluster: NatsCluster, tmp_path: Path) -> Iterator[District]:
    place = District(cluster.mqtt_addresses, tmp_path)
    try:
        yield place
    finally:
        place.close()
