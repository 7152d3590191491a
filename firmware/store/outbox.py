"""The durable outbox: every event and alarm is on disk before the door moves (DESIGN 1.3, 2.5).

Why SQLite in WAL mode with `synchronous=FULL` (FIELD-NOTES, SQLite): WAL with
`synchronous=NORMAL` survives a crashed or killed process, but after a power cut it may lose the
last transactions. `FULL` fsyncs the write-ahead log at every commit, so a record that `append`
returned is on the storage even if the power goes a moment later — as far as the storage honours
fsync, which many SD cards do not: the kiosk's card has to be tested for it. WAL also lets the
sender read while the app writes, and a commit is one sequential write.

Numbering: the database gets a random `stream` id when it is created; `seq` counts every event
and alarm together, contiguously, from 1, and survives restarts. A new database (replaced card)
starts a new stream, so the server never confuses two histories.

Settlement: a row is settled when the server's ack covers it (`settle_through`), or — with
`settle_on="puback"`, for a server that never acks — when the broker PUBACKs it
(`mark_published`). Only settled rows are ever deleted (`prune`); unsettled rows are kept however
many there are, and `high_water()` tells the app to raise `outbox_high_water` well before the
disk is full.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware.clock import Clock
from firmware.errors import one_line
from firmware.store.outbox_db import MAX_SEQ, OutboxError, open_database
from firmware.store.outbox_db import OutboxDamaged as OutboxDamaged  # re-exported
from firmware.topics import OUTBOX_KINDS

log = logging.getLogger(__name__)

SETTLE_MODES = ("ack", "puback")
DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024
# Deleting in chunks keeps each prune transaction short: the app waits on `append` before the
# door moves, and a long delete holding the write lock would stall it.
PRUNE_CHUNK = 2000

@dataclass(frozen=True)
class Settlement:
    """What a server ack did: rows settled, and the highest seq sent if it claimed more."""

    settled: int
    refused_beyond: int | None = None


@dataclass(frozen=True)
class Row:
    """One stored event or alarm, as the sender needs it."""

    seq: int
    kind: str
    event_id: str
    payload: str  # the JSON text exactly as published
    created_at: float
    published: bool
    settled: bool


def _is_canonical_uuid(value: object) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


class Outbox:
    """A durable, ordered, thread-safe queue of events and alarms on SQLite (see module doc)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock,
        retention_s: float = 7 * 86400,
        max_rows: int = 200_000,
        high_water: float = 0.8,
        settle_on: str = "ack",
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
        integrity_check: bool = True,
    ) -> None:
        if settle_on not in SETTLE_MODES:
            raise ValueError(f"settle_on must be one of {SETTLE_MODES}, got {settle_on!r}")
        if max_rows < 1 or not 0 < high_water <= 1 or retention_s < 0:
            raise ValueError("max_rows >= 1, 0 < high_water <= 1 and retention_s >= 0 required")
        self._path = Path(path)
        self._clock = clock
        self._retention_s = float(retention_s)
        self._max_rows = int(max_rows)
        self._high_water = float(high_water)
        self._settle_on = settle_on
        self._min_free_bytes = int(min_free_bytes)
        # One connection shared by every thread, serialised by this lock: the app appends, the
        # sender reads and settles. Commits are short, so the lock is never held for long.
        self._lock = threading.Lock()
        self._listeners: list[Callable[[int], None]] = []
        self._conn: sqlite3.Connection | None = None
        self._conn, self._stream = open_database(self._path, integrity_check)
        # The highest seq handed to a broker: a server can only have committed this far.
        self._sent_through = self._sent_through_at_open()

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _locked(self, what: str) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; any SQLite failure becomes a one-line OutboxError."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise OutboxError(f"outbox {self._path} is closed")
            try:
                yield conn
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.exception("outbox rollback failed")
                raise OutboxError(f"outbox {what} failed: {one_line(exc)}") from exc

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed (and fsynced) on success, rolled back on any error."""
        with self._locked(what) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- properties ----------------------------------------------------------------------------

    @property
    def stream(self) -> str:
        """The random id of this database's numbering."""
        return self._stream

    @property
    def settle_on(self) -> str:
        """ "ack" (the server's ack settles) or "puback" (the broker's PUBACK settles)."""
        return self._settle_on

    @property
    def path(self) -> Path:
        return self._path

    # -- writing -------------------------------------------------------------------------------

    def add_append_listener(self, listener: Callable[[int], None]) -> None:
        """Call `listener(seq)` after each committed append (the sender uses it to wake up)."""
        self._listeners.append(listener)

    def append(self, topic_kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Number `payload`, commit it durably, and return the completed payload.

        Sets `event_id` (a new UUID4 unless the payload has one), `stream` and `seq`. When this
        returns, the record survives a crash or power cut; only then may the door act.
        Raises ValueError for a bad kind or payload, OutboxError when storage fails.
        """
        if topic_kind not in OUTBOX_KINDS:
            raise ValueError(f"outbox kind must be one of {OUTBOX_KINDS}, got {topic_kind!r}")
        if not isinstance(payload, dict):
            raise ValueError(f"outbox payload must be a dict, got {type(payload).__name__}")
        record = dict(payload)
        event_id = record.get("event_id") or str(uuid.uuid4())
        if not _is_canonical_uuid(event_id):
            raise ValueError(f"event_id must be a canonical lowercase UUID, got {event_id!r:.60}")
        record["event_id"] = event_id
        record["stream"] = self._stream
        with self._transaction("append") as conn:
            seq = int(conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0])
            record["seq"] = seq
            try:
                text = json.dumps(
                    record, separators=(",", ":"), ensure_ascii=False, allow_nan=False
                )
            except (TypeError, ValueError) as exc:
                raise ValueError(f"outbox payload is not JSON: {one_line(exc)}") from exc
            try:
                conn.execute(
                    "INSERT INTO outbox (seq, kind, event_id, payload, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (seq, topic_kind, event_id, text, self._clock.time()),
                )
            except sqlite3.IntegrityError as exc:
                if "event_id" not in str(exc):
                    raise  # the numbering itself is inconsistent: a storage fault
                raise ValueError(f"event_id {event_id} is already in the outbox") from exc
            conn.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (str(seq + 1),))
        for listener in list(self._listeners):
            try:
                listener(seq)
            except Exception:
                log.exception("outbox append listener failed")
        return record

    def mark_published(self, seq: int) -> None:
        """The broker PUBACKed `seq` (with settle_on="puback" this also settles it)."""
        self.mark_published_many((seq,))

    def mark_published_many(self, seqs: Iterable[int]) -> None:
        """`mark_published` for many rows in one transaction (one fsync, not one per row)."""
        rows = [(int(s),) for s in seqs]
        if not rows:
            return
        self._sent_through = max(self._sent_through, max(s for (s,) in rows))
        now = self._clock.time()
        with self._transaction("mark_published") as conn:
            conn.executemany(
                "UPDATE outbox SET published_at = ? WHERE seq = ? AND published_at IS NULL",
                [(now, s) for (s,) in rows],
            )
            if self._settle_on == "puback":
                conn.executemany(
                    "UPDATE outbox SET settled_at = ? WHERE seq = ? AND settled_at IS NULL",
                    [(now, s) for (s,) in rows],
                )

    def note_sent(self, seq: int) -> None:
        """`seq` was handed to a broker (it may reach the server before its PUBACK is seen)."""
        self._sent_through = max(self._sent_through, int(seq))

    def note_refused(self, seq: int) -> None:
        """The broker refused `seq` (PUBACK >= 0x80): the server cannot have it, so no ack may
        settle from it on. Everything after it is sent again anyway."""
        self._sent_through = min(self._sent_through, int(seq) - 1)

    def _sent_through_at_open(self) -> int:
        # Every row below the oldest unsettled one was settled, so it was sent; rows above it
        # count as sent once a PUBACK was recorded for them.
        with self._locked("open") as conn:
            published, oldest = conn.execute(
                "SELECT (SELECT max(seq) FROM outbox WHERE published_at IS NOT NULL),"
                " (SELECT min(seq) FROM outbox WHERE settled_at IS NULL)"
            ).fetchone()
        below = self.last_seq() if oldest is None else int(oldest) - 1
        return max(int(published or 0), below)

    def settle_through(self, stream: str, through_seq: int) -> Settlement:
        """The server has committed every record of `stream` up to `through_seq`: settle them.

        The server can only have what was sent: an ack past the highest seq sent settles no
        further than that, and says so (`refused_beyond`), so a forged or buggy ack cannot make
        the gate forget records it never delivered. An ack for another stream (an older
        database) settles nothing.
        """
        if stream != self._stream:
            log.info("ack for stream %s ignored: this outbox is stream %s", stream, self._stream)
            return Settlement(0)
        through = min(int(through_seq), MAX_SEQ)
        refused = self._sent_through if through > self._sent_through else None
        now = self._clock.time()
        with self._transaction("settle") as conn:
            cursor = conn.execute(
                "UPDATE outbox SET settled_at = ?, published_at = coalesce(published_at, ?)"
                " WHERE seq <= ? AND settled_at IS NULL",
                (now, now, min(through, self._sent_through)),
            )
            return Settlement(max(cursor.rowcount, 0), refused)

    def prune(self) -> int:
        """Delete settled rows past the retention, then the oldest settled rows while more than
        `max_rows` are held. Unsettled rows are never deleted. Returns how many were deleted."""
        cutoff = self._clock.time() - self._retention_s
        deleted = 0
        while True:  # settled rows older than the retention, oldest first, a chunk at a time
            with self._transaction("prune") as conn:
                removed = conn.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox"
                    " WHERE settled_at IS NOT NULL AND created_at < ? ORDER BY seq LIMIT ?)",
                    (cutoff, PRUNE_CHUNK),
                ).rowcount
            deleted += max(removed, 0)
            if removed < PRUNE_CHUNK:
                break
        while True:  # still over max_rows: the oldest settled rows go, never an unsettled one
            with self._transaction("prune") as conn:
                held = int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
                over = min(held - self._max_rows, PRUNE_CHUNK)
                if over <= 0:
                    break
                removed = conn.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox"
                    " WHERE settled_at IS NOT NULL ORDER BY seq LIMIT ?)",
                    (over,),
                ).rowcount
            deleted += max(removed, 0)
            if removed < over:
                break
        if deleted:
            log.info("outbox pruned %d settled rows", deleted)
        return deleted

    # -- reading -------------------------------------------------------------------------------

    def pending(self, limit: int, after_seq: int = 0) -> list[Row]:
        """Up to `limit` unsettled rows with seq > `after_seq`, oldest first."""
        with self._locked("pending") as conn:
            rows = conn.execute(
                "SELECT seq, kind, event_id, payload, created_at, published_at, settled_at"
                " FROM outbox WHERE settled_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                (int(after_seq), int(limit)),
            ).fetchall()
        return [
            Row(seq, kind, event_id, payload, created, published is not None, settled is not None)
            for (seq, kind, event_id, payload, created, published, settled) in rows
        ]

    def depth(self) -> int:
        """Rows held, settled or not."""
        with self._locked("depth") as conn:
            return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def unsettled(self) -> int:
        """Rows the server has not yet acknowledged (or PUBACK not yet settled)."""
        with self._locked("unsettled") as conn:
            return int(
                conn.execute("SELECT count(*) FROM outbox WHERE settled_at IS NULL").fetchone()[0]
            )

    def oldest_unsettled(self) -> int | None:
        """The lowest unsettled seq, or None when everything is settled."""
        with self._locked("oldest_unsettled") as conn:
            value = conn.execute("SELECT min(seq) FROM outbox WHERE settled_at IS NULL").fetchone()[
                0
            ]
        return None if value is None else int(value)

    def last_seq(self) -> int:
        """The highest seq ever assigned in this stream (0 before the first append)."""
        with self._locked("last_seq") as conn:
            next_seq = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0]
        return int(next_seq) - 1

    def free_bytes(self) -> int:
        """Free space on the file system holding the database."""
        try:
            return shutil.disk_usage(self._path.parent).free
        except OSError as exc:
            raise OutboxError(f"outbox free space unknown: {one_line(exc)}") from exc

    def high_water(self) -> bool:
        """True when the app should raise `outbox_high_water`: unsettled rows above
        `high_water` x `max_rows`, or less than `min_free_bytes` free on the disk."""
        if self.unsettled() > self._high_water * self._max_rows:
            return True
        return self.free_bytes() < self._min_free_bytes

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database (a WAL checkpoint happens on close)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox close failed: {one_line(exc)}") from exc

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
