"""Builds the JSON payloads of gate events and alarms (DESIGN 2.4, mqtt_schema/).

Bodies only: `event_id`, `stream` and `seq` are given by the outbox when the record is
committed (firmware.store.outbox), so numbering has exactly one owner. No names, faces or images:
a pass appears by its opaque id.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from firmware import __version__
from firmware.core import policy
from firmware.core.temperature import Reading
from firmware.errors import one_line

EVENT_SCHEMA = "gatekiosk/event/v1"
ALARM_SCHEMA = "gatekiosk/alarm/v1"
STATE_SCHEMA = "gatekiosk/state/v1"
TELEMETRY_SCHEMA = "gatekiosk/telemetry/v1"
CMD_RESULT_SCHEMA = "gatekiosk/cmd-result/v1"
ACK_SCHEMA = "gatekiosk/ack/v1"

STREAM_PATTERN = re.compile(r"[0-9a-f]{16,32}")
MAX_ACK_BYTES = 512
MAX_ACK_SEQ = 2**63 - 1  # what SQLite can hold: a bigger number from the network never reaches it

KIND_ACCESS = "access"
KIND_EXIT_REQUEST = "exit_request"
KIND_REMOTE_OPEN = "remote_open"

CRITICAL = "critical"
WARNING = "warning"
ALARM_SEVERITY = {
    "fever": CRITICAL,
    "quarantine_breach": CRITICAL,
    "door_forced": CRITICAL,
    "door_held_open": WARNING,
    "sensor_fault": WARNING,
    "camera_fault": WARNING,
    "storage_fault": CRITICAL,
    "outbox_high_water": WARNING,
    "ack_refused": CRITICAL,
}


@dataclass(frozen=True)
class Identity:
    """Who is speaking: stamped on every event and alarm."""

    device_id: str
    community_id: str
    gate_id: str
    direction: str
    boot_id: str
    firmware: str = __version__


def iso_time(epoch: float) -> str:
    """UTC ISO 8601 with milliseconds and Z, e.g. 2026-11-22T03:04:05.123Z."""
    whole = int(epoch // 1)
    millis = round((epoch - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def _envelope(identity: Identity, schema: str, now: float, clock_synced: bool) -> dict[str, Any]:
    return {
        "schema": schema,
        "device_id": identity.device_id,
        "community_id": identity.community_id,
        "gate_id": identity.gate_id,
        "direction": identity.direction,
        "boot_id": identity.boot_id,
        "time": iso_time(now),
        "clock_synced": bool(clock_synced),
        "firmware": identity.firmware,
    }


def temperature_record(
    readings: list[Reading] | None,
    threshold_c: float,
    bodies: list[float] | None = None,
) -> dict[str, Any] | None:
    """The event's `temperature` object from the visit's readings (last one decides).

    `bodies` alone (no sensor readings, as in a dry-run decision) gives null raw values.
    """
    if readings:
        last = readings[-1]
        return {
            "object_c": round(last.object_c, 2),
            "ambient_c": round(last.ambient_c, 2),
            "body_c": round(last.body_c, 2),
            "samples": sum(r.samples for r in readings),
            "remeasured": len(readings) > 1,
            "threshold_c": threshold_c,
        }
    if bodies:
        return {
            "object_c": None,
            "ambient_c": None,
            "body_c": round(float(bodies[-1]), 2),
            "samples": len(bodies),
            "remeasured": len(bodies) > 1,
            "threshold_c": threshold_c,
        }
    return None


def access_event(
    identity: Identity,
    decision: policy.Decision,
    temperature: dict[str, Any] | None,
    now: float,
    clock_synced: bool,
    door_opened: bool | None = None,
    open_seconds: float | None = None,
) -> dict[str, Any]:
    """One decision, granted or denied."""
    opened = decision.granted if door_opened is None else door_opened
    event = _envelope(identity, EVENT_SCHEMA, now, clock_synced)
    event.update(
        kind=KIND_ACCESS,
        decision=decision.decision,
        reasons=list(decision.reasons),
        **{"pass": decision.pass_dict()},
        temperature=temperature,
        door={"opened": opened, "open_seconds": open_seconds if opened else None},
    )
    return event


def door_event(
    identity: Identity,
    kind: str,
    now: float,
    clock_synced: bool,
    open_seconds: float,
    operator: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """An exit-button or remote opening: granted, no pass, no temperature."""
    if kind not in (KIND_EXIT_REQUEST, KIND_REMOTE_OPEN):
        raise ValueError(f"not a door event kind: {kind}")
    event = _envelope(identity, EVENT_SCHEMA, now, clock_synced)
    event.update(
        kind=kind,
        decision=policy.GRANTED,
        reasons=[],
        **{"pass": None},
        temperature=None,
        door={"opened": True, "open_seconds": open_seconds},
    )
    if operator is not None:
        event["operator"] = operator
    if note:
        event["note"] = note[:200]
    return event


def alarm(
    identity: Identity,
    name: str,
    now: float,
    clock_synced: bool,
    state: str = "raised",
    detail: dict[str, Any] | None = None,
    pass_record: dict[str, Any] | None = None,
    temperature: dict[str, Any] | None = None,
    related_event_id: str | None = None,
) -> dict[str, Any]:
    """An alarm record; it shares the outbox (and so the seq numbering) with events."""
    if name not in ALARM_SEVERITY:
        raise ValueError(f"unknown alarm: {name}")
    record = _envelope(identity, ALARM_SCHEMA, now, clock_synced)
    record.update(
        alarm=name,
        severity=ALARM_SEVERITY[name],
        state=state,
        detail=dict(detail or {}),
        **{"pass": pass_record},
        temperature=temperature,
        related_event_id=related_event_id,
    )
    return record


def state_record(
    identity: Identity, state: str, now: float, clock_synced: bool, config_hash: str
) -> dict[str, Any]:
    """The retained birth (`online`) or last-will (`offline`) record."""
    return {
        "schema": STATE_SCHEMA,
        "state": state,
        "device_id": identity.device_id,
        "community_id": identity.community_id,
        "gate_id": identity.gate_id,
        "firmware": identity.firmware,
        "boot_id": identity.boot_id,
        "time": iso_time(now),
        "clock_synced": bool(clock_synced),
        "config_hash": config_hash or "0" * 64,
    }


def cmd_result(
    identity: Identity,
    now: float,
    cmd: str,
    jti: str | None,
    ok: bool,
    reason: str | None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The gate's answer to one command."""
    return {
        "schema": CMD_RESULT_SCHEMA,
        "device_id": identity.device_id,
        "community_id": identity.community_id,
        "gate_id": identity.gate_id,
        "time": iso_time(now),
        "cmd": cmd[:64],
        "jti": jti,
        "ok": ok,
        "reason": reason,
        "result": result,
    }


