"""Records and alarms: everything the gate commits to the outbox goes through here.

Lasting conditions (a sensor fault, a door held open) are raised once and cleared once;
transient ones (a fever, a quarantine breach) are raised every time. When the outbox itself
fails, the door is locked, the screen shows the fault, and the `storage_fault` alarm goes to the
server directly (best effort), since it cannot be recorded.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from firmware import payloads
from firmware.clock import Clock
from firmware.core import prompts
from firmware.ports import DoorPort, IndicatorPort, LinkPort
from firmware.store.outbox import Outbox, OutboxError

log = logging.getLogger(__name__)

# stream and seq of a record that could not be numbered (DESIGN 2.4 dry-run marker)
UNNUMBERED_STREAM = "0" * 32


class Recorder:
    """Commits events and alarms; keeps the set of lasting alarms raised and of faults."""

    def __init__(
        self,
        identity: payloads.Identity,
        clock: Clock,
        outbox: Outbox,
        door: DoorPort,
        indicator: IndicatorPort,
        link: LinkPort | None,
    ) -> None:
        self.identity = identity
        self._clock = clock
        self._outbox = outbox
        self._door = door
        self._indicator = indicator
        self._link = link
        self.faults: set[str] = set()
        self.raised: set[str] = set()
        # Called with (kind, committed payload) after each record: live views, logs.
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def record(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Commit to the outbox; None (and a storage fault) when it cannot be done."""
        try:
            committed = self._outbox.append(kind, payload)
        except (OutboxError, ValueError, OSError) as exc:
            log.error("outbox refused %s: %s", kind, exc)
            self.storage_fault(str(exc))
            return None
        if "storage" in self.faults:
            self.faults.discard("storage")
            self.clear("storage_fault", {})
        for listener in self.listeners:
            try:
                listener(kind, committed)
            except Exception:
                log.exception("record listener failed")
        return committed

    def storage_fault(self, detail: str) -> None:
        """The outbox (or another store) failed: lock, show the fault, tell the server."""
        self.safe_lock()
        if "storage" not in self.faults:
            self.faults.add("storage")
            # The outbox is what failed: tell the server directly, best effort.
            if self._link is not None:
                alarm = self.direct_alarm("storage_fault", {"error": detail[:200]})
                self._link.publish_now("alarm", alarm)
        self._indicator.show("fault", prompts.for_step(prompts.FAULT))

    def direct_alarm(self, name: str, detail: dict[str, Any]) -> dict[str, Any]:
        """An alarm for the link's publish_now, never committed: marked seq 0, stream zeros."""
        alarm = payloads.alarm(
            self.identity, name, self._clock.time(), self._clock.synced(), detail=detail
        )
        alarm.update(event_id=str(uuid.uuid4()), stream=UNNUMBERED_STREAM, seq=0)
        return alarm

    def raise_alarm(
        self,
        name: str,
        detail: dict[str, Any],
        pass_record: dict[str, Any] | None = None,
        temperature: dict[str, Any] | None = None,
        related: str | None = None,
        transient: bool = False,
    ) -> None:
        """Record an alarm. Lasting conditions are raised once and cleared once."""
        if not transient:
            if name in self.raised:
                return
            self.raised.add(name)
        if name == "storage_fault":
            self.storage_fault(json.dumps(detail))
            return
        payload = payloads.alarm(
            self.identity,
            name,
            self._clock.time(),
            self._clock.synced(),
            "raised",
            detail,
            pass_record,
            temperature,
            related,
        )
        self.record("alarm", payload)

    def clear(self, name: str, detail: dict[str, Any]) -> None:
        """Record that a lasting alarm is over (nothing if it was not raised)."""
        if name not in self.raised:
            return
        self.raised.discard(name)
        payload = payloads.alarm(
            self.identity, name, self._clock.time(), self._clock.synced(), "cleared", detail
        )
        self.record("alarm", payload)

    def safe_lock(self) -> None:
        """Lock the door; a failing lock is logged, never raised."""
        try:
            self._door.lock()
        except Exception:
            log.exception("door could not be locked")
