"""The MQTT link: our own connection manager and the outbox sender (DESIGN 1.3, 2.4, 2.5).

One thread (`mqtt-link`) owns the connection and the sending; paho's network thread
(`loop_start`) only moves bytes and posts what it saw (CONNACK, PUBACK, acks, lost link) into a
queue. That hand-off matters: paho calls `on_publish` while holding its own message lock, so a
callback that took one of our locks while our thread held it and called `publish()` would
deadlock; a queue never blocks.

Connections. Each attempt uses a fresh paho client, with paho's own reconnect switched off
(`reconnect_on_failure=False`): nothing queued in paho's memory ever survives into the next
connection (FIELD-NOTES: a reconnect can overshoot the window and resend with new mids), and the
outbox is the only queue. A round tries every broker in the list in order; between rounds the
wait is exponential with full jitter, `uniform(0, min(max, initial * 2**n))`, and even the first
retry after a lost link waits `uniform(0, initial)`, so a city's gates do not return in
lock-step after a broker restart.

Sessions. Clean start, no session kept by the broker (MQTT 5: Clean Start 1, session expiry 0;
3.1.1: clean session). Commands must never be replayed from a stored session — they expire in
60 s and a stale `open` must not act; the status list is retained so it arrives on every
subscribe anyway; a server ack missed while offline is recovered because every unsettled row is
sent again after a reconnect and the server acks duplicates too. Under MQTT 5 the command
subscription also asks the broker not to send retained commands (Retain Handling 2); under 3.1.1
the app must refuse messages flagged retained.
Every connection subscribes afresh (no session is ever present); a subscription the broker
refuses in its SUBACK (a NATS cluster does, right after a node died) is asked for again after a
back-off, on the same connection: without its `ack` subscription nothing would ever settle;
after 4 refusals in a row the connection is dropped and a new session tried.

Sending. Only while connected, in seq order, QoS 1, at most `window` outbox messages handed to
paho at a time. Each PUBACK's reason code is checked (MQTT 5): 0x80 and above means the broker
did not take the message, so it is sent again after a back-off. 0x10 "No matching subscribers"
counts as success (the broker took it), but nobody received it: with ack settling the row stays
unsettled and is sent again after the same back-off, so a server that lost its session (a
killed broker) gets it as soon as it subscribes again; with PUBACK settling the row is settled,
so the server must hold a persistent session, and then it always is a matching subscriber.
A lost connection forgets everything in flight; after reconnecting, sending restarts from the
oldest unsettled row (duplicates carry the same event_id/stream/seq; the server de-duplicates).
If the oldest unsettled row has been sent and nothing settles it within `ack_timeout_s`, it and
everything after it are sent again.

`publish_now` (state, telemetry, cmd-result) is for messages that are not kept: while offline
they are dropped and the call returns False.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import random
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from firmware import topics
from firmware.clock import Clock
from firmware.outbox import Outbox, OutboxError

log = logging.getLogger(__name__)

PROTOCOLS = {"5": MQTTProtocolVersion.MQTTv5, "3.1.1": MQTTProtocolVersion.MQTTv311}
POLL_S = 0.1  # real seconds between looks at the clock while waiting for something
STABLE_CONNECTION_S = 10.0  # a link that lasted this long resets the back-off
PROGRESS_CHECK_S = 1.0  # how often the sender looks for rows nobody settles
STOP_PUBLISH_TIMEOUT_S = 2.0  # how long stop() waits for the offline record's PUBACK
PAHO_EXTRA_INFLIGHT = 4  # room beside the outbox window for birth, cmd-result
FIRST_FAILURE_REASON = 0x80  # MQTT 5: reason codes from 0x80 up are failures
MAX_REFUSALS_PER_CONNECTION = 4  # refused SUBACKs in a row before a fresh connection
NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK: accepted, but no subscriber got it
ACK_SCHEMA = "gatekiosk/ack/v1"
STREAM_PATTERN = re.compile(r"[0-9a-f]{16,32}")
# Messages that are not kept. "alarm" is here only for the storage_fault alarm the app sends
# when the outbox itself has failed (best effort); every other alarm goes through the outbox.
NOT_KEPT_KINDS = ("state", "telemetry", "cmd-result", "alarm")

OnMessage = Callable[[str, "str | None", bytes, bool], None]


@dataclass(frozen=True)
class TlsSettings:
    """TLS towards the broker: the CA that signed it, and this gate's certificate and key."""

    ca_file: str
    cert_file: str | None = None
    key_file: str | None = None


