"""`gatekiosk-sim fleet`: many gates against a broker cluster, with faults, and a JSON summary.

    gatekiosk-sim fleet [--gates N] [--communities C] [--workers W] [--partitions P]
                        [--rate HZ] [--duration S] [--nodes K | --broker HOST:PORT ...]
                        [--fault AT:ACTION[:NODE] ...] [--no-jitter] [--shared]
                        [--gate-qos 0|1] [--server-qos 0|1] [--connect-rate R]

Without `--broker` it starts its own K-node NATS cluster (JetStream, MQTT, 3 replicas). Progress
goes to stderr; the last line on stdout is the summary (events sent, stored, duplicates, gaps,
reconnects, time to recover). Exits 0 when every committed record reached the server exactly
as committed (no gap, duplicates only as repeats) and every gate drained.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from host_sim.fleet.run import Fault, FleetConfig, FleetRun


def _fault(text: str) -> Fault:
    try:
        return Fault.parse(text)
    except ValueError as exc:  # argparse shows only its own words for a plain ValueError
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gatekiosk-sim fleet", description=__doc__.split("\n\n")[0])
    p.add_argument("--gates", type=int, default=40, help="gates in the fleet")
    p.add_argument("--communities", type=int, default=1,
                   help="communities the gates are dealt over (each its own topic tree and "
                        "status list; with at least --partitions of them the server takes "
                        "whole communities by wildcard)")
    p.add_argument("--workers", type=int, default=2, help="processes holding the gates")
    p.add_argument("--partitions", type=int, default=2, help="server consumers")
    p.add_argument("--rate", type=float, default=0.5, help="records per second per gate")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of traffic")
    p.add_argument("--nodes", type=int, default=3, help="NATS nodes to start (no --broker)")
    p.add_argument("--broker", action="append", default=[],
                   help="use this broker (host:port, repeat) instead of starting a cluster")
    p.add_argument("--protocol", choices=("3.1.1", "5"), default="3.1.1")
    p.add_argument("--shared", action="store_true",
                   help="server consumers share $share/ wildcards (MQTT 5 brokers only)")
    p.add_argument("--server-qos", type=int, choices=(0, 1), default=1,
                   help="QoS of the server's subscriptions (0: no JetStream consumer each on "
                        "NATS; a record the server missed comes again after the gate's ack "
                        "timeout)")
    p.add_argument("--gate-qos", type=int, choices=(0, 1), default=1,
                   help="QoS of the gates' own subscriptions, [mqtt] subscribe_qos (0: no "
                        "JetStream consumer each on NATS)")
    p.add_argument("--connect-rate", type=float, default=40.0,
                   help="gates' first connects per second at start-up, over all workers")
    p.add_argument("--fault", action="append", default=[], type=_fault,
                   help="AT:ACTION[:NODE], ACTION one of kill, restart, kill-all, restart-all")
    p.add_argument("--no-jitter", action="store_true",
                   help="bench only: every gate backs off the same (lock-step reconnects)")
    p.add_argument("--backoff-initial", type=float, default=0.5)
    p.add_argument("--backoff-max", type=float, default=8.0)
    p.add_argument("--connect-timeout", type=float, default=5.0,
                   help="a gate's CONNECT-to-CONNACK limit (NATS is slow to set up sessions "
                        "while hundreds connect)")
    p.add_argument("--drain-timeout", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", help="keep the cluster's and server's files here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    if (args.gates < 1 or args.workers < 1 or args.partitions < 1 or args.rate < 0
            or args.connect_rate <= 0 or not 1 <= args.communities <= args.gates):
        print("gatekiosk-sim fleet: gates, workers and partitions >= 1, communities 1..gates, "
              "rate >= 0, connect rate > 0",
              file=sys.stderr)
        return 2
    if args.shared and args.protocol != "5" and not args.broker:
        print("gatekiosk-sim fleet: --shared needs an MQTT 5 broker (--broker)", file=sys.stderr)
        return 2
    config = FleetConfig(
        gates=args.gates, workers=min(args.workers, args.gates), partitions=args.partitions,
        communities=args.communities, gate_qos=args.gate_qos,
        rate_hz=args.rate, duration_s=args.duration, nodes=args.nodes, brokers=args.broker,
        protocol=args.protocol, shared=args.shared, server_qos=args.server_qos,
        connect_rate=args.connect_rate, jitter=not args.no_jitter,
        backoff_initial_s=args.backoff_initial, backoff_max_s=args.backoff_max,
        connect_timeout_s=args.connect_timeout,
        faults=args.fault, drain_timeout_s=args.drain_timeout, seed=args.seed,
        workdir=args.workdir,
    )
    try:
        summary = FleetRun(config).run()
    except (ValueError, TimeoutError, RuntimeError) as exc:
        print(f"gatekiosk-sim fleet: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, separators=(",", ":")))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
