"""The link's subscriptions on one connection: asked for afresh on every connect (no session is
ever present), asked for again when the broker refuses them, and the status list asked for
again when it does not come.

A clustered broker (NATS) can refuse (0x80) a subscription it could not store in time, right
after a node died; without its `ack` subscription the gate would never settle anything on that
connection, so a refusal is asked for again after a back-off on the same connection, and after
`MAX_REFUSALS_PER_CONNECTION` refusals in a row the connection is given up for a new session.
A broker normally sends the retained status list with the SUBACK; a NATS cluster that lost the
node leading its retained-message stream accepts the subscription and sends nothing (measured:
10-44 s, or never for that subscription), so the gate asks again, waiting twice as long each
time up to the back-off maximum, and works from its own copy meanwhile (DESIGN 2.2).
"""

from __future__ import annotations

import logging
import random

import paho.mqtt.client as mqtt

from firmware.clock import Clock
from firmware.link.backoff import Backoff
from firmware.link.client import Wanted, subscribe
from firmware.link.sender import FIRST_FAILURE_REASON
from firmware.link.settings import MqttSettings

log = logging.getLogger(__name__)

MAX_REFUSALS_PER_CONNECTION = 4  # refused SUBACKs in a row before a fresh connection


class Subscriptions:
    """Link-thread state of what was asked for, refused, and still awaited."""

    def __init__(self, settings: MqttSettings, clock: Clock, wanted: list[Wanted],
                 as_published: frozenset[str] = frozenset()) -> None:
        self._settings = settings
        self._clock = clock
        self._wanted = wanted  # the status list first
        self._as_published = as_published  # filters that keep the retain flag live (MQTT 5)
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s,
                                random.Random())
        self._requests: dict[int, list[Wanted]] = {}
        self._again: list[Wanted] = []
        self._again_at: float | None = None
        self._refusals = 0
        self._status_list_wait = settings.status_list_wait_s
        self._status_list_due: float | None = None
        # The connection generation on which the status list last arrived (paho's thread).
        self.status_list_heard = 0
        self.last_refusal: str | None = None

    def start_connection(self, client: mqtt.Client) -> None:
        """A new connection: subscribe to everything, and start waiting for the list."""
        self._requests, self._again, self._again_at, self._refusals = {}, [], None, 0
        self._status_list_wait = self._settings.status_list_wait_s
        self._status_list_due = self._clock.monotonic() + self._status_list_wait
        self._ask(client, self._wanted)

    def _ask(self, client: mqtt.Client, wanted: list[Wanted]) -> None:
        mid = subscribe(client, self._settings.protocol, wanted, self._as_published,
                        self._settings.subscribe_qos)
        if mid is not None:
            self._requests[mid] = wanted

    def take_suback(self, mid: int, codes: list[tuple[int, str]]) -> str | None:
        """Schedule what the broker refused to be asked for again; the reason to give up the
        connection when it keeps refusing."""
        asked = self._requests.pop(mid, None)
        if asked is None:
            return None  # a status-list refresh: its refusal leaves the held list in use
        refused = [(want, name) for want, (value, name) in zip(asked, codes, strict=False)
                   if value >= FIRST_FAILURE_REASON]
        if not refused:
            if not self._again:
                self._backoff.reset()
                self._refusals = 0
            return None
        self._refusals += 1
        if self._refusals >= MAX_REFUSALS_PER_CONNECTION:
            # The broker keeps refusing on this session (NATS: a consumer left half made).
            return f"subscriptions refused {self._refusals} times"
        self._again.extend(want for want, _ in refused if want not in self._again)
        delay = self._backoff.next_delay()
        names = ", ".join(f"{want[0]}: {name}" for want, name in refused)
        self.last_refusal = f"subscription refused: {names}"
        log.error("broker refused subscriptions (%s); subscribing again in %.2f s", names, delay)
        if self._again_at is None:
            self._again_at = self._clock.monotonic() + delay
        return None

    def tick(self, client: mqtt.Client, generation: int, now: float) -> None:
        """Ask again for what was refused, and for a status list that has not come."""
        if self._again_at is not None and now >= self._again_at:
            wanted, self._again, self._again_at = self._again, [], None
            if wanted:
                self._ask(client, wanted)
        if self._status_list_due is None or now < self._status_list_due:
            return
        if self.status_list_heard == generation:
            self._status_list_due = None
            return
        log.info("no status list on this connection yet; subscribing to it again")
        self._ask(client, self._wanted[:1])
        self._status_list_wait = min(self._status_list_wait * 2,
                                     max(self._settings.backoff_max_s, self._status_list_wait))
        self._status_list_due = now + self._status_list_wait
