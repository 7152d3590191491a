"""What `ping` and telemetry report (DESIGN 2.4), built on the gate loop as a finished snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from firmware import payloads
from firmware.clock import Clock
from firmware.gate.alarms import Recorder
from firmware.gate.state_store import StateStore
from firmware.gate.visit import Visits
from firmware.ports import LinkPort
from firmware.store.outbox import Outbox

CPU_TEMPERATURE_PATH = "/sys/class/thermal/thermal_zone0/temp"


def cpu_temperature(path: str = CPU_TEMPERATURE_PATH) -> float | None:
    """The SoC temperature in °C (Linux thermal zone, millidegrees), or None."""
    try:
        with open(path) as f:
            return round(int(f.read().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


class Health:
    """Reads the gate's parts (on the gate loop) into health and telemetry records."""

    def __init__(
        self,
        clock: Clock,
        outbox: Outbox,
        store: StateStore,
        recorder: Recorder,
        visits: Visits,
        link: LinkPort | None,
        reader_stats: Callable[[], dict[str, Any]] | None,
    ) -> None:
        self._clock = clock
        self._outbox = outbox
        self._store = store
        self._recorder = recorder
        self._visits = visits
        self._link = link
        self._reader_stats = reader_stats
        self.started_at = clock.monotonic()

    def held_status_iat(self) -> int | None:
        held = self._store.status.status_list
        return held.iat if held is not None else None

    def health(self) -> dict[str, Any]:
        """What ping reports."""
        stats = self._reader_stats() if self._reader_stats else {}
        return {
            "uptime_s": round(self._clock.monotonic() - self.started_at, 1),
            "phase": self._visits.phase,
            "faults": sorted(self._recorder.faults),
            "decisions": self._visits.decisions,
            "outbox_depth": self._outbox.depth(),
            "outbox_unsettled": self._outbox.unsettled(),
            "status_list_iat": self.held_status_iat(),
            "decode_rate_hz": stats.get("decode_rate_hz"),
            "frame_rate_hz": stats.get("frame_rate_hz"),
        }

    def telemetry(self) -> dict[str, Any]:
        """The periodic telemetry payload."""
        health = self.health()
        iat = health["status_list_iat"]
        sample = self._visits.last_sample
        broker = self._link.status().get("connected_broker") if self._link is not None else None
        return payloads.telemetry(
            self._recorder.identity,
            self._clock.time(),
            self._clock.synced(),
            uptime_s=health["uptime_s"],
            ambient_c=round(sample.ambient_c, 2) if sample is not None else None,
            cpu_temp_c=cpu_temperature(),
            outbox_depth=health["outbox_depth"],
            outbox_unsettled=health["outbox_unsettled"],
            decode_rate_hz=health["decode_rate_hz"],
            frame_rate_hz=health["frame_rate_hz"],
            connected_broker=str(broker) if broker else None,
            status_list_age_s=(round(self._store.now() - iat, 1) if iat is not None else None),
        )
