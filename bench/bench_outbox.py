"""Outbox and delivery figures: durable commits per second, backlog drain rate to a local
Mosquitto with the server stand-in acking, and decision-to-settlement latency.

Commits are `synchronous=FULL` on the disk holding the temp directory; the drain and the latency
go through a real broker on loopback, a real `MqttLink` and the community-server stand-in, and a
row counts only once the server's ack has settled it.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from firmware import payloads
from firmware.clock import SystemClock
from firmware.link import MqttLink, MqttSettings
from firmware.store.outbox import Outbox, Settlement
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer

COMMUNITY, GATE, DEVICE = "bench-community", "gate-1", "kiosk-1"
BACKLOG = 10_000
WINDOWS = (10, 50)
LATENCY_RATE_HZ = 50.0
LATENCY_SAMPLES = 400
DRAIN_TIMEOUT_S = 30.0
IDENTITY = payloads.Identity(device_id=DEVICE, community_id=COMMUNITY, gate_id=GATE,
                           direction="in", boot_id="00000000-0000-4000-8000-000000000000")


class TimedOutbox(Outbox):
    """Notes the moment each seq is settled by a server ack."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settled_at: dict[int, float] = {}
        self._through = 0

    def settle_through(self, stream: str, through_seq: int) -> Settlement:
        settled = super().settle_through(stream, through_seq)
        now = time.perf_counter()
        for seq in range(self._through + 1, through_seq + 1):
            self.settled_at.setdefault(seq, now)
        self._through = max(self._through, through_seq)
        return settled


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _event(clock: SystemClock) -> dict[str, Any]:
    return payloads.door_event(IDENTITY, payloads.KIND_EXIT_REQUEST, clock.time(), clock.synced(),
                             open_seconds=5.0)


def _link(broker: MosquittoBroker, outbox: Outbox, clock: SystemClock, window: int) -> MqttLink:
    def state(kind: str) -> dict[str, Any]:
        return {"schema": "gatekiosk/state/v1", "state": kind, "device_id": DEVICE,
                "community_id": COMMUNITY, "gate_id": GATE, "firmware": IDENTITY.firmware,
                "boot_id": IDENTITY.boot_id, "time": payloads.iso_time(clock.time()),
                "clock_synced": False, "config_hash": "0" * 64}

    return MqttLink(
        MqttSettings(brokers=[broker.address], client_id=DEVICE, window=window,
                     backoff_initial_s=0.05, backoff_max_s=0.5),
        clock=clock, community_id=COMMUNITY, gate_id=GATE, device_id=DEVICE, outbox=outbox,
        state_payload=lambda: state("online"), will_payload=lambda: state("offline"),
        on_message=lambda *_: None,
    )


def _wait(predicate: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _commits_and_drain(workdir: Path, broker: MosquittoBroker, clock: SystemClock,
                       window: int, report: dict[str, Any]) -> None:
    outbox = TimedOutbox(workdir / f"drain-{window}.db", clock=clock)
    try:
        commit_s = []
        started = time.perf_counter()
        for _ in range(BACKLOG):
            t0 = time.perf_counter()
            outbox.append("event", _event(clock))
            commit_s.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        if "commits_per_s" not in report:
            report["commits_per_s"] = round(BACKLOG / elapsed)
            report["commit_ms_p50"] = round(_percentile(commit_s, 0.5) * 1000, 3)
            report["commit_ms_p99"] = round(_percentile(commit_s, 0.99) * 1000, 3)
            print(f"   outbox commits (synchronous=FULL): {report['commits_per_s']}/s, "
                  f"p50 {report['commit_ms_p50']} ms, p99 {report['commit_ms_p99']} ms")
        with CommunityServer(broker.host, broker.port, COMMUNITY,
                             client_id=f"bench-server-{window}") as server:
            link = _link(broker, outbox, clock, window)
            started = time.perf_counter()
            link.start()
            try:
                drained = _wait(lambda: len(outbox.settled_at) >= BACKLOG, DRAIN_TIMEOUT_S)
                elapsed = time.perf_counter() - started
            finally:
                link.stop()
            gaps = server.gaps(DEVICE, outbox.stream)
        rate = round(len(outbox.settled_at) / elapsed)
        report[f"drain_events_per_s_window_{window}"] = rate
        status = "" if drained and not gaps else f" (INCOMPLETE: {len(gaps)} gaps)"
        print(f"   backlog drain, {BACKLOG} events, window {window}: {rate} events/s "
              f"settled by server ack{status}")
    finally:
        outbox.close()


def _latency(workdir: Path, broker: MosquittoBroker, clock: SystemClock,
             report: dict[str, Any]) -> None:
    outbox = TimedOutbox(workdir / "latency.db", clock=clock)
    try:
        with CommunityServer(broker.host, broker.port, COMMUNITY, client_id="bench-latency"):
            link = _link(broker, outbox, clock, WINDOWS[0])
            link.start()
            try:
                _wait(lambda: link.connected, 10)
                decided: dict[int, float] = {}
                pace = threading.Event()
                for _ in range(LATENCY_SAMPLES):
                    t0 = time.perf_counter()
                    decided[outbox.append("event", _event(clock))["seq"]] = t0
                    pace.wait(1.0 / LATENCY_RATE_HZ)
                _wait(lambda: len(outbox.settled_at) >= LATENCY_SAMPLES, DRAIN_TIMEOUT_S)
            finally:
                link.stop()
        latencies = [(outbox.settled_at[s] - t) * 1000 for s, t in decided.items()
                     if s in outbox.settled_at]
        report["settle_ms_p50"] = round(_percentile(latencies, 0.5), 2)
        report["settle_ms_p99"] = round(_percentile(latencies, 0.99), 2)
        report["settle_ms_mean"] = round(statistics.fmean(latencies), 2)
        report["settle_samples"] = len(latencies)
        print(f"   decision -> settled by server ack, {LATENCY_RATE_HZ:.0f} events/s: "
              f"p50 {report['settle_ms_p50']} ms, p99 {report['settle_ms_p99']} ms "
              f"({len(latencies)} of {LATENCY_SAMPLES})")
    finally:
        outbox.close()


def run() -> dict[str, Any]:
    """Measure and print; returns the figures for bench/report.json."""
    clock = SystemClock()
    workdir = Path(tempfile.mkdtemp(prefix="gatekiosk-bench-outbox-"))
    report: dict[str, Any] = {"backlog_events": BACKLOG, "latency_rate_hz": LATENCY_RATE_HZ}
    try:
        with MosquittoBroker(workdir / "broker") as broker:
            for window in WINDOWS:
                _commits_and_drain(workdir, broker, clock, window, report)
            _latency(workdir, broker, clock, report)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return report
