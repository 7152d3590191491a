"""Fleet figures on a 3-node NATS cluster (JetStream, MQTT 3.1.1, 3 replicas), all on this host.

Every gate is the firmware's real outbox and MQTT link in a worker process; the server stand-in
commits to SQLite and acks; a record counts only once the server holds it and the ledger shows
no gap. Five runs, each bounded (the large ones take minutes: their start-up is paced): how
many gates the cluster holds connected, sustained records per second through the cluster with
acks, seconds until every gate is back and drained after a node is SIGKILLed, and how a
full-cluster restart's reconnects spread with and without the back-off's jitter.
Sizes: GATEKIOSK_BENCH_FLEET_GATES (held, default 1,000) and
GATEKIOSK_BENCH_FLEET_STORM_GATES (the storm, default 500).

Large fleets are a district of `COMMUNITIES` communities: the server stand-in takes whole
communities by wildcard (two JetStream consumers per community), the gates subscribe at QoS 0
(`[mqtt] subscribe_qos = 0`: no consumer per gate subscription), and they connect at start-up
at `CONNECT_RATE` gates per second, at most 120 gates per worker process (paho's select()).
"""

from __future__ import annotations

import os
import resource
from typing import Any

from host_sim.fleet.run import Fault, FleetConfig, FleetRun

HELD_GATES = int(os.environ.get("GATEKIOSK_BENCH_FLEET_GATES", "1000"))
STORM_GATES = int(os.environ.get("GATEKIOSK_BENCH_FLEET_STORM_GATES", "1000"))
GATES = 120  # the node kill
WORKERS = 3
CONNECT_RATE = 20.0
COMMUNITIES = 100
BIG = {"communities": COMMUNITIES, "gate_qos": 0, "connect_rate": CONNECT_RATE,
       "connect_timeout_s": 10.0, "drain_timeout_s": 120.0}


def _run(**settings: Any) -> dict[str, Any]:
    summary = FleetRun(FleetConfig(**settings)).run()
    if not summary["ok"]:
        print(f"   run not clean: gaps {summary['gaps']} conflicts {summary['conflicts']} "
              f"drained {summary['drained']} undrained {summary.get('undrained_gates')}")
    return summary


def _held() -> dict[str, Any]:
    s = _run(gates=HELD_GATES, workers=WORKERS, partitions=3, rate_hz=0.05,
             duration_s=30.0, **BIG)
    # Gates that reported at the end and had nothing unsettled (a worker that never reported
    # counts none of its gates).
    reported = s["gates"] * s["workers_reported"] // s["workers"]
    drained = reported - s["undrained_count"]
    print(f"   {s['connected_at_start']}/{s['gates']} gates connected by the cluster "
          f"({CONNECT_RATE:g} connects/s at start-up, {COMMUNITIES} communities), "
          f"{s['workers']} worker processes "
          f"({s['gates'] // s['workers']} gates each, 2 threads per gate); {drained} gates "
          f"acked to the end (subscriptions working), {s['stored']}/{s['events_sent']} records "
          f"stored, gaps {s['gaps']}, reconnects {s['reconnects']}, workers reported "
          f"{s['workers_reported']}/{s['workers']}, ok={s['ok']}")
    return {"gates": s["gates"], "connected": s["connected_at_start"], "drained_gates": drained,
            "communities": COMMUNITIES, "gate_qos": 0, "workers": s["workers"],
            "workers_reported": s["workers_reported"], "ok": s["ok"],
            "events_sent": s["events_sent"],
            "stored": s["stored"], "gaps": s["gaps"], "reconnects": s["reconnects"]}


def _throughput() -> dict[str, Any]:
    gates, rate = 60, 2.5
    s = _run(gates=gates, workers=2, partitions=3, rate_hz=rate, duration_s=20.0)
    print(f"   sustained: {s['events_per_s']} records/s committed by {gates} gates "
          f"(offered {gates * rate:.0f}/s), all stored and acked: {s['ok']} "
          f"({s['duplicates']} duplicates)")
    return {"gates": gates, "offered_per_s": gates * rate, "events_per_s": s["events_per_s"],
            "stored": s["stored"], "duplicates": s["duplicates"], "ok": s["ok"]}


def _node_kill() -> dict[str, Any]:
    s = _run(gates=GATES, workers=WORKERS, partitions=3, rate_hz=0.2, duration_s=30.0,
             faults=[Fault(5.0, "kill", 0), Fault(25.0, "restart", 0)])
    recover = s["time_to_recover_s"]["5:kill:0"]
    moved = s["connects_after_fault"]["5:kill:0"]["connects"]
    print(f"   node SIGKILLed under {s['gates']} gates ({moved} reconnected elsewhere): every "
          f"gate back and drained after {recover} s; gaps {s['gaps']}, ok={s['ok']}")
    return {"gates": s["gates"], "recover_s": recover, "reconnected": moved,
            "gaps": s["gaps"], "ok": s["ok"]}


def _storm(jitter: bool) -> dict[str, Any]:
    s = _run(gates=STORM_GATES, workers=WORKERS, partitions=3, rate_hz=0.05,
             duration_s=60.0, jitter=jitter, backoff_initial_s=1.0, backoff_max_s=16.0,
             faults=[Fault(4.0, "kill-all"), Fault(12.0, "restart-all")], **BIG)
    tries = s["attempts_after_fault"]["4:kill-all"]
    back = s["connects_after_fault"]["12:restart-all"]
    recover = s["time_to_recover_s"]["12:restart-all"]
    print(f"   full-cluster kill under {s['connected_at_start']}/{s['gates']} connected gates "
          f"+ restart 8 s later, jitter {'on ' if jitter else 'off'}: "
          f"connect attempts p99 {tries['p99_per_s']:.0f}/s, peak {tries['peak_per_s']:.0f}/s "
          f"(100 ms bins); accepted reconnects peak {back['peak_per_s']:.0f}/s; every gate "
          f"back and drained {recover} s after the restart; gaps {s['gaps']}, undrained "
          f"{s['undrained_count']}")
    print(f"     attempts per second from the kill: {tries['timeline'][:60]}")
    print(f"     accepted connects per second from the restart: {back['timeline'][:60]}")
    return {"gates": s["gates"], "connected": s["connected_at_start"],
            "attempts_p99_per_s": tries["p99_per_s"], "attempts_peak_per_s": tries["peak_per_s"],
            "reconnects_peak_per_s": back["peak_per_s"], "recover_s": recover,
            "ok": s["ok"], "gaps": s["gaps"], "undrained": s["undrained_count"],
            "attempts_timeline": tries["timeline"], "connects_timeline": back["timeline"]}


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {
        "held": _held(),
        "throughput": _throughput(),
        "node_kill": _node_kill(),
        "storm_jitter": _storm(True),
        "storm_no_jitter": _storm(False),
    }
    figures["max_rss_mb_orchestrator"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures
