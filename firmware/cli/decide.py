"""`gatekiosk decide`: one decision, dry-run, printed as the event JSON.

For technicians explaining a decision and for external test vectors:
    gatekiosk decide --jwks FILE --community ID --gate ID [--direction in|out]
        [--status-list FILE] [--now EPOCH] [--temp C]... (--code TEXT | --code-file FILE)

The code may be either pass form (a JWT, or a compact `GK1:` pass); both are read by the
gate's own entry point. Exit 0 whenever a decision was made, granted or denied; usage errors
(unreadable files, an unusable JWKS, bad ids) exit 2 with one line on stderr. A status list
that fails verification is treated as the gate treats one (DESIGN 2.2): ignored, with a
one-line note on stderr, and the decision goes on without it. No code, however malformed,
raises a traceback. The event is the one DESIGN 2.4 describes, marked as a dry run: it is never
committed, so its `stream` is all zeros and its `seq` is 0.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from firmware import credentials, payloads, timesync
from firmware.cli.errors import UsageError
from firmware.core import policy
from firmware.topics import validate_id

DRY_RUN_STREAM = "0" * 32
# The latest --now an event's ISO 8601 `time` can carry (year 9999).
MAX_NOW = 253_402_300_799


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jwks", required=True, help="trusted issuer keys (JWKS file)")
    parser.add_argument("--community", required=True, help="this gate's community id")
    parser.add_argument("--gate", required=True, help="this gate's id")
    parser.add_argument("--direction", choices=("in", "out"), default="in")
    parser.add_argument("--status-list", help="status list JWT file (as published on MQTT)")
    parser.add_argument("--now", type=float, help="decision time, epoch seconds (default: now)")
    parser.add_argument(
        "--temp",
        type=float,
        action="append",
        default=[],
        metavar="C",
        help="body temperature reading in °C; repeat for the re-measurement; none = no reading",
    )
    code = parser.add_mutually_exclusive_group(required=True)
    code.add_argument("--code", help="the QR code's text")
    code.add_argument("--code-file", help="file with the raw bytes the decoder produced")


def _load_status(path: str | None, keys: credentials.KeySet, now: float) -> policy.StatusView:
    """The status list of `path` as the gate would hold it; no list when it does not verify
    or was issued further in the future than the clock skew (DESIGN 2.2)."""
    if path is None:
        return policy.StatusView(None)
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--status-list {path}: cannot read: {exc}") from None
    result = credentials.verify_status_list_token(token, keys)
    reason = result.reason
    if result.ok and result.status_list is not None:
        skew_s = policy.GatePolicy("c", "g").skew_s
        reason = "iat_in_future" if result.status_list.issued_in_future(now, skew_s) else None
    if reason is not None or result.status_list is None:
        sys.stderr.write(
            f"gatekiosk decide: note: --status-list {path} ignored ({reason}), "
            "deciding without a list\n"
        )
        return policy.StatusView(None)
    # A dry run takes the list as received at its issue time (ttl counts from then).
    return policy.StatusView(result.status_list, received_at=float(result.status_list.iat))


def _read_code(args: argparse.Namespace) -> bytes:
    if args.code_file is None:
        return str(args.code).encode("utf-8", errors="surrogateescape")
    try:
        return Path(args.code_file).read_bytes()
    except OSError as exc:
        raise UsageError(f"--code-file {args.code_file}: cannot read: {exc.strerror}") from None


def run_decision(args: argparse.Namespace) -> dict[str, Any]:
    """Make the decision the arguments describe and return the event."""
    for flag, value in (("--community", args.community), ("--gate", args.gate)):
        try:
            validate_id(value, flag.lstrip("-"))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if args.now is not None and not (math.isfinite(args.now) and 0 <= args.now <= MAX_NOW):
        raise UsageError(f"--now must be epoch seconds between 0 and {MAX_NOW}")
    if any(not math.isfinite(t) for t in args.temp):
        raise UsageError("--temp must be a finite number of °C")
    try:
        keys = credentials.KeySet.load(args.jwks)
    except credentials.KeySetError as exc:
        raise UsageError(f"--jwks {args.jwks}: {exc}") from None
    now = time.time() if args.now is None else float(args.now)
    status = _load_status(args.status_list, keys, now)
    code = _read_code(args)

    verification = credentials.verify_pass(code, keys)
    gate = policy.GatePolicy(args.community, args.gate, direction=args.direction)
    bodies = list(args.temp) if gate.measure_temperature else None
    decision = policy.decide(
        verification.reason if not verification.ok else None,
        verification.claims,
        status,
        bodies,
        gate,
        policy.GateState(),
        now,
    )
    identity = payloads.Identity(
        device_id="dry-run",
        community_id=args.community,
        gate_id=args.gate,
        direction=args.direction,
        boot_id=str(uuid.UUID(int=0)),
    )
    temperature = payloads.temperature_record(None, gate.temperature.threshold_c, bodies)
    synced = True if args.now is not None else timesync.system_clock_synced()
    event = payloads.access_event(identity, decision, temperature, now, synced)
    event.update(event_id=str(uuid.uuid4()), stream=DRY_RUN_STREAM, seq=0)
    return event


def main(args: argparse.Namespace) -> int:
    try:
        event = run_decision(args)
    except UsageError as exc:
        sys.stderr.write(f"gatekiosk decide: {exc}\n")
        return 2
    sys.stdout.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
    return 0