def parse_broker(value: str | tuple[str, int] | Sequence[Any]) -> tuple[str, int]:
    """`"host:port"`, `"[v6addr]:port"`, `"mqtt(s)://host:port"` or `(host, port)` -> (host, port).

    ValueError with one line if it is none of those. (Whether TLS is used is `MqttSettings.tls`.)
    """
    if isinstance(value, str):
        _, _, address = value.rpartition("://")
        host, sep, port_text = address.rpartition(":")
        if not sep or not port_text.isdigit():
            raise ValueError(f"broker {value!r} must be host:port")
        host = host.strip("[]")
        port = int(port_text)
    elif isinstance(value, Sequence) and len(value) == 2:
        if (not isinstance(value[0], str) or isinstance(value[1], bool)
                or not isinstance(value[1], int)):
            raise ValueError(f"broker {value!r} must be (host, port)")
        host, port = value[0], value[1]
    else:
        raise ValueError(f"broker {value!r} must be host:port or (host, port)")
    if not host or not 0 < port < 65536:
        raise ValueError(f"broker {value!r}: empty host or port outside 1-65535")
    return host, port


@dataclass(frozen=True)
class MqttSettings:
    """How the gate connects. `client_id` is the device id."""

    brokers: Sequence[str | tuple[str, int]]
    client_id: str
    protocol: str = "5"
    keepalive: int = 30
    tls: TlsSettings | None = None
    username: str | None = None
    password: str | None = None
    window: int = 10
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    ack_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    status_list_wait_s: float = 15.0
    endpoints: tuple[tuple[str, int], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.brokers, str | bytes) or not self.brokers:
            raise ValueError("brokers must be a non-empty list of host:port")
        object.__setattr__(self, "endpoints", tuple(parse_broker(b) for b in self.brokers))
        topics.validate_id(self.client_id, "client_id")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, got {self.protocol!r}")
        if not 1 <= self.window <= 1000:
            raise ValueError(f"window must be 1-1000, got {self.window}")
        if (self.keepalive < 1 or self.connect_timeout_s <= 0 or self.ack_timeout_s <= 0
                or self.status_list_wait_s <= 0):
            raise ValueError("keepalive, connect_timeout_s, ack_timeout_s and "
                             "status_list_wait_s must be positive")
        if not 0 < self.backoff_initial_s <= self.backoff_max_s:
            raise ValueError("backoff needs 0 < backoff_initial_s <= backoff_max_s")
        if self.password is not None and self.username is None:
            raise ValueError("password given without username")


