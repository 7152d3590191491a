"""The community server of a simulated compound: the stand-in with a database and a voice.

On top of `CommunityServer` (validation, de-duplication, gap detection, acks) it commits every
new record to SQLite before the ack that covers it goes out, publishes signed status lists,
sends signed commands, and sums up what it holds per gate.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from firmware import credentials
from host_sim import schemas
from host_sim.community_server import CommunityServer, Record
from host_sim.publisher import publish_status_list, send_command

COMMAND_SCHEMA = "gatekiosk/command/v1"
COMMAND_LIFETIME_S = 30

_TABLE = """CREATE TABLE IF NOT EXISTS record (
    device_id TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
    gate_id TEXT NOT NULL, kind TEXT NOT NULL, event_id TEXT NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (device_id, stream, seq))"""


class CompoundServer(CommunityServer):
    """Takes a compound's gates' records into `database`; publishes lists and commands."""

    def __init__(self, host: str, port: int, community_id: str, database: Path,
                 admin_key: dict[str, Any], **options: Any) -> None:
        options.setdefault("validate", schemas.validate)
        super().__init__(host, port, community_id, **options)
        self.community_id = community_id
        self._admin_key = admin_key
        self._db_lock = threading.Lock()
        self._db = sqlite3.connect(str(database), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_TABLE)
        self._db.commit()
        self.log: list[tuple[str, dict[str, Any]]] = []  # (kind, payload) in arrival order

    def _commit(self, gate: str, record: Record) -> None:
        with self._db_lock:
            self._db.execute(
                "INSERT OR IGNORE INTO record VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.device_id, record.stream, record.seq, gate, record.kind,
                 record.event_id, json.dumps(record.payload, separators=(",", ":"))))
            self._db.commit()
        self.log.append((record.kind, record.payload))

    def close(self) -> None:
        """Disconnect and close the database."""
        self.stop()
        with self._db_lock:
            self._db.close()

    # -- the community's voice -----------------------------------------------------------------

    def publish_status_list(self, token: str) -> None:
        """Publish `token` as the retained status list."""
        publish_status_list(self._host, self._port, self.community_id, token)

    def send_open(self, gate_id: str, now: float, reason: str = "remote open") -> str:
        """A signed `open` command to `gate_id`, dated by the gate's `now`; returns its jti."""
        jti = f"open-{uuid.uuid4().hex[:12]}"
        token = credentials.sign_token(
            {"iss": self.community_id, "sub": "duty-desk", "aud": gate_id, "cmd": "open",
             "jti": jti, "iat": int(now), "exp": int(now) + COMMAND_LIFETIME_S,
             "args": {"reason": reason}},
            self._admin_key, "gatecmd+jwt")
        payload = json.dumps({"schema": COMMAND_SCHEMA, "token": token}).encode()
        send_command(self._host, self._port, self.community_id, gate_id, "open", payload)
        return jti

    # -- what it holds -------------------------------------------------------------------------

    def stored(self, gate_id: str | None = None) -> list[dict[str, Any]]:
        """Every record in the database (optionally one gate's), by device, stream and seq."""
        query = "SELECT payload FROM record"
        args: tuple[str, ...] = ()
        if gate_id is not None:
            query += " WHERE gate_id = ?"
            args = (gate_id,)
        with self._db_lock:
            rows = self._db.execute(query + " ORDER BY device_id, stream, seq", args).fetchall()
        return [json.loads(row[0]) for row in rows]

    def summary(self) -> dict[str, Any]:
        """Events by decision and reason, alarms, duplicates dropped, gaps — per gate."""
        gates: dict[str, Any] = {}
        for payload in self.stored():
            gate = gates.setdefault(payload["gate_id"], {
                "events": 0, "alarms": 0, "by_decision": Counter(), "by_reason": Counter(),
                "by_kind": Counter(), "alarms_by_name": Counter(), "streams": set()})
            gate["streams"].add((payload["device_id"], payload["stream"]))
            if "alarm" in payload:
                gate["alarms"] += 1
                gate["alarms_by_name"][f"{payload['alarm']}:{payload.get('state', '')}"] += 1
                continue
            gate["events"] += 1
            gate["by_kind"][payload["kind"]] += 1
            gate["by_decision"][payload["decision"]] += 1
            for reason in payload["reasons"]:
                gate["by_reason"][reason] += 1
        for gate in gates.values():
            streams = sorted(gate.pop("streams"))
            gate["gaps"] = sum(len(self.gaps(d, s)) for d, s in streams)
            gate["streams"] = len(streams)
            for key in ("by_decision", "by_reason", "by_kind", "alarms_by_name"):
                gate[key] = dict(sorted(gate[key].items()))
        return {
            "gates": dict(sorted(gates.items())),
            "records": self.record_count(),
            "duplicates_dropped": self.duplicates,
            "gaps": sum(g["gaps"] for g in gates.values()),
            "schema_problems": len(self.problems),
        }
