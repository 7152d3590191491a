"""A stand-in for the community server: takes every gate's events and alarms and acks them.

It does what DESIGN 2.5 asks of the real server: de-duplicates on (device_id, stream, seq),
detects gaps by seq, and once every record of a stream up to N is committed (here: in its
in-memory store) publishes `{"schema": "gatekiosk/ack/v1", "stream": ..., "through_seq": N}` on
the gate's `ack` topic. It acks again on a duplicate, since the gate resends only what it
believes unsettled. It keeps a persistent MQTT session (clean start off, a session expiry), so
the broker queues events for it while it is away — until a broker is killed before saving them,
which the gate's re-sending of unacked rows covers. It can be told to stop acking, and records
anything malformed (with an optional schema validator) in `problems`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from firmware import topics
from firmware.link.client import stop_loop

log = logging.getLogger(__name__)

ACK_SCHEMA = "gatekiosk/ack/v1"
SESSION_EXPIRY_S = 3600
START_TIMEOUT_S = 10.0
SUBSCRIBED_KINDS = ("event", "alarm", "state", "telemetry", "cmd-result")

Validator = Callable[[dict[str, Any]], list[str]]


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    # Without TCP_NODELAY the ack, written right behind the PUBACK of the event it answers,
    # waits for the broker's delayed ACK (~40 ms on Linux).
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def ack_payload(stream: str, through_seq: int) -> dict[str, Any]:
    """The server's ack: every record of `stream` up to `through_seq` is committed."""
    return {"schema": ACK_SCHEMA, "stream": stream, "through_seq": through_seq}


@dataclass(frozen=True)
class Record:
    """One stored event or alarm and how many times it arrived."""

    device_id: str
    stream: str
    seq: int
    event_id: str
    kind: str
    payload: dict[str, Any]
    arrival: int  # 1 for the first record this server took, 2 for the next new one, ...


