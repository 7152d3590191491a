"""Runs a fleet: the cluster (or given brokers), the server's consumers, the gate workers, faults.

A fault is `AT:ACTION[:NODE]` in seconds from the start of the traffic: `kill:N` (SIGKILL node
N), `restart:N` (start it again), `kill-all` and `restart-all` (the whole cluster). Right after
each fault every worker marks its gates' last committed seq; `time_to_recover_s` is how long it
took until every gate was connected again and the server had acked all it committed before
the fault. After the run the traffic stops, everything drains, and the ledger is reconciled.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_sim.fleet import ledger
from host_sim.fleet.faults import Fault
from host_sim.fleet.gate import GateSpec, community_of, gate_brokers
from host_sim.fleet.server import consumer_main, plan_shares
from host_sim.fleet.worker import worker_main
from host_sim.nats_cluster import NatsCluster

__all__ = ["Fault", "FleetConfig", "FleetRun"]

SHM = Path("/dev/shm")
# paho's network loop is select(), which takes only file descriptors below 1024: a gate holds
# about six (its socket, paho's wake-up pair, SQLite's database, WAL and shared memory), and a
# process past ~170 gates has links whose CONNACK sits unread in the kernel for ever.
GATES_PER_WORKER_MAX = 120
START_TIMEOUT_S = 60.0
PROGRESS_EVERY_S = 2.0
@dataclass
class FleetConfig:
    """What to run; defaults make a small, quick fleet."""

    gates: int = 40
    workers: int = 2
    partitions: int = 2
    communities: int = 1
    rate_hz: float = 0.5
    duration_s: float = 10.0
    nodes: int = 3
    brokers: list[str] = field(default_factory=list)
    protocol: str = "3.1.1"
    shared: bool = False
    server_qos: int = 1
    gate_qos: int = 1
    connect_rate: float = 40.0
    jitter: bool = True
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    connect_timeout_s: float = 5.0
    faults: list[Fault] = field(default_factory=list)
    drain_timeout_s: float = 60.0
    seed: int = 1
    workdir: str | None = None


def _say(text: str) -> None:
    print(f"fleet: {text}", file=sys.stderr, flush=True)


class FleetRun:
    """One run of `FleetConfig`; `run()` returns the summary dict."""

    def __init__(self, config: FleetConfig) -> None:
        if config.faults and config.brokers:
            raise ValueError("faults need the fleet's own cluster (no --broker)")
        needed = -(-config.gates // GATES_PER_WORKER_MAX)
        if config.workers < needed:
            _say(f"{config.gates} gates need {needed} worker processes (at most "
                 f"{GATES_PER_WORKER_MAX} gates each: paho's select() loop takes file "
                 f"descriptors below 1024 only); using {needed}")
            config = dataclasses.replace(config, workers=needed)
        self.config = config
        self.ctx = multiprocessing.get_context("spawn")
        self.workdir = Path(config.workdir or tempfile.mkdtemp(prefix="gatekiosk-fleet-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        root = SHM if SHM.is_dir() else self.workdir
        # Gates' outboxes on tmpfs: each real gate has its own card; here fsync would be the
        # one disk of the host, serialising a thousand gates' commits.
        self.data_root = Path(tempfile.mkdtemp(prefix="gatekiosk-fleet-gates-", dir=root))
        self.cluster: NatsCluster | None = None
        self.reports: Any = self.ctx.Queue()
        self.commands: list[Any] = []
        self.procs: list[Any] = []
        self.consumer_stop = self.ctx.Event()
        self.progress: dict[int, dict[str, Any]] = {}
        self.recovered: dict[str, dict[int, float]] = {}
        self.finals: dict[int, dict[str, Any]] = {}
        self.connected_at_start = 0

    # -- parts ---------------------------------------------------------------------------------

    def _brokers(self) -> list[str]:
        if self.config.brokers:
            return list(self.config.brokers)
        self.cluster = NatsCluster(self.config.nodes, self.workdir / "cluster")
        started = time.monotonic()
        self.cluster.start()
        _say(f"{self.config.nodes}-node NATS cluster ready in "
             f"{time.monotonic() - started:.1f} s: {', '.join(self.cluster.mqtt_addresses)}")
        return self.cluster.mqtt_addresses

    def _specs(self, brokers: list[str]) -> list[GateSpec]:
        c = self.config
        return [GateSpec(index=i, brokers=gate_brokers(brokers, i),
                         data_root=str(self.data_root),
                         community=community_of(i, c.communities), protocol=c.protocol,
                         jitter=c.jitter, backoff_initial_s=c.backoff_initial_s,
                         backoff_max_s=c.backoff_max_s, connect_timeout_s=c.connect_timeout_s,
                         subscribe_qos=c.gate_qos)
                for i in range(c.gates)]

    def stores(self) -> list[Path]:
        """One store per partition; one for all consumers of a share group (any of them may
        get any gate's record, and an ack must cover what all of them committed)."""
        if self.config.shared:
            return [self.workdir / "server.db"]
        return [self.workdir / f"server-{p}.db" for p in range(self.config.partitions)]

    def _start_consumers(self, brokers: list[str], specs: list[GateSpec]) -> list[Any]:
        readies = []
        stores = self.stores()
        shares = plan_shares([(s.community, s.gate_id) for s in specs], self.config.partitions,
                             self.config.shared)
        for p, share in enumerate(shares):
            store = stores[p % len(stores)]
            ready = self.ctx.Event()
            proc = self.ctx.Process(
                target=consumer_main, name=f"fleet-server-{p}", daemon=True,
                args=(brokers[p % len(brokers):] + brokers[:p % len(brokers)], p, str(store),
                      share, self.config.server_qos, self.consumer_stop, ready))
            proc.start()
            self.procs.append(proc)
            readies.append(ready)
        return readies

    def _start_workers(self, specs: list[GateSpec]) -> None:
        c = self.config
        for w in range(c.workers):
            commands = self.ctx.Queue()
            proc = self.ctx.Process(
                target=worker_main, name=f"fleet-worker-{w}", daemon=True,
                args=(w, specs[w::c.workers], c.rate_hz, c.seed * 1000 + w,
                      c.drain_timeout_s, c.workers / c.connect_rate, commands, self.reports))
            proc.start()
            self.commands.append(commands)
            self.procs.append(proc)

    # -- the run -------------------------------------------------------------------------------

    def _pump(self, timeout_s: float) -> None:
        try:
            report = self.reports.get(timeout=timeout_s)
        except queue.Empty:
            return
        kind = report["type"]
        if kind == "progress":
            self.progress[report["worker"]] = report
        elif kind == "recovered":
            self.recovered.setdefault(report["label"], {})[report["worker"]] = report["t"]
        elif kind == "final":
            self.finals[report["worker"]] = report

    def _total(self, key: str) -> int:
        return sum(int(p.get(key, 0)) for p in self.progress.values())

    def _apply(self, fault: Fault) -> float:
        cluster = self.cluster
        assert cluster is not None
        at = time.time()
        if fault.action == "kill":
            assert fault.node is not None
            cluster.kill(fault.node)
        elif fault.action == "restart":
            assert fault.node is not None
            cluster.restart(fault.node, wait=False)
        elif fault.action == "kill-all":
            for i in range(len(cluster.nodes)):
                cluster.kill(i)
        else:
            for i in range(len(cluster.nodes)):
                cluster.restart(i, wait=False)
        for commands in self.commands:
            commands.put(("mark", fault.label))
        _say(f"fault {fault.label} applied")
        return at

    def run(self) -> dict[str, Any]:
        c = self.config
        try:
            brokers = self._brokers()
            specs = self._specs(brokers)
            # The server subscribes first: on NATS each QoS 1 subscription is a replicated
            # JetStream consumer, and creating them races the gates' own subscriptions.
            started = time.monotonic()
            for ready in self._start_consumers(brokers, specs):
                if not ready.wait(START_TIMEOUT_S * 2):
                    raise TimeoutError("a server consumer did not subscribe in time")
            _say(f"{c.partitions} server consumers subscribed in "
                 f"{time.monotonic() - started:.1f} s after the run began")
            self._start_workers(specs)
            deadline = time.monotonic() + START_TIMEOUT_S + c.gates / c.connect_rate
            next_say = time.monotonic() + PROGRESS_EVERY_S
            while self._total("connected") < c.gates and time.monotonic() < deadline:
                self._pump(0.2)
                if time.monotonic() >= next_say:
                    next_say += PROGRESS_EVERY_S * 5
                    _say(f"starting: {self._total('started')} started, "
                         f"{self._total('connected')}/{c.gates} connected")
            connected_at = time.time()
            self.connected_at_start = self._total("connected")
            _say(f"{self.connected_at_start}/{c.gates} gates connected "
                 f"{time.monotonic() - started:.1f} s after the run began")
            for commands in self.commands:
                commands.put(("go",))
            fault_times = self._traffic(connected_at)
            for commands in self.commands:
                commands.put(("finish",))
            deadline = time.monotonic() + c.drain_timeout_s + 30.0
            while len(self.finals) < c.workers and time.monotonic() < deadline:
                self._pump(0.5)
            return self._summary(connected_at, fault_times)
        finally:
            self.close()

    def _traffic(self, started: float) -> dict[str, float]:
        pending = sorted(self.config.faults, key=lambda f: f.at_s)
        fault_times: dict[str, float] = {}
        next_say = 0.0
        while (elapsed := time.time() - started) < self.config.duration_s:
            while pending and elapsed >= pending[0].at_s:
                fault = pending.pop(0)
                fault_times[fault.label] = self._apply(fault)
            self._pump(0.1)
            if elapsed >= next_say:
                next_say = elapsed + PROGRESS_EVERY_S
                _say(f"t={elapsed:5.1f}s connected {self._total('connected')}/"
                     f"{self.config.gates} committed {self._total('committed')} "
                     f"unsettled {self._total('unsettled')}")
        return fault_times

    def _summary(self, started: float, fault_times: dict[str, float]) -> dict[str, Any]:
        c = self.config
        gates = [g for final in self.finals.values() for g in final["gates"]]
        summary: dict[str, Any] = {
            "gates": c.gates, "workers": c.workers, "partitions": c.partitions,
            "communities": c.communities, "gate_qos": c.gate_qos, "server_qos": c.server_qos,
            "brokers": "given" if c.brokers else f"nats x{c.nodes}", "protocol": c.protocol,
            "rate_hz_per_gate": c.rate_hz, "duration_s": c.duration_s, "jitter": c.jitter,
            "workers_reported": len(self.finals),
            "drained": len(self.finals) == c.workers and all(
                f["drained"] for f in self.finals.values()),
        }
        summary.update(ledger.reconcile(gates, self.stores()))
        summary["reconnects"] = sum(max(len(g["connect_times"]) - 1, 0) for g in gates)
        summary["events_per_s"] = round(summary["events_sent"] / max(c.duration_s, 1e-9), 1)
        recover: dict[str, float | None] = {}
        storms: dict[str, Any] = {}
        connects = [t for g in gates for t in g["connect_times"]]
        attempts = [t for g in gates for t in g["attempt_times"]]
        tries: dict[str, Any] = {}
        for label, at in fault_times.items():
            done = self.recovered.get(label, {})
            recover[label] = (round(max(done.values()) - at, 2)
                              if len(done) == c.workers else None)
            storms[label] = ledger.connect_rates(connects, at)
            tries[label] = ledger.connect_rates(attempts, at)
        summary["time_to_recover_s"] = recover
        summary["connected_at_start"] = self.connected_at_start
        summary["undrained_count"] = sum(1 for g in gates if g["oldest_unsettled"] is not None)
        summary["undrained_gates"] = [
            {"device_id": g["device_id"], "unsettled_from": g["oldest_unsettled"],
             "last_seq": g["last_seq"], "connected": g["connected"], "broker": g["broker"],
             "last_error": g["last_error"]}
            for g in gates if g["oldest_unsettled"] is not None][:5]
        summary["connects_after_fault"] = storms
        summary["attempts_after_fault"] = tries
        summary["ok"] = bool(summary["drained"] and summary["gaps"] == 0
                             and summary["conflicts"] == 0
                             and summary["stored"] == summary["events_sent"]
                             and all(v is not None for v in recover.values()))
        return summary

    def close(self) -> None:
        """Stop every process this run started and the cluster; remove the gates' data."""
        self.consumer_stop.set()
        for proc in self.procs:
            proc.join(15.0)
            if proc.is_alive():
                proc.kill()
                proc.join(5.0)
        if self.cluster is not None:
            self.cluster.close()
        shutil.rmtree(self.data_root, ignore_errors=True)
        if self.config.workdir is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