class Backoff:
    """Exponential back-off with full jitter: wait n is uniform(0, min(max, initial * 2**n))."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._rng = rng
        self._attempts = 0

    @property
    def ceiling(self) -> float:
        """The upper bound of the next wait."""
        return min(self._max_s, self._initial_s * 2 ** min(self._attempts, 62))

    def next_delay(self) -> float:
        """The next wait, in seconds; each call doubles the ceiling up to the maximum."""
        delay = self._rng.uniform(0.0, self.ceiling)
        self._attempts += 1
        return delay

    def reset(self) -> None:
        """Back to the first, shortest wait (after a link that held)."""
        self._attempts = 0


def parse_ack(payload: bytes) -> tuple[str, int]:
    """The (stream, through_seq) of a server ack; ValueError with one line if it is not one."""
    try:
        ack = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"ack is not JSON: {exc}") from exc
    if not isinstance(ack, dict):
        raise ValueError("ack is not a JSON object")
    if "schema" in ack and ack["schema"] != ACK_SCHEMA:
        raise ValueError(f"ack schema {ack['schema']!r:.60} is not {ACK_SCHEMA}")
    stream, through = ack.get("stream"), ack.get("through_seq")
    if not isinstance(stream, str) or STREAM_PATTERN.fullmatch(stream) is None:
        raise ValueError(f"ack stream {stream!r:.60} is not 16-32 lowercase hex characters")
    if isinstance(through, bool) or not isinstance(through, int) or through < 0:
        raise ValueError(f"ack through_seq {through!r:.30} is not an integer >= 0")
    return stream, through


def _reason(reason_code: ReasonCode | int) -> tuple[int, str]:
    if isinstance(reason_code, ReasonCode):
        return reason_code.value, reason_code.getName()
    return int(reason_code), str(reason_code)


class MqttLink:
    """Keeps the gate connected to one of its brokers and drains the outbox (see module doc)."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        clock: Clock,
        community_id: str,
        gate_id: str,
        device_id: str,
        outbox: Outbox,
        state_payload: Callable[[], dict[str, Any]],
        will_payload: dict[str, Any] | Callable[[], dict[str, Any]],
        on_message: OnMessage,
        telemetry: Callable[[], dict[str, Any] | None] | None = None,
        telemetry_period_s: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._community_id = topics.validate_id(community_id, "community_id")
        self._gate_id = topics.validate_id(gate_id, "gate_id")
        self._device_id = topics.validate_id(device_id, "device_id")
        self._outbox = outbox
        self._state_payload = state_payload
        self._will_payload = will_payload
        self._on_message = on_message
        self._telemetry = telemetry
        self._telemetry_period_s = telemetry_period_s
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s,
                                rng or random.Random())
        # Separate from the connection back-off: a refused message must not delay reconnects.
        self._publish_backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s,
                                        random.Random())
        self._outbox_topics = {
            kind: topics.gate_topic(kind, community_id, gate_id) for kind in ("event", "alarm")
        }
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._stopping = threading.Event()
        self._wake_queued = threading.Event()
        self._thread: threading.Thread | None = None
        self._client_lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._generation = 0
        # Connection state, written by the link thread only.
        self._connected = False
        self._connack: tuple[int, str] | None = None
        self._link_lost: str | None = None
        self._broker: str | None = None
        self._connections = 0
        self._attempts = 0
        self._last_error: str | None = None
        self._next_attempt_at: float | None = None
        # Sender state for the current connection, link thread only.
        self._in_flight: dict[int, int] = {}  # paho mid -> seq
        self._cursor = 0  # highest seq handed to paho on this connection
        self._retry_from: int | None = None
        self._retry_at: float | None = None
        self._watch: tuple[int, float] | None = None  # (oldest unsettled seq, since)
        self._next_progress_check = 0.0
        self._next_telemetry = 0.0
        # Subscriptions of the current connection, link thread only: what each SUBSCRIBE asked
        # for (by mid), and what the broker refused and is to be asked for again, and when.
        self._subscribe_backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s,
                                          random.Random())
        self._sub_requests: dict[int, list[tuple[str, int]]] = {}
        self._resubscribe: list[tuple[str, int]] = []
        self._resubscribe_at: float | None = None
        self._refusals = 0
        # Whether the status list came on this connection (generation, set by paho's thread),
        # and when to ask for it again if not.
        self._status_list_heard = 0
        self._status_list_due: float | None = None
        self._status_list_wait = settings.status_list_wait_s
        outbox.add_append_listener(self._wake)

    # -- public --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting and sending in the background."""
        if self._thread is not None:
            raise RuntimeError("MqttLink already started")
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish the retained offline state, disconnect cleanly and stop the thread."""
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("mqtt link did not stop within %.1f s", timeout_s)

    @property
    def connected(self) -> bool:
        """True while a broker has accepted us (CONNACK success) and the link is up."""
        return self._connected

    def status(self) -> dict[str, Any]:
        """A snapshot for telemetry and the technician's view."""
        next_attempt = self._next_attempt_at
        return {
            "connected": self._connected,
            "connected_broker": self._broker if self._connected else None,
            "reconnects": max(self._connections - 1, 0),
            "connect_attempts": self._attempts,
            "in_flight": len(self._in_flight),
            "last_error": self._last_error,
            "next_attempt_in_s": (
                None if next_attempt is None
                else max(next_attempt - self._clock.monotonic(), 0.0)
            ),
        }

    def publish_now(self, kind: str, payload: dict[str, Any], qos: int = 1,
                    retain: bool = False) -> bool:
        """Publish a message that is not kept (state, telemetry, cmd-result).

        Returns False — the message is dropped — when offline or when paho refuses it.
        Events and alarms go through the outbox; the one exception is the storage-fault alarm
        sent when the outbox itself cannot take it.
        """
        if kind not in NOT_KEPT_KINDS:
            raise ValueError(f"publish_now is for {NOT_KEPT_KINDS}, not {kind!r}")
        with self._client_lock:
            client = self._client if self._connected else None
        if client is None:
            log.debug("offline: %s message dropped", kind)
            return False
        try:
            text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            log.error("%s payload is not JSON (%s); not sent", kind, exc)
            return False
        topic = topics.gate_topic(kind, self._community_id, self._gate_id)
        info = client.publish(topic, text.encode(), qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def refresh_status_list(self) -> None:
        """Subscribe to the status list again: the broker re-sends the retained list."""
        with self._client_lock:
            client = self._client if self._connected else None
        if client is None:
            log.info("offline: status list refresh skipped (it arrives on the next connect)")
            return
        topic = topics.status_list_topic(self._community_id)
        if self._settings.protocol == "5":
            client.subscribe(topic, options=SubscribeOptions(qos=1))
        else:
            client.subscribe(topic, qos=1)

    # -- paho callbacks (network thread: post and return, never block) -------------------------

    def _wake(self, _seq: int | None = None) -> None:
        # One wake-up in the queue is enough, however many appends happen meanwhile (and
        # however long the link is offline or not started).
        if not self._wake_queued.is_set():
            self._wake_queued.set()
            self._events.put(("wake",))

    def _on_socket_open(self, _client: mqtt.Client, _generation: int, sock: Any) -> None:
        # Nagle's algorithm holds a small packet written right behind another (a PUBACK, then
        # the next PUBLISH) until the peer's delayed ACK, ~40 ms on Linux: one stall per window
        # of events. MQTT packets are small and latency matters, so send at once.
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(self, _client: mqtt.Client, generation: int, _flags: Any,
                    reason_code: ReasonCode, _properties: Any) -> None:
        self._events.put(("connack", generation, *_reason(reason_code)))

    def _on_disconnect(self, _client: mqtt.Client, generation: int, _flags: Any,
                       reason_code: ReasonCode, _properties: Any) -> None:
        self._events.put(("down", generation, *_reason(reason_code)))

    def _on_publish(self, _client: mqtt.Client, generation: int, mid: int,
                    reason_code: ReasonCode, _properties: Any) -> None:
        self._events.put(("puback", generation, mid, *_reason(reason_code)))

    def _on_subscribe(self, _client: mqtt.Client, generation: int, mid: int,
                      reason_codes: list[ReasonCode], _properties: Any) -> None:
        self._events.put(("suback", generation, mid, [_reason(code) for code in reason_codes]))

    def _on_paho_message(self, _client: mqtt.Client, generation: int,
                         message: mqtt.MQTTMessage) -> None:
        if generation != self._generation:
            return  # from a connection already given up
        try:
            kind_name = topics.classify(message.topic, self._community_id, self._gate_id)
        except (ValueError, UnicodeDecodeError):
            kind_name = None
        if kind_name is None:
            log.warning("message on unexpected topic ignored")
            return
        kind, name = kind_name
        if kind == "status-list":
            self._status_list_heard = generation
        if kind == "ack":
            try:
                stream, through = parse_ack(bytes(message.payload))
            except ValueError as exc:
                log.warning("bad ack ignored: %s", exc)
                return
            self._events.put(("ack", stream, through))
            return
        try:
            self._on_message(kind, name, bytes(message.payload), bool(message.retain))
        except Exception:
            log.exception("on_message handler failed for %s", kind)

    # -- the link thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._one_round()
            except Exception as exc:  # a bug must not end the link: log, drop, back off
                log.exception("mqtt link round failed")
                self._last_error = f"internal: {exc}"
                self._drop_connection()
            if self._stopping.is_set():
                break
            self._next_attempt_at = self._clock.monotonic() + self._backoff.next_delay()
            self._wait_until(self._next_attempt_at)
            self._next_attempt_at = None
        self._close_connection()

    def _one_round(self) -> None:
        """Try each broker in order; serve the first that accepts until its link is lost."""
        for host, port in self._settings.endpoints:
            if self._stopping.is_set():
                return
            if not self._connect(host, port):
                continue
            started = self._clock.monotonic()
            self._serve()
            if self._clock.monotonic() - started >= STABLE_CONNECTION_S:
                self._backoff.reset()
            if not self._stopping.is_set():
                self._drop_connection()
            return

    def _new_client(self, generation: int) -> mqtt.Client:
        settings = self._settings
        protocol = PROTOCOLS[settings.protocol]
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            clean_session=True if protocol == MQTTProtocolVersion.MQTTv311 else None,
            userdata=generation,
            protocol=protocol,
            reconnect_on_failure=False,
        )
        client.connect_timeout = settings.connect_timeout_s
        client.max_inflight_messages_set(settings.window + PAHO_EXTRA_INFLIGHT)
        if settings.tls is not None:
            client.tls_set(ca_certs=settings.tls.ca_file, certfile=settings.tls.cert_file,
                           keyfile=settings.tls.key_file)
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        will = self._will_payload() if callable(self._will_payload) else self._will_payload
        client.will_set(topics.state_topic(self._community_id, self._gate_id),
                        json.dumps(will, separators=(",", ":")), qos=1, retain=True)
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_paho_message
        return client

    def _connect(self, host: str, port: int) -> bool:
        """One attempt on one broker; True once it has accepted us and we have subscribed."""
        self._attempts += 1
        self._generation += 1
        self._connack = None
        self._link_lost = None
        where = f"{host}:{port}"
        try:
            client = self._new_client(self._generation)
        except (OSError, ValueError) as exc:  # unreadable certificate or key, mostly
            self._last_error = f"{where}: client set-up failed: {exc}"
            log.error("mqtt %s", self._last_error)
            return False
        with self._client_lock:
            self._client = client
        try:
            if self._settings.protocol == "5":
                client.connect(host, port, keepalive=self._settings.keepalive, clean_start=True)
            else:  # 3.1.1: clean session was set when the client was made
                client.connect(host, port, keepalive=self._settings.keepalive)
        except OSError as exc:
            self._last_error = f"{where}: {exc}"
            log.info("mqtt connect to %s failed: %s", where, exc)
            self._drop_connection()
            return False
        except ValueError as exc:  # paho refuses the settings themselves
            self._last_error = f"{where}: {exc}"
            log.error("mqtt connect to %s impossible: %s", where, exc)
            self._drop_connection()
            return False
        client.loop_start()
        deadline = self._clock.monotonic() + self._settings.connect_timeout_s
        while self._connack is None and self._link_lost is None:
            if self._stopping.is_set() or self._clock.monotonic() >= deadline:
                break
            self._handle_events(POLL_S)
        if self._connack is None or self._connack[0] >= FIRST_FAILURE_REASON:
            if self._connack is not None:
                self._last_error = f"{where}: refused: {self._connack[1]}"
            elif self._link_lost is not None:
                self._last_error = f"{where}: closed before CONNACK"
            elif not self._stopping.is_set():
                self._last_error = f"{where}: no CONNACK in {self._settings.connect_timeout_s} s"
            log.warning("mqtt %s", self._last_error)
            self._drop_connection()
            return False
        self._connections += 1
        self._broker = where
        self._connected = True
        log.info("mqtt connected to %s (protocol %s)", where, self._settings.protocol)
        self._sub_requests = {}
        self._resubscribe = []
        self._resubscribe_at = None
        self._refusals = 0
        self._status_list_wait = self._settings.status_list_wait_s
        self._status_list_due = self._clock.monotonic() + self._status_list_wait
        self._subscribe(client, self._wanted_subscriptions())
        self._publish_birth()
        return True

    def _wanted_subscriptions(self) -> list[tuple[str, int]]:
        """(topic filter, MQTT 5 retain handling) of everything the gate subscribes to."""
        c, g = self._community_id, self._gate_id
        return [
            (topics.status_list_topic(c), 0),
            (topics.ack_topic(c, g), 0),
            (topics.cmd_subscription(c, g), SubscribeOptions.RETAIN_DO_NOT_SEND),
        ]

    def _subscribe(self, client: mqtt.Client, wanted: list[tuple[str, int]]) -> None:
        if self._settings.protocol == "5":
            _rc, mid = client.subscribe([(t, SubscribeOptions(qos=1, retainHandling=retain))
                                         for t, retain in wanted])
        else:
            _rc, mid = client.subscribe([(t, 1) for t, _ in wanted])
        if mid is not None:
            self._sub_requests[mid] = wanted

    def _take_suback(self, mid: int, codes: list[tuple[int, str]]) -> None:
        """A SUBACK: schedule what the broker refused to be asked for again.

        A clustered broker (NATS) can refuse (0x80) a subscription it could not store in time,
        right after a node died; without its `ack` subscription the gate would never settle
        anything on this connection, so a refusal is retried after a back-off.
        """
        asked = self._sub_requests.pop(mid, None)
        if asked is None:
            return  # a status-list refresh: its refusal leaves the held list in use
        refused = [(want, name) for want, (value, name) in zip(asked, codes, strict=False)
                   if value >= FIRST_FAILURE_REASON]
        if not refused:
            if not self._resubscribe:
                self._subscribe_backoff.reset()
                self._refusals = 0
            return
        self._refusals += 1
        if self._refusals >= MAX_REFUSALS_PER_CONNECTION:
            # The broker keeps refusing on this session (NATS: a consumer left half made):
            # a new connection starts a new session.
            self._link_lost = f"subscriptions refused {self._refusals} times"
            return
        self._resubscribe.extend(want for want, _ in refused if want not in self._resubscribe)
        delay = self._subscribe_backoff.next_delay()
        names = ", ".join(f"{want[0]}: {name}" for want, name in refused)
        self._last_error = f"subscription refused: {names}"
        log.error("broker refused subscriptions (%s); subscribing again in %.2f s", names, delay)
        if self._resubscribe_at is None:
            self._resubscribe_at = self._clock.monotonic() + delay

    def _ask_for_status_list(self, now: float) -> None:
        """Subscribe to the status list again while it has not come on this connection.

        A broker normally sends the retained list with the SUBACK. A NATS cluster that lost the
        node leading its retained-message stream accepts the subscription and sends nothing
        (measured: 10-44 s, or never for that subscription), so the gate asks again, waiting
        twice as long each time up to the back-off maximum. The gate works from its own copy
        meanwhile (DESIGN 2.2).
        """
        if self._status_list_due is None or now < self._status_list_due:
            return
        if self._status_list_heard == self._generation:
            self._status_list_due = None
            return
        client = self._client
        if client is not None:
            log.info("no status list on this connection yet; subscribing to it again")
            self._subscribe(client, self._wanted_subscriptions()[:1])
        self._status_list_wait = min(self._status_list_wait * 2,
                                     max(self._settings.backoff_max_s, self._status_list_wait))
        self._status_list_due = now + self._status_list_wait

    def _subscribe_again(self, now: float) -> None:
        if self._resubscribe_at is None or now < self._resubscribe_at:
            return
        wanted, self._resubscribe, self._resubscribe_at = self._resubscribe, [], None
        client = self._client
        if client is not None and wanted:
            self._subscribe(client, wanted)

    def _publish_birth(self) -> None:
        try:
            birth = self._state_payload()
        except Exception:
            log.exception("state payload failed; no birth record")
            return
        if not self.publish_now("state", birth, qos=1, retain=True):
            log.warning("birth record not handed to paho")

    def _serve(self) -> None:
        """Send from the outbox while the link is up; return when it is lost or on stop."""
        self._in_flight = {}
        self._cursor = 0
        self._retry_from = self._retry_at = None
        self._watch = None
        now = self._clock.monotonic()
        self._next_progress_check = now + PROGRESS_CHECK_S
        self._next_telemetry = now
        while not self._stopping.is_set():
            try:
                self._handle_events(POLL_S)
                if self._link_lost is not None or not self._client_is_connected():
                    self._last_error = f"{self._broker}: link lost: {self._link_lost or 'closed'}"
                    log.warning("mqtt %s", self._last_error)
                    return
                now = self._clock.monotonic()
                if self._retry_at is not None and now >= self._retry_at:
                    assert self._retry_from is not None
                    self._cursor = min(self._cursor, self._retry_from - 1)
                    self._retry_from = self._retry_at = None
                if now >= self._next_progress_check:
                    self._next_progress_check = now + PROGRESS_CHECK_S
                    self._resend_if_stuck(now)
                self._subscribe_again(now)
                self._ask_for_status_list(now)
                if not self._fill_window():
                    return
                if self._telemetry is not None and now >= self._next_telemetry:
                    self._next_telemetry = now + self._telemetry_period_s
                    self._send_telemetry()
            except OutboxError as exc:
                # The app sees the same storage fault on append and raises storage_fault; here
                # we keep the link and try again shortly.
                self._last_error = f"outbox: {exc}"
                log.error("mqtt sender: %s", exc)
                self._wait_until(self._clock.monotonic() + 1.0)

    def _client_is_connected(self) -> bool:
        client = self._client
        return client is not None and client.is_connected()

    def _fill_window(self) -> bool:
        """Hand paho the next rows up to the window; False if paho says the link is gone."""
        room = self._settings.window - len(self._in_flight)
        if room <= 0 or self._retry_at is not None:
            return True
        client = self._client
        if client is None:
            return False
        for row in self._outbox.pending(room, after_seq=self._cursor):
            info = client.publish(self._outbox_topics[row.kind], row.payload.encode(), qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._link_lost = f"publish refused: {mqtt.error_string(info.rc)}"
                return False
            self._in_flight[info.mid] = row.seq
            self._cursor = row.seq
        return True

    def _resend_if_stuck(self, now: float) -> None:
        """Send again from the oldest unsettled row if it was sent and stays unsettled."""
        oldest = self._outbox.oldest_unsettled()
        if oldest is None or oldest > self._cursor:
            self._watch = None
        elif self._watch is None or self._watch[0] != oldest:
            self._watch = (oldest, now)
        elif now - self._watch[1] >= self._settings.ack_timeout_s:
            log.warning("seq %d unsettled %.0f s after sending; sending again from it",
                        oldest, now - self._watch[1])
            self._cursor = min(self._cursor, oldest - 1)
            self._watch = (oldest, now)

    def _send_telemetry(self) -> None:
        assert self._telemetry is not None
        try:
            payload = self._telemetry()
        except Exception:
            log.exception("telemetry payload failed")
            return
        if payload is not None:
            self.publish_now("telemetry", payload, qos=0)

    def _handle_events(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for posted events, then apply everything queued at once
        (PUBACKs and acks are batched so that a burst costs one fsync, not one per message)."""
        try:
            batch = [self._events.get(timeout=timeout_s)]
        except queue.Empty:
            return
        while True:
            try:
                batch.append(self._events.get_nowait())
            except queue.Empty:
                break
        published: list[int] = []
        heard = False
        resend: list[tuple[int, str]] = []  # refused, or (ack mode) taken by nobody
        acks: dict[str, int] = {}
        current = self._generation
        for event in batch:
            kind = event[0]
            if kind == "ack":
                acks[event[1]] = max(acks.get(event[1], 0), event[2])
            elif kind == "wake":
                self._wake_queued.clear()
            elif event[1] != current:
                continue  # news from a connection already given up
            elif kind == "connack":
                self._connack = (event[2], event[3])
            elif kind == "down":
                self._link_lost = event[3]
            elif kind == "suback":
                self._take_suback(event[2], event[3])
            elif kind == "puback":
                seq = self._in_flight.pop(event[2], None)
                if seq is None:
                    continue  # a message sent with publish_now
                reason = event[3]
                if reason >= FIRST_FAILURE_REASON:
                    resend.append((seq, f"broker refused seq {seq}: {event[4]}"))
                    continue
                published.append(seq)
                if reason == NO_MATCHING_SUBSCRIBERS and self._outbox.settle_on == "ack":
                    resend.append((seq, f"no subscriber took seq {seq}"))
                else:
                    heard = True
        if published:
            self._outbox.mark_published_many(published)
        if heard and not resend:
            self._publish_backoff.reset()
        if resend:
            first, why = min(resend)
            delay = self._publish_backoff.next_delay()
            self._last_error = why
            log.warning("mqtt %s; sending again in %.2f s", why, delay)
            self._retry_from = first if self._retry_from is None else min(self._retry_from, first)
            self._retry_at = self._clock.monotonic() + delay
        for stream, through in acks.items():
            self._outbox.settle_through(stream, through)

    def _wait_until(self, deadline: float) -> None:
        while not self._stopping.is_set():
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                return
            try:
                self._handle_events(min(POLL_S, remaining))
            except OutboxError as exc:
                log.error("mqtt link: %s", exc)

    def _drop_connection(self) -> None:
        """Give up the current client at once (no DISCONNECT: the link is already bad)."""
        with self._client_lock:
            client, self._client = self._client, None
        self._connected = False
        self._in_flight = {}
        if client is None:
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes paho's thread so that it ends now
        client.loop_stop()

    def _close_connection(self) -> None:
        """On stop: retained offline state, clean DISCONNECT (the will is then not sent)."""
        client = self._client
        if client is not None and self._connected:
            will = self._will_payload() if callable(self._will_payload) else self._will_payload
            info = client.publish(topics.state_topic(self._community_id, self._gate_id),
                                  json.dumps(will, separators=(",", ":")), qos=1, retain=True)
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                try:
                    info.wait_for_publish(STOP_PUBLISH_TIMEOUT_S)
                except (RuntimeError, ValueError) as exc:
                    log.warning("offline state not confirmed: %s", exc)
            client.disconnect()
            # Let paho's thread write the DISCONNECT before the socket is shut (bounded).
            for _ in range(int(STOP_PUBLISH_TIMEOUT_S / POLL_S)):
                if self._link_lost is not None:
                    break
                self._handle_events(POLL_S)
        self._drop_connection()
        log.info("mqtt link stopped")