class CommunityServer:
    """Subscribes to a community's gates on one broker and keeps what they send."""

    def __init__(
        self,
        host: str,
        port: int,
        community_id: str,
        *,
        client_id: str = "community-server",
        acking: bool = True,
        validate: Validator | None = None,
        persistent_session: bool = True,
        protocol: str = "5",
    ) -> None:
        self._host, self._port = host, port
        self._community_id = topics.validate_id(community_id, "community_id")
        self._acking = acking
        self._validate = validate
        self._persistent = persistent_session
        self._protocol = protocol
        self._cond = threading.Condition()
        self._records: dict[tuple[str, str, int], Record] = {}
        self._through: dict[tuple[str, str], int] = {}
        self._gate_of: dict[tuple[str, str], str] = {}
        self.duplicates = 0
        self.received = 0
        self.acks_sent = 0
        self.problems: list[str] = []
        self.conflicts: list[str] = []
        self.states: dict[str, dict[str, Any]] = {}
        self.state_history: list[tuple[str, dict[str, Any], bool]] = []
        self.telemetry: dict[str, dict[str, Any]] = {}
        self.cmd_results: list[dict[str, Any]] = []
        self._subscribed = threading.Event()
        version = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=topics.validate_id(client_id, "client_id"),
            clean_session=(not persistent_session) if protocol != "5" else None,
            protocol=version,
        )
        # A stand-in may use paho's reconnect; only the gate needs its own (jittered) loop.
        # paho annotates these as int but computes in float; sub-second keeps tests short.
        self._client.reconnect_delay_set(min_delay=0.05, max_delay=0.5)  # type: ignore[arg-type]
        self._client.on_socket_open = _no_delay
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    # -- lifetime ------------------------------------------------------------------------------

    def start(self, timeout_s: float = START_TIMEOUT_S) -> CommunityServer:
        """Connect, subscribe, and return once the broker has confirmed the subscriptions.

        May be called again after `stop()`: the store is kept, the session resumed."""
        self._subscribed.clear()
        properties = None
        if self._protocol == "5" and self._persistent:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
        if self._protocol == "5":
            self._client.connect_async(self._host, self._port, keepalive=10,
                                       clean_start=not self._persistent, properties=properties)
        else:  # 3.1.1: clean session was set when the client was made
            self._client.connect_async(self._host, self._port, keepalive=10)
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"community server not subscribed within {timeout_s} s")
        return self

    def stop(self) -> None:
        """Disconnect (the broker keeps the session, and queues for it, if persistent)."""
        self._client.disconnect()
        stop_loop(self._client)

    def set_acking(self, acking: bool) -> None:
        """Stop (False) or resume (True) acknowledging; resuming acks what is held at once."""
        self._acking = acking
        if acking:
            with self._cond:
                held = [(key, self._through[key], self._gate_of[key]) for key in self._through]
            for (_device, stream), through, gate in held:
                self._send_ack(gate, stream, through)

    def __enter__(self) -> CommunityServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- paho callbacks ------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any,
                    reason_code: ReasonCode, _properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("community server refused: %s", reason_code)
            return
        # Always subscribe again: a killed broker may have lost the stored session.
        client.subscribe([(topics.community_filter(kind, self._community_id), 1)
                          for kind in SUBSCRIBED_KINDS])

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int,
                      reason_codes: list[ReasonCode], _properties: Any) -> None:
        if all(not code.is_failure for code in reason_codes):
            self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        try:
            self._take(message.topic, bytes(message.payload), bool(message.retain))
        except Exception as exc:  # the stand-in must keep running; the test sees `problems`
            log.exception("community server failed on a message")
            self._problem(f"{message.topic}: handler failed: {exc}")

    # -- storing -------------------------------------------------------------------------------

    def _problem(self, text: str) -> None:
        with self._cond:
            self.problems.append(text)
            self._cond.notify_all()

    def _take(self, topic: str, raw: bytes, retained: bool) -> None:
        parsed = topics.parse_gate_topic(topic)
        if parsed is None or parsed[0] != self._community_id:
            self._problem(f"{topic}: unexpected topic")
            return
        _community, gate, kind = parsed
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            self._problem(f"{topic}: not JSON: {exc}")
            return
        if not isinstance(payload, dict):
            self._problem(f"{topic}: not a JSON object")
            return
        if self._validate is not None:
            for error in self._validate(payload):
                self._problem(f"{topic}: {error}")
        if payload.get("gate_id") != gate or payload.get("community_id") != self._community_id:
            self._problem(f"{topic}: gate_id/community_id do not match the topic")
        if kind in ("event", "alarm"):
            self._take_record(gate, kind, payload)
            return
        with self._cond:
            if kind == "state":
                self.states[gate] = payload
                self.state_history.append((gate, payload, retained))
            elif kind == "telemetry":
                self.telemetry[gate] = payload
            elif kind == "cmd-result":
                self.cmd_results.append(payload)
            self._cond.notify_all()

    def deliver(self, kind: str, payload: dict[str, Any]) -> None:
        """Take an event or alarm that came another way (a USB export) like any delivery."""
        self._take_record(str(payload.get("gate_id")), kind, payload)

    def _take_record(self, gate: str, kind: str, payload: dict[str, Any]) -> None:
        device, stream, seq = payload.get("device_id"), payload.get("stream"), payload.get("seq")
        event_id = payload.get("event_id")
        if not (isinstance(device, str) and isinstance(stream, str) and isinstance(seq, int)
                and isinstance(event_id, str)):
            self._problem(f"{gate}/{kind}: device_id, stream, seq or event_id missing")
            return
        key = (device, stream, seq)
        with self._cond:
            self.received += 1
            held = self._records.get(key)
            if held is not None:
                self.duplicates += 1
                if held.event_id != event_id or held.payload != payload:
                    self.conflicts.append(f"{device}/{stream}/{seq}: differs from first copy")
            else:
                record = Record(device, stream, seq, event_id, kind, payload,
                                len(self._records) + 1)
                self._commit(gate, record)  # stored for good before anything is acked
                self._records[key] = record
            stream_key = (device, stream)
            self._gate_of[stream_key] = gate
            before = through = self._through.get(stream_key, 0)
            while (device, stream, through + 1) in self._records:
                through += 1
            self._through[stream_key] = through
            self._cond.notify_all()
        if through > before or held is not None:
            self._send_ack(gate, stream, through)

    def _commit(self, gate: str, record: Record) -> None:
        """Make a new record durable (a subclass's database); called before any ack covers it."""

    def _send_ack(self, gate: str, stream: str, through: int) -> None:
        if not self._acking:
            return
        self._client.publish(topics.ack_topic(self._community_id, gate),
                             json.dumps(ack_payload(stream, through), separators=(",", ":")),
                             qos=1)
        with self._cond:
            self.acks_sent += 1

    # -- queries (any thread) ------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until `predicate()` holds (checked on every message); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.5))
            return True

    def through(self, device_id: str, stream: str) -> int:
        """The highest seq N with every record 1..N held."""
        with self._cond:
            return self._through.get((device_id, stream), 0)

    def streams(self, device_id: str) -> list[str]:
        with self._cond:
            return sorted({s for (d, s, _q) in self._records if d == device_id})

    def seqs(self, device_id: str, stream: str) -> list[int]:
        """Every seq held for that stream, ascending (each once)."""
        with self._cond:
            return sorted(q for (d, s, q) in self._records if d == device_id and s == stream)

    def gaps(self, device_id: str, stream: str) -> list[int]:
        """Seqs missing between 1 and the highest held."""
        held = set(self.seqs(device_id, stream))
        return [q for q in range(1, max(held, default=0) + 1) if q not in held]

    def records(self, device_id: str, stream: str) -> list[Record]:
        with self._cond:
            return [self._records[k] for k in sorted(self._records)
                    if k[0] == device_id and k[1] == stream]

    def record_count(self) -> int:
        with self._cond:
            return len(self._records)
