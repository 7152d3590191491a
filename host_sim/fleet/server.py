"""The fleet's community-server stand-in: several consumers, each committing to SQLite and acking.

The load is shared over `partitions` consumers, each taking one `Share` (`plan_shares`):
- On a broker with MQTT 5 shared subscriptions (`$share/{group}/...`: Mosquitto, EMQX, HiveMQ)
  every consumer takes every community's event and alarm wildcards in one share group, and the
  broker spreads the records over them.
- NATS Server's MQTT listener speaks 3.1.1 only and has no shared subscriptions. There a
  district of many communities is partitioned by community: each consumer takes whole
  communities with the wildcards `community/{c}/gate/+/event` (and `alarm`), what a community
  server subscribes to anyway, and two JetStream consumers per community in all.
- With fewer communities than consumers the gates are partitioned by a hash of their gate id,
  and each consumer subscribes to the exact event and alarm topics of its own gates (two
  JetStream consumers per gate at QoS 1). No consumer ever sees another's traffic.

Each consumer has a persistent session (3.1.1 clean session off, or an MQTT 5 session expiry), a
broker list it walks when its node dies, and one committer thread: messages are batched, inserted
into the consumer's own SQLite file (primary key device, stream, seq; a second copy bumps
`copies`, a copy with another event_id is counted in `conflicts`), committed, and only then is
`{"stream", "through_seq"}` published on the gate's `ack` topic — acked again on duplicates, as
the gate resends only what it believes unsettled (DESIGN 2.5).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import random
import sqlite3
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware import topics
from firmware.link.client import stop_loop
from firmware.link.settings import parse_broker
from host_sim.community_server import ack_payload

log = logging.getLogger(__name__)

BATCH_MAX = 500
BATCH_WAIT_S = 0.02
SUBSCRIBE_CHUNK = 50
SESSION_EXPIRY_S = 3600
RECONNECT_PAUSE_S = 0.3
SHARE_GROUP = "community-server"
RESUBSCRIBE_MAX_S = 5.0
STORE_BUSY_S = 30.0  # consumers sharing one store wait for each other's commits

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    device_id TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
    event_id TEXT NOT NULL, gate_id TEXT NOT NULL, kind TEXT NOT NULL,
    copies INTEGER NOT NULL DEFAULT 1, conflicts INTEGER NOT NULL DEFAULT 0,
    first_at REAL NOT NULL, first_by INTEGER NOT NULL,
    PRIMARY KEY (device_id, stream, seq)
) WITHOUT ROWID
"""


def partition_of(gate_id: str, partitions: int) -> int:
    """Which consumer owns `gate_id` (a stable hash, the same in every process)."""
    return zlib.crc32(gate_id.encode()) % partitions


@dataclass(frozen=True)
class Share:
    """What one consumer takes: whole communities (their wildcards, or the `$share` group's
    when `shared`) and single gates, `(community, gate)` (their exact topics)."""

    communities: tuple[str, ...] = ()
    gates: tuple[tuple[str, str], ...] = ()
    shared: bool = False

    def filters(self) -> list[str]:
        """The topic filters this share subscribes to."""
        prefix = f"$share/{SHARE_GROUP}/" if self.shared else ""
        return ([prefix + topics.community_filter(kind, community)
                 for community in self.communities for kind in topics.OUTBOX_KINDS]
                + [topics.gate_topic(kind, community, gate)
                   for community, gate in self.gates for kind in topics.OUTBOX_KINDS])


def plan_shares(gates: Sequence[tuple[str, str]], partitions: int,
                shared: bool = False) -> list[Share]:
    """Split `(community, gate)` pairs over `partitions` consumers (see the module doc)."""
    communities = sorted({community for community, _ in gates})
    if shared:
        return [Share(communities=tuple(communities), shared=True)] * partitions
    if len(communities) >= partitions:
        return [Share(communities=tuple(communities[p::partitions])) for p in range(partitions)]
    return [Share(gates=tuple(g for g in gates if partition_of(g[1], partitions) == p))
            for p in range(partitions)]


