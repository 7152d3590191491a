"""`gatekiosk events`: the gate's own records, read from its outbox, for a technician.

    gatekiosk events --config FILE [--since T] [--until T] [--decision granted|denied]
                     [--reason CODE] [--kind access|exit_request|remote_open|alarm]
                     [--settled | --unsettled] [--format jsonl|csv] [--export DIR]
                     [--outbox FILE]
    gatekiosk events --config FILE --device-key      # the public key the server registers

It only ever reads: the outbox is opened with SQLite's `mode=ro`, so nothing is settled,
pruned or written, and it is safe while the kiosk runs. `--since/--until` take ISO 8601
(`2026-12-03T08:00`, UTC unless an offset is given) or epoch seconds, and compare with the time
the record was committed. `--export DIR` writes every record not yet acknowledged by the
server (after the filters) as a signed archive into DIR (see `firmware.store.export`).
`--outbox FILE` reads another outbox than `<data_dir>/outbox.db`: one the kiosk kept aside as
damaged (`outbox.db.damaged-<UTC>`, README "A damaged store"), whose records are exported under
their own stream so the server takes them without duplicates.
Exit 0 done, 1 the outbox or export failed, 2 bad usage; errors are one line.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from firmware.config import ConfigError, load
from firmware.store import export as record_export

KINDS = ("access", "exit_request", "remote_open", "alarm")
CSV_COLUMNS = (
    "seq", "type", "time", "kind", "decision", "reasons", "alarm", "severity", "state",
    "pass_id", "pass_type", "body_c", "door_opened", "settled", "event_id",
)


@dataclass(frozen=True)
class StoredRecord:
    seq: int
    type: str  # event | alarm
    created_at: float
    published: bool
    settled: bool
    payload: dict[str, Any]


def parse_time(text: str) -> float:
    """Epoch seconds from epoch digits or ISO 8601 (naive means UTC); ValueError otherwise."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither ISO 8601 nor epoch seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def open_read_only(path: Path) -> sqlite3.Connection:
    """The outbox, read-only: SQLite refuses any write through this connection.

    With the kiosk running, its `-wal` file exists and `mode=ro` reads through it. With the
    kiosk stopped there is none, and even a read-only WAL reader would create empty `-wal` and
    `-shm` files: the file is then opened `immutable`, so not a byte of the directory changes.
    """
    if not path.exists():
        raise sqlite3.OperationalError(f"{path}: no outbox here")
    wal = path.with_name(path.name + "-wal")
    options = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{options}", uri=True, timeout=5.0)
    conn.execute("PRAGMA query_only = ON")
    return conn


def stream_of(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = 'stream'").fetchone()
    return str(row[0]) if row else ""


def read_records(conn: sqlite3.Connection, args: argparse.Namespace) -> Iterator[StoredRecord]:
    """Rows in seq order that pass every filter given on the command line."""
    where, params = [], []
    if args.since is not None:
        where.append("created_at >= ?")
        params.append(args.since)
    if args.until is not None:
        where.append("created_at <= ?")
        params.append(args.until)
    if args.settled:
        where.append("settled_at IS NOT NULL")
    if args.unsettled or args.export:
        where.append("settled_at IS NULL")
    sql = "SELECT seq, kind, created_at, published_at, settled_at, payload FROM outbox"
    if where:
        sql += " WHERE " + " AND ".join(where)
    for seq, kind, created, published, settled, text in conn.execute(sql + " ORDER BY seq",
                                                                      params):
        payload = json.loads(text)
        record = StoredRecord(seq, kind, created, published is not None, settled is not None,
                              payload)
        if matches(record, args):
            yield record


def matches(record: StoredRecord, args: argparse.Namespace) -> bool:
    p = record.payload
    if args.kind is not None:
        kind = "alarm" if record.type == "alarm" else p.get("kind")
        if kind != args.kind:
            return False
    if args.decision is not None and p.get("decision") != args.decision:
        return False
    return args.reason is None or args.reason in (p.get("reasons") or [])


def csv_row(record: StoredRecord) -> dict[str, Any]:
    p = record.payload
    held_pass = p.get("pass") or {}
    temperature = p.get("temperature") or {}
    door = p.get("door") or {}
    return {
        "seq": record.seq, "type": record.type, "time": p.get("time"), "kind": p.get("kind"),
        "decision": p.get("decision"), "reasons": ";".join(p.get("reasons") or []),
        "alarm": p.get("alarm"), "severity": p.get("severity"), "state": p.get("state"),
        "pass_id": held_pass.get("id"), "pass_type": held_pass.get("type"),
        "body_c": temperature.get("body_c"), "door_opened": door.get("opened"),
        "settled": record.settled, "event_id": p.get("event_id"),
    }


def write_records(records: Iterator[StoredRecord], fmt: str, out: TextIO) -> int:
    count = 0
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for record in records:
        count += 1
        if writer is not None:
            writer.writerow(csv_row(record))
        else:
            line = {"seq": record.seq, "type": record.type, "settled": record.settled,
                    "published": record.published, "record": record.payload}
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return count


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the kiosk's configuration (TOML)")
    parser.add_argument("--since", help="from this time (ISO 8601 or epoch seconds)")
    parser.add_argument("--until", help="up to this time (ISO 8601 or epoch seconds)")
    parser.add_argument("--decision", choices=("granted", "denied"))
    parser.add_argument("--reason", help="only records with this reason code")
    parser.add_argument("--kind", choices=KINDS)
    settled = parser.add_mutually_exclusive_group()
    settled.add_argument("--settled", action="store_true", help="only acknowledged records")
    settled.add_argument("--unsettled", action="store_true", help="only unacknowledged ones")
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--export", metavar="DIR", help="write a signed archive of the "
                        "unacknowledged records into DIR (a USB stick)")
    parser.add_argument("--outbox", metavar="FILE", help="read this outbox instead of "
                        "<data_dir>/outbox.db (e.g. one kept aside as damaged)")
    parser.add_argument("--device-key", action="store_true",
                        help="print this gate's public export key (JWKS) and exit")


def main(args: argparse.Namespace) -> int:
    if args.export and args.settled:
        sys.stderr.write("gatekiosk events: --export takes the unacknowledged records; "
                         "drop --settled\n")
        return 2
    try:
        args.since = None if args.since is None else parse_time(args.since)
        args.until = None if args.until is None else parse_time(args.until)
        cfg = load(args.config)
    except (ValueError, ConfigError) as exc:  # ConfigError is a ValueError too
        sys.stderr.write(f"gatekiosk events: {exc}\n")
        return 2
    data_dir = Path(cfg.device.data_dir)
    try:
        if args.device_key:
            key = record_export.device_key(data_dir, cfg.device.id)
            print(json.dumps(record_export.public_jwks(key)))
            return 0
        conn = open_read_only(Path(args.outbox) if args.outbox else data_dir / "outbox.db")
        try:
            if args.export:
                records = [(r.type, r.payload) for r in read_records(conn, args)]
                key = record_export.device_key(data_dir, cfg.device.id)
                out = record_export.write_export(Path(args.export), records, key,
                                                 cfg.device.id, stream_of(conn), time.time())
                print(f"gatekiosk events: {len(records)} unacknowledged records -> {out}")
                return 0
            write_records(read_records(conn, args), args.format, sys.stdout)
        finally:
            conn.close()
    except (sqlite3.Error, OSError, ValueError, record_export.ExportError) as exc:
        sys.stderr.write(f"gatekiosk events: {exc}\n")
        return 1
    return 0
