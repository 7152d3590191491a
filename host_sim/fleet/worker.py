"""A worker process of the fleet: holds a share of the gates and makes their traffic.

Each paho link runs two threads (the link's own and paho's network loop), so one Python process
holds a few hundred gates before the GIL and the wake-ups cost more than the traffic; the fleet
spreads its gates over several of these processes.

Talks to the orchestrator over two multiprocessing queues. Commands in: `("go",)` starts the
traffic (once the server is subscribed and every gate connected); `("mark", label)` notes
every gate's last committed seq, and the worker reports `recovered` once every gate is connected
again and the server has acked everything up to that mark; `("finish",)` stops the traffic,
waits (bounded) until every record is settled and every mark is recovered, sends the `final`
per-gate snapshots and ends.
Reports out: `progress` every half second (connected gates, records committed, unsettled).
"""

from __future__ import annotations

import heapq
import logging
import os
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from host_sim.fleet.gate import FleetGate, GateSpec

REPORT_S = 0.5


class Traffic:
    """Poisson arrivals per gate at `rate_hz` on one thread; each arrival is one commit."""

    def __init__(self, gates: list[FleetGate], rate_hz: float, seed: int) -> None:
        self._gates = gates
        self._rate = rate_hz
        self._rng = random.Random(seed)
        self.running = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self.errors = 0

    def start(self) -> None:
        if self._rate > 0 and self._gates:
            self.running.set()
            self._thread.start()

    def stop(self) -> None:
        self.running.clear()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _run(self) -> None:
        now = time.monotonic()
        due = [(now + self._rng.expovariate(self._rate), i) for i in range(len(self._gates))]
        heapq.heapify(due)
        while self.running.is_set():
            at, i = due[0]
            wait = at - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 0.05))
                continue
            try:
                self._gates[i].emit(self._rng)
            except Exception:
                self.errors += 1
                logging.getLogger(__name__).exception("emit failed")
            heapq.heapreplace(due, (at + self._rng.expovariate(self._rate), i))


def exit_with_parent() -> None:
    """End this process when the one that started it is gone (a killed run must not leave
    gates or consumers behind: multiprocessing reaps its children only on a normal exit)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _unsettled(snapshot: dict[str, Any]) -> int:
    oldest = snapshot["oldest_unsettled"]
    return 0 if oldest is None else snapshot["last_seq"] - oldest + 1


def _recovered(gates: list[FleetGate], marks: dict[str, int]) -> bool:
    for gate in gates:
        if not gate.link.connected:
            return False
        oldest = gate.outbox.oldest_unsettled()
        if oldest is not None and oldest <= marks[gate.spec.device_id]:
            return False
    return True


def worker_main(index: int, specs: list[GateSpec], rate_hz: float, seed: int,
                drain_timeout_s: float, start_gap_s: float, commands: Any, reports: Any) -> None:
    """Process entry point: build and run `specs`, obey `commands`, write to `reports`.
    The gates' first connects are `start_gap_s` apart (a district's power-on is not a storm:
    on NATS each connect makes three replicated JetStream consumers)."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    exit_with_parent()
    gates = [FleetGate(spec) for spec in specs]
    next_report = time.monotonic()
    for n, gate in enumerate(gates):
        gate.start()
        if time.monotonic() >= next_report:  # the orchestrator sees the start-up as it goes
            next_report = time.monotonic() + REPORT_S
            reports.put({"type": "progress", "worker": index, "t": time.time(),
                         "gates": len(gates), "started": n + 1,
                         "connected": sum(g.link.connected for g in gates[:n + 1])})
        time.sleep(start_gap_s if n else 0)
    traffic = Traffic(gates, rate_hz, seed)
    marks: dict[str, dict[str, int]] = {}
    finishing_since: float | None = None
    try:
        while True:
            try:
                command = commands.get(timeout=REPORT_S)
            except queue.Empty:
                command = None
            if command is not None and command[0] == "go":
                traffic.start()
            elif command is not None and command[0] == "mark":
                marks[command[1]] = {g.spec.device_id: g.outbox.last_seq() for g in gates}
            elif command is not None and command[0] == "finish":
                traffic.stop()
                finishing_since = time.monotonic()
            snaps = [g.snapshot() for g in gates]
            unsettled = sum(_unsettled(s) for s in snaps)
            reports.put({
                "type": "progress", "worker": index, "t": time.time(),
                "gates": len(gates), "connected": sum(s["connected"] for s in snaps),
                "committed": sum(s["last_seq"] for s in snaps), "unsettled": unsettled,
                "emit_errors": traffic.errors,
            })
            for label in [m for m in marks if _recovered(gates, marks[m])]:
                reports.put({"type": "recovered", "worker": index, "label": label,
                             "t": time.time()})
                del marks[label]
            # Done when everything is settled and every fault's mark is resolved: a gate that
            # had nothing unsettled may still be reconnecting after a late fault, and a final
            # sent before its `recovered` would make that fault's recovery look like never.
            if finishing_since is not None and (
                    (unsettled == 0 and not marks)
                    or time.monotonic() - finishing_since > drain_timeout_s):
                reports.put({"type": "final", "worker": index, "gates": snaps,
                             "drained": unsettled == 0})
                return
    finally:
        traffic.stop()
        stop_all(gates)


def stop_all(gates: list[FleetGate]) -> None:
    """Stop every gate's link (offline record, DISCONNECT) in parallel, then its outbox."""
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(FleetGate.stop, gates))