def open_store(path: Path) -> sqlite3.Connection:
    """A consumer's SQLite store (WAL, NORMAL: a killed stand-in keeps every commit); with
    shared subscriptions every consumer opens the same one."""
    conn = sqlite3.connect(path, timeout=STORE_BUSY_S, isolation_level=None,
                           check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(SCHEMA)
    return conn


class Consumer:
    """One partition of the stand-in: an MQTT session, a SQLite file, a committer thread."""

    def __init__(self, brokers: Sequence[str], index: int, store: Path, share: Share, *,
                 qos: int = 1) -> None:
        self._brokers = [parse_broker(b) for b in brokers]
        self._index = index
        self._client_id = f"community-server-{index}"
        self._share = share
        self._shared = share.shared
        self._qos = qos
        self._conn = open_store(store)
        self._through: dict[tuple[str, str], int] = {}
        self._gate_of: dict[tuple[str, str], tuple[str, str]] = {}  # -> (community, gate)
        self._inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._stopping = threading.Event()
        self._down = threading.Event()
        self._client: mqtt.Client | None = None
        self.subscribed = threading.Event()
        self._sub_lock = threading.Lock()
        self._asked: dict[int, list[str]] = {}  # SUBSCRIBE mid -> filters, until its SUBACK
        self._refusals = 0
        self.connections = 0

    def run(self, stop: threading.Event) -> None:
        """Serve until `stop`: connect, walk the broker list on failure, commit and ack."""
        committer = threading.Thread(target=self._commit_loop, name="committer", daemon=True)
        committer.start()
        attempt = 0
        while not stop.is_set():
            host, port = self._brokers[attempt % len(self._brokers)]
            attempt += 1
            if self._serve_once(host, port, stop):
                attempt -= 1  # the node that served us is worth trying first again
            stop.wait(RECONNECT_PAUSE_S)
        self._stopping.set()
        committer.join(5.0)
        self._conn.close()

    def _serve_once(self, host: str, port: int, stop: threading.Event) -> bool:
        self._down.clear()
        self.subscribed.clear()
        v5 = self._shared
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id,
                             clean_session=None if v5 else False,
                             protocol=MQTTProtocolVersion.MQTTv5 if v5
                             else MQTTProtocolVersion.MQTTv311,
                             reconnect_on_failure=False)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_a: self._down.set()
        client.on_subscribe = self._on_subscribe
        client.on_message = lambda _c, _u, m: self._inbox.put((m.topic, bytes(m.payload)))
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S
        try:
            if v5:
                client.connect(host, port, keepalive=10, clean_start=False, properties=props)
            else:
                client.connect(host, port, keepalive=10)
        except OSError as exc:
            log.info("server consumer %s: %s:%d: %s", self._client_id, host, port, exc)
            return False
        self._client = client
        client.loop_start()
        served = False
        while not stop.is_set() and not self._down.wait(0.2):
            served = served or self.subscribed.is_set()
        self._client = None
        with contextlib.suppress(Exception):
            client.disconnect()
        stop_loop(client)
        return served

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason_code: Any,
                    _p: Any) -> None:
        if reason_code.is_failure:
            log.warning("server consumer %s refused: %s", self._client_id, reason_code)
            return
        self.connections += 1
        # Subscribe even when the session is present: idempotent, and a node that died may
        # have taken the session's subscriptions with it.
        with self._sub_lock:
            self._asked.clear()
        self._subscribe(client, self._share.filters())

    def _subscribe(self, client: mqtt.Client, wanted: list[str]) -> None:
        for start in range(0, len(wanted), SUBSCRIBE_CHUNK):
            chunk = wanted[start:start + SUBSCRIBE_CHUNK]
            with self._sub_lock:
                _rc, mid = client.subscribe([(t, self._qos) for t in chunk])
                if mid is not None:
                    self._asked[mid] = chunk

    def _on_subscribe(self, client: mqtt.Client, _u: Any, mid: int, reason_codes: list[Any],
                      _p: Any) -> None:
        with self._sub_lock:
            asked = self._asked.pop(mid, [])
            pending = bool(self._asked)
        refused = [t for t, code in zip(asked, reason_codes, strict=False) if code.is_failure]
        if refused:
            # NATS refuses (0x80) what it could not store in time (a node just died, or a
            # thousand gates subscribe at once): ask again for those filters in a moment.
            log.warning("server consumer %s: %d subscriptions refused; asking again",
                        self._client_id, len(refused))
            self._refusals += 1
            delay = min(RESUBSCRIBE_MAX_S, RECONNECT_PAUSE_S * 2 ** min(self._refusals, 5))
            timer = threading.Timer(delay * random.uniform(0.5, 1.0), self._subscribe,
                                    (client, refused))
            timer.daemon = True
            timer.start()
        elif not pending:
            self._refusals = 0
            self.subscribed.set()

    # -- committing ----------------------------------------------------------------------------

    def _commit_loop(self) -> None:
        while not self._stopping.is_set() or not self._inbox.empty():
            try:
                batch = [self._inbox.get(timeout=0.2)]
            except queue.Empty:
                continue
            deadline = time.monotonic() + BATCH_WAIT_S
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self._inbox.get(timeout=max(deadline - time.monotonic(), 0)))
                except queue.Empty:
                    break
            try:
                self._commit(batch)
            except Exception:  # the stand-in must keep running; unacked records come again
                log.exception("server consumer %s: commit failed", self._client_id)

    def _commit(self, batch: list[tuple[str, bytes]]) -> None:
        rows = []
        for topic, raw in batch:
            parsed = topics.parse_gate_topic(topic)
            try:
                p = json.loads(raw)
                record = (str(p["device_id"]), str(p["stream"]), int(p["seq"]))
                event_id = str(p["event_id"])
            except (ValueError, KeyError, TypeError):
                log.warning("server consumer: malformed record on %s", topic)
                continue
            if parsed is None or parsed[2] not in topics.OUTBOX_KINDS:
                continue
            rows.append((*record, event_id, parsed[0], parsed[1], parsed[2]))
        if not rows:
            return
        now = time.time()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        for device, stream, seq, event_id, _community, gate, kind in rows:
            conn.execute(
                "INSERT INTO records (device_id, stream, seq, event_id, gate_id, kind, first_at,"
                " first_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (device_id, stream, seq) DO UPDATE SET copies = copies + 1,"
                " conflicts = conflicts + (excluded.event_id != records.event_id)",
                (device, stream, seq, event_id, gate, kind, now, self._index))
        conn.execute("COMMIT")
        touched: set[tuple[str, str]] = set()
        for device, stream, _seq, _event_id, community, gate, _kind in rows:
            self._gate_of[(device, stream)] = (community, gate)
            touched.add((device, stream))
        for key in touched:
            # From the store, not from memory: consumers sharing one store (shared
            # subscriptions) ack what any of them committed.
            through = self._through.get(key, 0)
            for (seq,) in conn.execute(
                    "SELECT seq FROM records WHERE device_id = ? AND stream = ? AND seq > ?"
                    " ORDER BY seq", (*key, through)):
                if seq != through + 1:
                    break
                through = seq
            self._through[key] = through
            self._ack(key, through)

    def _ack(self, key: tuple[str, str], through: int) -> None:
        client = self._client
        if client is None or through <= 0:
            return  # the gate sends again; the next copy is acked
        topic = topics.ack_topic(*self._gate_of[key])
        client.publish(topic, json.dumps(ack_payload(key[1], through), separators=(",", ":")),
                       qos=1)


def consumer_main(brokers: list[str], index: int, store: str, share: Share, qos: int,
                  stop: Any, ready: Any) -> None:
    """Process entry point of one consumer (`stop`, `ready`: multiprocessing events)."""
    from host_sim.fleet.worker import exit_with_parent

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    exit_with_parent()
    consumer = Consumer(brokers, index, Path(store), share, qos=qos)
    halt = threading.Event()

    def watch() -> None:
        consumer.subscribed.wait()
        ready.set()
        # Polled, not stop.wait(): a multiprocessing Event's set() waits for every process
        # sleeping in wait() to wake, and one that died sleeping would hang the orchestrator.
        while not stop.is_set():
            time.sleep(0.2)
        halt.set()

    threading.Thread(target=watch, name="watch", daemon=True).start()
    consumer.run(halt)
