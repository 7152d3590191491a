"""The MQTT link: our own connection manager around paho (DESIGN 1.3, 2.4, 2.5).

One thread (`mqtt-link`) owns the connection and the sending; paho's network thread only moves
bytes and posts what it saw into a queue (`firmware.link.client`). Each attempt uses a fresh
paho client with paho's reconnect off, so nothing queued in paho's memory survives into the next
connection and the outbox stays the only queue; rounds over the broker list back off with full
jitter. Clean sessions: commands are never replayed from a stored session, the status list is
retained, unsettled rows are sent again after every reconnect. See README.md beside this file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import random
import socket
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from firmware import topics
from firmware.clock import Clock
from firmware.link.backoff import Backoff
from firmware.link.client import OnMessage, PahoSide, stop_loop, subscribe
from firmware.link.news import Connack, Down, News, Puback, ServerAck, Suback, Wake
from firmware.link.sender import FIRST_FAILURE_REASON, OnAckRefused, Sender
from firmware.link.settings import MqttSettings
from firmware.link.subscriptions import Subscriptions
from firmware.store.outbox import Outbox, OutboxError
from firmware.topics import OUTBOX_KINDS

log = logging.getLogger(__name__)

POLL_S = 0.1  # real seconds between looks at the clock while waiting for something
STABLE_CONNECTION_S = 10.0  # a link that lasted this long resets the back-off
STOP_PUBLISH_TIMEOUT_S = 2.0  # how long stop() waits for the offline record's PUBACK
# Messages that are not kept. "alarm" is here only for the storage_fault alarm the app sends
# when the outbox itself has failed (best effort); every other alarm goes through the outbox.
NOT_KEPT_KINDS = ("state", "telemetry", "cmd-result", "alarm")

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
        on_ack_refused: OnAckRefused | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._community_id = topics.validate_id(community_id, "community_id")
        self._gate_id = topics.validate_id(gate_id, "gate_id")
        self._device_id = topics.validate_id(device_id, "device_id")
        self._outbox = outbox
        self._state_payload = state_payload
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s,
                                rng or random.Random())
        self._sender = Sender(
            outbox, settings, clock,
            {kind: topics.gate_topic(kind, community_id, gate_id) for kind in OUTBOX_KINDS},
            on_ack_refused,
        )
        self._news: queue.Queue[News] = queue.Queue()
        self._paho = PahoSide(settings, self._community_id, self._gate_id, self._news,
                              on_message, lambda: self._generation, will_payload,
                              self._heard_status_list)
        self._subs = Subscriptions(settings, clock, self._paho.wanted(),
                                   frozenset({self._paho.commands_filter()}))
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
            "in_flight": len(self._sender.in_flight),
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
        subscribe(client, self._settings.protocol, [(topic, 0)],
                  qos=self._settings.subscribe_qos)

    def _heard_status_list(self, generation: int) -> None:
        # paho's thread: one int written, read by the link thread (no lock needed for that).
        self._subs.status_list_heard = generation

    def _wake(self, _seq: int | None = None) -> None:
        # One wake-up in the queue is enough, however many appends happen meanwhile (and
        # however long the link is offline or not started).
        if not self._wake_queued.is_set():
            self._wake_queued.set()
            self._news.put(Wake())

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

    def _connect(self, host: str, port: int) -> bool:
        """One attempt on one broker; True once it has accepted us and we have subscribed."""
        self._attempts += 1
        self._generation += 1
        self._connack = None
        self._link_lost = None
        where = f"{host}:{port}"
        try:
            client = self._paho.new_client(self._generation)
        except (OSError, ValueError) as exc:  # unreadable certificate or key, mostly
            self._last_error = f"{where}: client set-up failed: {exc}"
            log.error("mqtt %s", self._last_error)
            return False
        with self._client_lock:
            self._client = client
        problem = self._paho.connect(client, host, port)
        if problem is not None:
            self._last_error = f"{where}: {problem}"
            log.info("mqtt connect to %s failed: %s", where, problem)
            self._drop_connection()
            return False
        client.loop_start()
        deadline = self._clock.monotonic() + self._settings.connect_timeout_s
        while self._connack is None and self._link_lost is None:
            if self._stopping.is_set() or self._clock.monotonic() >= deadline:
                break
            self._handle_news(POLL_S)
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
        self._subs.start_connection(client)
        self._publish_birth()
        return True

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
        self._sender.start_connection(self._clock.monotonic())
        while not self._stopping.is_set():
            try:
                self._handle_news(POLL_S)
                client = self._client
                if self._link_lost is not None or client is None or not client.is_connected():
                    self._last_error = f"{self._broker}: link lost: {self._link_lost or 'closed'}"
                    log.warning("mqtt %s", self._last_error)
                    return
                now = self._clock.monotonic()
                self._sender.tick(now)
                self._subs.tick(client, self._generation, now)
                lost = self._sender.fill_window(client)
                if lost is not None:
                    self._link_lost = lost
                    return
            except OutboxError as exc:
                # The app sees the same storage fault on append and raises storage_fault; here
                # we keep the link and try again shortly.
                self._last_error = f"outbox: {exc}"
                log.error("mqtt sender: %s", exc)
                self._wait_until(self._clock.monotonic() + 1.0)

    def _handle_news(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for news, then apply everything queued at once (PUBACKs and
        acks are batched so that a burst costs one fsync, not one per message)."""
        try:
            batch = [self._news.get(timeout=timeout_s)]
        except queue.Empty:
            return
        while True:
            try:
                batch.append(self._news.get_nowait())
            except queue.Empty:
                break
        pubacks: list[Puback] = []
        acks: dict[str, int] = {}
        current = self._generation
        for news in batch:
            if isinstance(news, ServerAck):
                acks[news.stream] = max(acks.get(news.stream, 0), news.through_seq)
            elif isinstance(news, Wake):
                self._wake_queued.clear()
                self._sender.note_appended()
            elif isinstance(news, Suback):
                if news.generation == current:
                    lost = self._subs.take_suback(news.mid, list(news.codes))
                    self._last_error = self._subs.last_refusal or self._last_error
                    if lost is not None:
                        self._link_lost = lost
            elif news.generation != current:
                continue  # news from a connection already given up
            elif isinstance(news, Connack):
                self._connack = (news.code, news.name)
            elif isinstance(news, Down):
                self._link_lost = news.name
            else:
                pubacks.append(news)
        problem = self._sender.apply(pubacks, acks)
        if problem is not None:
            self._last_error = problem

    def _wait_until(self, deadline: float) -> None:
        while not self._stopping.is_set():
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                return
            try:
                self._handle_news(min(POLL_S, remaining))
            except OutboxError as exc:
                log.error("mqtt link: %s", exc)

    def _drop_connection(self) -> None:
        """Give up the current client at once (no DISCONNECT: the link is already bad)."""
        with self._client_lock:
            client, self._client = self._client, None
        self._connected = False
        self._sender.forget_in_flight()
        if client is None:
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes paho's thread so that it ends now
        stop_loop(client)

    def _close_connection(self) -> None:
        """On stop: retained offline state, clean DISCONNECT (the will is then not sent)."""
        client = self._client
        if client is not None and self._connected:
            will = self._paho.will()
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
                self._handle_news(POLL_S)
        self._drop_connection()
        log.info("mqtt link stopped")
