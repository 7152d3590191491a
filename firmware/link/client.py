"""paho's side of the link: one fresh client per connection attempt, and its callbacks.

paho calls back on its network thread while holding its own locks, so a callback that took one
of the link's locks while the link thread held it and called `publish()` would deadlock; the
callbacks here only wrap what they saw in a `News` item and put it on the link's queue.
Each client carries its connection's `generation` as userdata, so news from a connection that
was already given up is recognised and dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from firmware import payloads, topics
from firmware.link.news import Connack, Down, News, Puback, ServerAck, Suback
from firmware.link.settings import PROTOCOLS, MqttSettings

log = logging.getLogger(__name__)

PAHO_EXTRA_INFLIGHT = 4  # room beside the outbox window for birth, cmd-result

OnMessage = Callable[[str, "str | None", bytes, bool], None]


def _reason(reason_code: ReasonCode | int) -> tuple[int, str]:
    if isinstance(reason_code, ReasonCode):
        return reason_code.value, reason_code.getName()
    return int(reason_code), str(reason_code)


# (topic filter, MQTT 5 retain handling)
Wanted = tuple[str, int]


def subscribe(client: mqtt.Client, protocol: str, wanted: list[Wanted],
              as_published: frozenset[str] = frozenset(), qos: int = 1) -> int | None:
    """Subscribe at `qos` to `(topic, retain handling)` pairs; topics in `as_published` keep
    the publisher's retain flag on live delivery too (both options: MQTT 5 only). Returns the
    SUBSCRIBE's message id, whose SUBACK says what the broker granted."""
    if protocol == "5":
        _rc, mid = client.subscribe([(t, SubscribeOptions(qos=qos, retainHandling=retain,
                                                          retainAsPublished=t in as_published))
                                     for t, retain in wanted])
    else:
        _rc, mid = client.subscribe([(t, qos) for t, _ in wanted])
    return mid


def stop_loop(client: mqtt.Client) -> None:
    """`client.loop_stop()`, safe against paho's race: loop_stop() reads its thread twice, and
    if the thread ends in between (it just saw the socket close) the second read is None and
    join() raises AttributeError."""
    with contextlib.suppress(AttributeError):
        client.loop_stop()


class PahoSide:
    """Makes the link's paho clients and turns their callbacks into news."""

    def __init__(self, settings: MqttSettings, community_id: str, gate_id: str,
                 news: queue.Queue[News], on_message: OnMessage,
                 current_generation: Callable[[], int],
                 will_payload: dict[str, Any] | Callable[[], dict[str, Any]],
                 on_status_list: Callable[[int], None]) -> None:
        self._settings = settings
        self._community_id = community_id
        self._gate_id = gate_id
        self._news = news
        self._on_message = on_message
        self._generation = current_generation
        self._will_payload = will_payload
        self._on_status_list = on_status_list

    def will(self) -> dict[str, Any]:
        return self._will_payload() if callable(self._will_payload) else self._will_payload

    def connect(self, client: mqtt.Client, host: str, port: int) -> str | None:
        """Send CONNECT with a clean session; the reason if it could not even be sent."""
        try:
            if self._settings.protocol == "5":
                client.connect(host, port, keepalive=self._settings.keepalive, clean_start=True)
            else:  # 3.1.1: clean session was set when the client was made
                client.connect(host, port, keepalive=self._settings.keepalive)
        except OSError as exc:
            return str(exc)
        except ValueError as exc:  # paho refuses the settings themselves
            return f"impossible: {exc}"
        return None

    def wanted(self) -> list[Wanted]:
        """The status list (first), the server's acks, and this gate's commands.

        Commands: Retain Handling 2 keeps stored retained ones from being sent at subscribe,
        and Retain As Published (`as_published`) keeps the flag on a retained command published
        while we are subscribed (a broker clears it on live delivery otherwise), so the gate
        refuses it as `retained` then too. MQTT 3.1.1 has neither: a retained command published
        while the gate is online arrives unflagged, exactly like a normal one, and is taken as
        one (its jti is then spent); at every later connect it arrives flagged and is refused."""
        c, g = self._community_id, self._gate_id
        return [
            (topics.status_list_topic(c), 0),
            (topics.ack_topic(c, g), 0),
            (self.commands_filter(), SubscribeOptions.RETAIN_DO_NOT_SEND),
        ]

    def commands_filter(self) -> str:
        return topics.cmd_subscription(self._community_id, self._gate_id)

    def new_client(self, generation: int) -> mqtt.Client:
        """A fresh client for connection `generation`, with paho's own reconnect off."""
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
        will = self.will()
        client.will_set(topics.state_topic(self._community_id, self._gate_id),
                        json.dumps(will, separators=(",", ":")), qos=1, retain=True)
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_paho_message
        return client

    def _on_socket_open(self, _client: mqtt.Client, _generation: int, sock: Any) -> None:
        # Nagle's algorithm holds a small packet written right behind another (a PUBACK, then
        # the next PUBLISH) until the peer's delayed ACK, ~40 ms on Linux: one stall per window
        # of events. MQTT packets are small and latency matters, so send at once.
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(self, _client: mqtt.Client, generation: int, _flags: Any,
                    reason_code: ReasonCode, _properties: Any) -> None:
        self._news.put(Connack(generation, *_reason(reason_code)))

    def _on_disconnect(self, _client: mqtt.Client, generation: int, _flags: Any,
                       reason_code: ReasonCode, _properties: Any) -> None:
        self._news.put(Down(generation, *_reason(reason_code)))

    def _on_publish(self, _client: mqtt.Client, generation: int, mid: int,
                    reason_code: ReasonCode, _properties: Any) -> None:
        self._news.put(Puback(generation, mid, *_reason(reason_code)))

    def _on_subscribe(self, _client: mqtt.Client, generation: int, mid: int,
                      reason_codes: list[ReasonCode], _properties: Any) -> None:
        self._news.put(Suback(generation, mid, tuple(map(_reason, reason_codes))))

    def _on_paho_message(self, _client: mqtt.Client, generation: int,
                         message: mqtt.MQTTMessage) -> None:
        if generation != self._generation():
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
            self._on_status_list(generation)
        if kind == "ack":
            try:
                stream, through = payloads.parse_ack(bytes(message.payload))
            except ValueError as exc:
                log.warning("bad ack ignored: %s", exc)
                return
            self._news.put(ServerAck(stream, through))
            return
        try:
            self._on_message(kind, name, bytes(message.payload), bool(message.retain))
        except Exception:
            log.exception("on_message handler failed for %s", kind)