def telemetry(identity: Identity, now: float, clock_synced: bool, **gauges: Any) -> dict[str, Any]:
    """The periodic health record: the identity's fields, then the gauges as given."""
    record: dict[str, Any] = {
        "schema": TELEMETRY_SCHEMA,
        "device_id": identity.device_id,
        "community_id": identity.community_id,
        "gate_id": identity.gate_id,
        "boot_id": identity.boot_id,
        "time": iso_time(now),
        "clock_synced": bool(clock_synced),
        "firmware": identity.firmware,
    }
    record.update(gauges)
    return record


def parse_ack(payload: bytes) -> tuple[str, int]:
    """The (stream, through_seq) of a server ack; ValueError with one line if it is not one.
    Its size is bounded before it is parsed (a genuine ack is under 120 bytes)."""
    if len(payload) > MAX_ACK_BYTES:
        raise ValueError(f"ack of {len(payload)} bytes is larger than {MAX_ACK_BYTES}")
    try:
        ack = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"ack is not JSON: {one_line(exc, 80)}") from None
    if not isinstance(ack, dict):
        raise ValueError("ack is not a JSON object")
    if "schema" in ack and ack["schema"] != ACK_SCHEMA:
        raise ValueError(f"ack schema {ack['schema']!r:.60} is not {ACK_SCHEMA}")
    stream, through = ack.get("stream"), ack.get("through_seq")
    if not isinstance(stream, str) or STREAM_PATTERN.fullmatch(stream) is None:
        raise ValueError(f"ack stream {stream!r:.60} is not 16-32 lowercase hex characters")
    if isinstance(through, bool) or not isinstance(through, int) or not 0 <= through <= MAX_ACK_SEQ:
        raise ValueError(f"ack through_seq {through!r:.30} is not an integer in 0..2^63-1")
    return stream, through
