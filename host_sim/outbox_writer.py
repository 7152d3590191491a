"""A stand-in gate process for delivery tests: commits events to an outbox and sends them.

    python -m host_sim.outbox_writer --db OUTBOX.db --broker 127.0.0.1:1883 --count 200

It appends exit-button events (every `--alarm-every`-th record an alarm, so both share one
numbering) at a steady pace until the outbox's stream holds `--count` records, printing
`committed <seq> <event_id>` after each commit returns, then waits until everything is settled
and prints `drained <last seq>`. Tests SIGKILL it at random moments and start it again on the
same database: the records it printed must all reach the server, gap-free.
SIGTERM stops it cleanly (retained offline state, DISCONNECT).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import signal
import sys
import threading
import uuid
from typing import Any

from firmware import __version__, payloads
from firmware.clock import SystemClock
from firmware.link import MqttLink, MqttSettings
from firmware.store.outbox import Outbox, OutboxError

DRAIN_POLL_S = 0.05


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outbox_writer", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="outbox database file")
    parser.add_argument("--broker", action="append", required=True, help="host:port (repeat)")
    parser.add_argument("--community", default="test-community")
    parser.add_argument("--gate", default="gate-1")
    parser.add_argument("--device", default="kiosk-1")
    parser.add_argument("--count", type=int, default=100, help="records in the stream in all")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between records")
    parser.add_argument("--alarm-every", type=int, default=7, help="every n-th is an alarm")
    parser.add_argument("--settle", choices=("ack", "puback"), default="ack")
    parser.add_argument("--protocol", choices=("5", "3.1.1"), default="5")
    parser.add_argument("--keepalive", type=int, default=5)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--backoff-initial", type=float, default=0.05)
    parser.add_argument("--backoff-max", type=float, default=0.5)
    parser.add_argument("--ack-timeout", type=float, default=2.0)
    parser.add_argument("--exit-when-drained", action="store_true")
    return parser


def _state(args: argparse.Namespace, boot_id: str, clock: SystemClock,
           state: str) -> dict[str, Any]:
    return {
        "schema": "gatekiosk/state/v1",
        "state": state,
        "device_id": args.device,
        "community_id": args.community,
        "gate_id": args.gate,
        "firmware": __version__,
        "boot_id": boot_id,
        "time": payloads.iso_time(clock.time()),
        "clock_synced": clock.synced(),
        "config_hash": hashlib.sha256(repr(sorted(vars(args).items())).encode()).hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    clock = SystemClock()
    boot_id = str(uuid.uuid4())
    identity = payloads.Identity(device_id=args.device, community_id=args.community,
                               gate_id=args.gate, direction="in", boot_id=boot_id)
    try:
        outbox = Outbox(args.db, clock=clock, settle_on=args.settle)
    except OutboxError as exc:
        print(f"outbox_writer: {exc}", file=sys.stderr)
        return 1
    settings = MqttSettings(
        brokers=args.broker, client_id=args.device, protocol=args.protocol,
        keepalive=args.keepalive, window=args.window, backoff_initial_s=args.backoff_initial,
        backoff_max_s=args.backoff_max, ack_timeout_s=args.ack_timeout,
        connect_timeout_s=5.0,
    )
    link = MqttLink(
        settings, clock=clock, community_id=args.community, gate_id=args.gate,
        device_id=args.device, outbox=outbox,
        state_payload=lambda: _state(args, boot_id, clock, "online"),
        will_payload=lambda: _state(args, boot_id, clock, "offline"),
        on_message=lambda kind, name, payload, retained: None,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    link.start()
    print(f"started stream {outbox.stream} boot {boot_id}", flush=True)
    try:
        while not stopping.is_set() and outbox.last_seq() < args.count:
            seq = outbox.last_seq() + 1
            if args.alarm_every and seq % args.alarm_every == 0:
                record = outbox.append("alarm", payloads.alarm(
                    identity, "door_held_open", clock.time(), clock.synced(),
                    detail={"open_s": 31.0}))
            else:
                record = outbox.append("event", payloads.door_event(
                    identity, payloads.KIND_EXIT_REQUEST, clock.time(), clock.synced(),
                    open_seconds=5.0))
            print(f"committed {record['seq']} {record['event_id']}", flush=True)
            stopping.wait(args.interval)
        while not stopping.is_set() and outbox.unsettled() > 0:
            stopping.wait(DRAIN_POLL_S)
        if not stopping.is_set():
            print(f"drained {outbox.last_seq()}", flush=True)
            if not args.exit_when_drained:
                stopping.wait()
    finally:
        link.stop()
        outbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
