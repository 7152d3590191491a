"""The outbox sender: in seq order, QoS 1, at most `window` rows handed to paho at a time.

It lives on the link thread and serves one connection at a time. Each PUBACK's reason code is
checked (MQTT 5): 0x80 and above means the broker did not take the message, so it is sent again
after a back-off. 0x10 "No matching subscribers" counts as taken, but nobody received it: with
ack settling the row stays unsettled and is sent again after the same back-off; with PUBACK
settling it is settled. If the oldest unsettled row has been sent and nothing settles it within
`ack_timeout_s`, it and everything after it are sent again. A server ack settles rows only as far
as this gate has sent (DESIGN 2.4 `ack_refused`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from firmware.clock import Clock
from firmware.link.backoff import Backoff
from firmware.link.news import Puback
from firmware.link.settings import MqttSettings
from firmware.store.outbox import Outbox

log = logging.getLogger(__name__)

PROGRESS_CHECK_S = 1.0  # how often the sender looks for rows nobody settles
FIRST_FAILURE_REASON = 0x80  # MQTT 5: reason codes from 0x80 up are failures
NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK: accepted, but no subscriber got it

# (stream, through_seq claimed, highest seq actually sent)
OnAckRefused = Callable[[str, int, int], None]


class Sender:
    """Hands outbox rows to paho and applies what comes back (see the module doc)."""

    def __init__(self, outbox: Outbox, settings: MqttSettings, clock: Clock,
                 outbox_topics: dict[str, str], on_ack_refused: OnAckRefused | None) -> None:
        self._outbox = outbox
        self._settings = settings
        self._clock = clock
        self._topics = outbox_topics
        self._on_ack_refused = on_ack_refused
        # Separate from the connection back-off: a refused message must not delay reconnects.
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s,
                                random.Random())
        self.in_flight: dict[int, int] = {}  # paho mid -> seq
        self._cursor = 0  # highest seq handed to paho on this connection
        self._retry_from: int | None = None
        self._retry_at: float | None = None
        self._watch: tuple[int, float] | None = None  # (oldest unsettled seq, since)
        self._next_progress_check = 0.0
        # Whether the outbox may hold rows past the cursor: set by an append, a PUBACK (room
        # in the window), a new connection or a resend; cleared by a look. An idle link thread
        # then reads nothing (a district's thousand gates on one host, an SD card on a Pi).
        self._look = True

    def start_connection(self, now: float) -> None:
        """A new connection: send again from the oldest unsettled row."""
        self.in_flight = {}
        self._cursor = 0
        self._look = True
        self._retry_from = self._retry_at = None
        self._watch = None
        self._next_progress_check = now + PROGRESS_CHECK_S

    def forget_in_flight(self) -> None:
        """The connection is gone, and with it every message paho held."""
        self.in_flight = {}

    def tick(self, now: float) -> None:
        """Resend after a refusal's back-off, or when the oldest sent row stays unsettled."""
        if self._retry_at is not None and now >= self._retry_at:
            assert self._retry_from is not None
            self._cursor = min(self._cursor, self._retry_from - 1)
            self._retry_from = self._retry_at = None
            self._look = True
        if now >= self._next_progress_check:
            self._next_progress_check = now + PROGRESS_CHECK_S
            self._resend_if_stuck(now)

    def note_appended(self) -> None:
        """The outbox has a new row."""
        self._look = True

    def fill_window(self, client: mqtt.Client) -> str | None:
        """Hand paho the next rows up to the window; the reason if paho says the link is gone."""
        room = self._settings.window - len(self.in_flight)
        if not self._look or room <= 0 or self._retry_at is not None:
            return None
        rows = self._outbox.pending(room, after_seq=self._cursor)
        self._look = False  # until a PUBACK makes room or a row is appended
        for row in rows:
            info = client.publish(self._topics[row.kind], row.payload.encode(), qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return f"publish refused: {mqtt.error_string(info.rc)}"
            self._outbox.note_sent(row.seq)
            self.in_flight[info.mid] = row.seq
            self._cursor = row.seq
        return None

    def apply(self, pubacks: list[Puback], acks: dict[str, int]) -> str | None:
        """Apply a batch of PUBACKs and server acks (one fsync each); the last problem seen."""
        published: list[int] = []
        heard = False
        if pubacks:
            self._look = True
        resend: list[tuple[int, str]] = []  # refused, or (ack mode) taken by nobody
        for puback in pubacks:
            seq = self.in_flight.pop(puback.mid, None)
            if seq is None:
                continue  # a message sent with publish_now
            if puback.code >= FIRST_FAILURE_REASON:
                self._outbox.note_refused(seq)
                resend.append((seq, f"broker refused seq {seq}: {puback.name}"))
                continue
            published.append(seq)
            if puback.code == NO_MATCHING_SUBSCRIBERS and self._outbox.settle_on == "ack":
                resend.append((seq, f"no subscriber took seq {seq}"))
            else:
                heard = True
        if published:
            self._outbox.mark_published_many(published)
        problem = None
        if heard and not resend:
            self._backoff.reset()
        if resend:
            first, problem = min(resend)
            delay = self._backoff.next_delay()
            log.warning("mqtt %s; sending again in %.2f s", problem, delay)
            self._retry_from = first if self._retry_from is None else min(self._retry_from, first)
            self._retry_at = self._clock.monotonic() + delay
        for stream, through in acks.items():
            settlement = self._outbox.settle_through(stream, through)
            if settlement.refused_beyond is not None:
                problem = f"ack through {through} beyond seq {settlement.refused_beyond} sent"
                log.error("mqtt %s: not settled past what was sent", problem)
                if self._on_ack_refused is not None:
                    self._on_ack_refused(stream, through, settlement.refused_beyond)
        return problem

    def _resend_if_stuck(self, now: float) -> None:
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
            self._look = True
