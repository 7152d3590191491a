"""The outbox's SQLite file: opened in WAL mode with synchronous=FULL, checked, numbered.

A database gets a random `stream` id when it is created and a `next_seq` counter in its `meta`
table. A file that is corrupt, empty (zero bytes), or whose numbering is damaged (the meta
table, or a `next_seq` at or below a seq already held) raises `OutboxDamaged` and is left
untouched here; the gate keeps it aside and starts a fresh one (firmware.store.damage). A file
that cannot be opened for other reasons (permissions, WAL refused) raises `OutboxError`.
"""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
from pathlib import Path

from firmware.errors import one_line
from firmware.store.damage import is_damage

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STREAM_BYTES = 16  # 16 random bytes -> 32 lowercase hex characters
BUSY_TIMEOUT_S = 5.0
# SQLite integers are signed 64-bit: a seq from the network past this never reaches it.
MAX_SEQ = 2**63 - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq          INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('event', 'alarm')),
    event_id     TEXT NOT NULL UNIQUE,
    payload      TEXT NOT NULL,
    created_at   REAL NOT NULL,
    published_at REAL,
    settled_at   REAL
);
CREATE INDEX IF NOT EXISTS outbox_unsettled ON outbox (seq) WHERE settled_at IS NULL;
"""



class OutboxError(Exception):
    """The outbox's storage failed or cannot be trusted; the message is one line."""


class OutboxDamaged(OutboxError):
    """The file's content cannot be trusted (corrupt, empty, numbering damaged)."""


def open_database(path: Path, integrity_check: bool) -> tuple[sqlite3.Connection, str]:
    """Open (or create) the outbox database: WAL, synchronous=FULL, checked; its stream id."""
    where = str(path)
    try:
        if path.exists() and path.stat().st_size == 0:
            # SQLite would take it for a new database: a new stream, seq from 1, silently.
            raise OutboxDamaged(f"outbox {where} is empty (zero bytes); file left untouched")
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            where, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
    except (OSError, sqlite3.Error) as exc:
        raise OutboxError(f"cannot open outbox {where}: {one_line(exc)}") from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OutboxError(f"outbox {where}: storage refuses WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous=FULL")
        if conn.execute("PRAGMA synchronous").fetchone()[0] != 2:
            raise OutboxError(f"outbox {where}: synchronous=FULL not accepted")
        if integrity_check:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise OutboxDamaged(
                    f"outbox {where} is corrupt ({' '.join(str(verdict).split())}); "
                    "file left untouched"
                )
        stream = _ensure_schema(conn, path)
    except OutboxError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        error = OutboxDamaged if is_damage(exc) else OutboxError
        raise error(
            f"outbox {where} is unreadable ({one_line(exc)}); file left untouched"
        ) from exc
    return conn, stream

def _ensure_schema(conn: sqlite3.Connection, path: Path) -> str:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
            conn.execute(statement)
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        held, top = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM outbox").fetchone()
        if not meta and not held:
            meta = {
                "stream": secrets.token_hex(STREAM_BYTES),
                "next_seq": "1",
                "schema_version": str(SCHEMA_VERSION),
            }
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
            log.info("outbox %s created, stream %s", path, meta["stream"])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    stream, next_seq = meta.get("stream", ""), meta.get("next_seq", "")
    if not (
        re.fullmatch(r"[0-9a-f]{16,32}", stream) and next_seq.isdigit() and int(next_seq) >= 1
    ):
        raise OutboxDamaged(f"outbox {path}: meta table is damaged; file left untouched")
    if int(next_seq) <= int(top):
        raise OutboxDamaged(
            f"outbox {path}: sequence counter {next_seq} is not past seq {top} already held; "
            "file left untouched"
        )
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        raise OutboxError(
            f"outbox {path}: schema version {meta.get('schema_version')} "
            f"is not {SCHEMA_VERSION}"
        )
    return stream
