"""The gate application: one owner of gate state, fed by one queue (DESIGN Part 1, 4-6).

Camera, thermometer, door inputs and the MQTT link only *post* observations to the `Inbox`;
`Gate` takes them one at a time on its own loop and is the only code that changes the gate's
state. A visit goes idle -> code read -> measuring (prompt to face the sensor) -> decided ->
door pulse or denial -> cool-down -> idle, with a timeout at every waiting step.

Record before you act: every decision is committed to the outbox before the door moves. If
the outbox cannot take it, the door stays locked and a storage fault is raised.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from firmware import __version__, credentials, events
from firmware.clock import Clock
from firmware.command_auth import JtiStore, JtiStoreError, verify_command
from firmware.config import Config
from firmware.core import policy, prompts, temperature
from firmware.core import status_list as sl
from firmware.files import write_atomically
from firmware.outbox import Outbox, OutboxError

log = logging.getLogger(__name__)

IDLE = "idle"
MEASURING = "measuring"
COOLDOWN = "cooldown"

# After "measuring again" the person needs a moment to step back in front of the sensor.
REMEASURE_PAUSE_S = 0.8
# A code shown while the gate is busy (the next person in line) is taken up when the gate is
# free again, if it was shown this recently; the reader reports a presentation only once.
PENDING_CODE_S = 5.0
HOUSEKEEPING_PERIOD_S = 10.0
PRUNE_PERIOD_S = 3600.0
STATUS_LIST_FILE = "status-list.jwt"
GATE_STATE_FILE = "gate-state.json"


# -- observations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """Something a device or the network saw. `kind` names it; the rest is its data."""

    kind: str
    data: tuple[Any, ...] = ()
    posted_at: float = field(default_factory=time.monotonic)


class Inbox:
    """The gate's single queue. Devices' callbacks post here from their own threads."""

    def __init__(self, maxsize: int = 1000) -> None:
        self._queue: queue.Queue[Observation] = queue.Queue(maxsize)
        self.dropped = 0

    def post(self, kind: str, *data: Any) -> None:
        try:
            self._queue.put_nowait(Observation(kind, data))
        except queue.Full:
            # Only a stalled loop fills 1000 slots; samples are the bulk and are replaceable.
            self.dropped += 1
            log.warning("gate inbox full, dropped %s", kind)

    def get(self, timeout: float | None) -> Observation | None:
        try:
            return self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
        except queue.Empty:
            return None

    def __len__(self) -> int:
        return self._queue.qsize()

    # Callbacks with the signatures the device drivers expect.
    def code(self, code: bytes) -> None:
        self.post("code", code)

    def sample(self, sample: Any) -> None:
        self.post("sample", sample)

    def sensor_fault(self, code: str, detail: str) -> None:
        self.post("sensor_fault", code, detail)

    def sensor_recovered(self) -> None:
        self.post("sensor_recovered")

    def camera_fault(self, code: str, detail: str) -> None:
        self.post("camera_fault", code, detail)

    def camera_recovered(self) -> None:
        self.post("camera_recovered")

    def exit_request(self) -> None:
        self.post("exit_request")

    def door_alarm(self, name: str, state: str, detail: dict[str, Any]) -> None:
        self.post("door_alarm", name, state, detail)

    def mqtt_message(self, kind: str, name: str | None, payload: bytes, retained: bool) -> None:
        self.post("mqtt", kind, name, payload, retained)


# -- ports ------------------------------------------------------------------------------------


class DoorPort(Protocol):
    def pulse(self, seconds: float | None = None) -> float: ...
    def lock(self) -> None: ...
    def tick(self) -> None: ...


class IndicatorPort(Protocol):
    def show(self, outcome: str, text_by_lang: dict[str, str] | None = None) -> None: ...


class LinkPort(Protocol):
    @property
    def connected(self) -> bool: ...
    def publish_now(
        self, kind: str, payload: dict[str, Any], qos: int = 1, retain: bool = False
    ) -> bool: ...
    def refresh_status_list(self) -> None: ...


# -- persisted bits of state -------------------------------------------------------------------


@dataclass
class Visit:
    """The person in front of the gate, from code read to decision."""

    code: bytes
    credential_reason: str | None
    claims: dict[str, Any] | None
    started: float
    deadline: float
    collect_from: float
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    readings: list[temperature.Reading] = field(default_factory=list)


class Gate:
    """Turns observations into decisions, door actions, events and alarms."""

    def __init__(
        self,
        cfg: Config,
        *,
        clock: Clock,
        inbox: Inbox,
        door: DoorPort,
        indicator: IndicatorPort,
        outbox: Outbox,
        issuer_keys: credentials.KeySet,
        admin_keys: credentials.KeySet,
        jti_store: JtiStore,
        data_dir: Path,
        boot_id: str,
        link: LinkPort | None = None,
        reader_stats: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.inbox = inbox
        self.door = door
        self.indicator = indicator
        self.outbox = outbox
        self.issuer_keys = issuer_keys
        self.admin_keys = admin_keys
        self.jti_store = jti_store
        self.data_dir = Path(data_dir)
        self.link = link
        self.reader_stats = reader_stats
        self.identity = events.Identity(
            device_id=cfg.device.id,
            community_id=cfg.device.community,
            gate_id=cfg.device.gate,
            direction=cfg.device.direction,
            boot_id=boot_id,
            firmware=__version__,
        )
        self.temperature_policy = cfg.temperature.temperature_policy()
        self.model = cfg.temperature.compensation_model()
        p = cfg.policy
        self.policy = policy.GatePolicy(
            cfg.device.community,
            cfg.device.gate,
            direction=cfg.device.direction,
            measure_temperature=p.measure_temperature,
            skew_s=p.skew_s,
            stale_grace_s=int(p.stale_grace_h * 3600),
            stale_grace_types=tuple(p.stale_grace_types),
            passback_s=p.passback_s,
            open_hours=cfg.open_hours_minutes(),
            utc_offset_s=int(cfg.device.utc_offset_hours * 3600),
            temperature_policy=self.temperature_policy,
        )
        self.phase = IDLE
        self.visit: Visit | None = None
        self.pending_code: tuple[bytes, float] | None = None
        self.cooldown_until = 0.0
        self.started_at = clock.monotonic()
        self.faults: set[str] = set()
        self.raised_alarms: set[str] = set()
        self.last_sample: Any = None
        self.decisions = 0
        self._next_housekeeping = 0.0
        self._next_prune = 0.0
        self._time_floor = 0.0
        self.state = policy.GateState()
        self.status = policy.StatusView(None)
        # Called with (kind, committed payload) after each record: live views, logs.
        self.record_listeners: list[Callable[[str, dict[str, Any]], None]] = []
        # Called with the monotonic time at every turn of `run` (the systemd watchdog's feed).
        self.heartbeat: Callable[[float], object] | None = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._load_persisted()

    # -- time ---------------------------------------------------------------------------------

    def now(self) -> float:
        """Wall time for pass validity. While the clock is not synchronised (no RTC, after a
        power cut) it never goes below the newest time vouched for by signed material or a
        previously synchronised clock, so passes do not look older than they are."""
        wall = self.clock.time()
        if self.clock.synced():
            self._time_floor = max(self._time_floor, wall)
            return wall
        return max(wall, self._time_floor)

    # -- persistence --------------------------------------------------------------------------

    def _load_persisted(self) -> None:
        path = self.data_dir / STATUS_LIST_FILE
        if path.exists():
            token = path.read_text(encoding="utf-8", errors="replace").strip()
            result = credentials.verify_status_list_token(token, self.issuer_keys)
            if result.ok and result.status_list is not None:
                self.status = policy.StatusView(result.status_list, path.stat().st_mtime)
                self._time_floor = max(self._time_floor, float(result.status_list.iat))
                log.info(
                    "status list from disk: %s, iat %d",
                    result.status_list.uri,
                    result.status_list.iat,
                )
            else:
                log.warning(
                    "status list on disk refused (%s); waiting for a new one", result.reason
                )
        path = self.data_dir / GATE_STATE_FILE
        if path.exists():
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
                jtis = {str(k): int(v) for k, v in dict(saved.get("used_visitor_jtis", {})).items()}
                self.state = policy.GateState(used_visitor_jtis=jtis)
                self._time_floor = max(self._time_floor, float(saved.get("time_floor", 0.0)))
            except (ValueError, TypeError, AttributeError, OSError) as exc:
                # Losing this only re-admits a single-use visitor pass; keep running, say so.
                log.error("gate state %s unreadable (%s); starting empty", path, exc)

    def _save_state(self) -> None:
        data = {
            "used_visitor_jtis": self.state.used_visitor_jtis,
            "time_floor": self._time_floor,
        }
        try:
            write_atomically(self.data_dir / GATE_STATE_FILE, json.dumps(data).encode())
        except OSError as exc:
            log.error("gate state not saved: %s", exc)
            self._raise_alarm("storage_fault", {"what": "gate_state", "error": str(exc)[:120]})

    # -- the loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event, poll_s: float = 0.05) -> None:
        """Handle observations until `stop` is set. Nothing that happens inside ends the loop."""
        self.indicator.show("idle", prompts.for_step(prompts.IDLE))
        while not stop.is_set():
            obs = self.inbox.get(timeout=poll_s)
            if obs is not None:
                self.handle(obs)
            self.tick()
            if self.heartbeat is not None:
                self.heartbeat(self.clock.monotonic())

    def process_pending(self) -> int:
        """Handle everything queued now, then tick once (for tests and the simulator)."""
        handled = 0
        while True:
            obs = self.inbox.get(timeout=None)
            if obs is None:
                break
            self.handle(obs)
            handled += 1
        self.tick()
        return handled

    def handle(self, obs: Observation) -> None:
        handler = getattr(self, f"_on_{obs.kind}", None)
        if handler is None:
            log.error("unknown observation %r", obs.kind)
            return
        try:
            handler(*obs.data)
        except Exception:  # the gate outlives any bug in a handler, door locked
            log.exception("handling %s failed; door stays locked", obs.kind)
            self._safe_lock()
            self._end_visit()

    def tick(self) -> None:
        now = self.clock.monotonic()
        try:
            if self.phase == MEASURING and self.visit is not None and now >= self.visit.deadline:
                log.info("measurement window over without a decision")
                self._decide_visit()
            elif self.phase == COOLDOWN and now >= self.cooldown_until:
                self.phase = IDLE
                self.indicator.show(self._idle_outcome(), self._idle_prompt())
                self._take_pending_code(now)
            self.door.tick()
            if now >= self._next_housekeeping:
                self._next_housekeeping = now + HOUSEKEEPING_PERIOD_S
                self._housekeeping(now)
        except Exception:
            log.exception("tick failed; door stays locked")
            self._safe_lock()

    # -- visits ---------------------------------------------------------------------------------

    def _on_code(self, code: bytes) -> None:
        if self.phase != IDLE:
            if self.visit is None or code != self.visit.code:
                self.pending_code = (code, self.clock.monotonic())
                log.debug("code held while %s", self.phase)
            return
        self.pending_code = None
        verification = credentials.verify_pass(code, self.issuer_keys)
        reason = None if verification.ok else verification.reason
        claims = verification.claims if verification.ok else None
        now = self.clock.monotonic()
        self.visit = Visit(
            code, reason, claims, now, now + self.cfg.temperature.measure_timeout_s, now
        )
        # Decide at once when the pass alone already refuses, or nothing is to be measured.
        early = policy.decide(
            reason, claims, self.status, None, self.policy, self.state, self.now()
        )
        if not early.granted or not self.policy.measure_temperature:
            self._finish(early)
            return
        self.phase = MEASURING
        self.indicator.show("measuring", prompts.for_step(prompts.MEASURING))

    def _take_pending_code(self, now: float) -> None:
        pending, self.pending_code = self.pending_code, None
        if pending is not None and now - pending[1] <= PENDING_CODE_S:
            self._on_code(pending[0])

    def _on_sample(self, sample: Any) -> None:
        self.last_sample = sample
        visit = self.visit
        if self.phase != MEASURING or visit is None or sample.t < visit.collect_from:
            return
        if not sample.person_present:
            return
        visit.samples.append((sample.t, sample.object_c, sample.ambient_c))
        reading = temperature.stable_reading(
            visit.samples, sample.t, self.model, self.temperature_policy
        )
        if reading is None:
            return
        visit.readings.append(reading)
        visit.samples = []
        outcome = temperature.assess([r.body_c for r in visit.readings], self.temperature_policy)
        if outcome == temperature.REMEASURE:
            now = self.clock.monotonic()
            visit.collect_from = now + REMEASURE_PAUSE_S
            visit.deadline = now + self.cfg.temperature.measure_timeout_s
            self.indicator.show("measuring", prompts.for_step(prompts.REMEASURE))
            return
        self._decide_visit()

    def _decide_visit(self) -> None:
        visit = self.visit
        if visit is None:
            return
        decision = policy.decide(
            visit.credential_reason,
            visit.claims,
            self.status,
            [r.body_c for r in visit.readings],
            self.policy,
            self.state,
            self.now(),
        )
        self._finish(decision, visit.readings)

    def _finish(
        self, decision: policy.Decision, readings: list[temperature.Reading] | None = None
    ) -> None:
        """Record, then act: the event is durable before the door moves."""
        temp = events.temperature_record(readings, self.temperature_policy.threshold_c)
        pulse_s = min(self.cfg.door.pulse_s, self.cfg.door.max_pulse_s)
        payload = events.access_event(
            self.identity,
            decision,
            temp,
            self.clock.time(),
            self.clock.synced(),
            door_opened=decision.granted,
            open_seconds=pulse_s,
        )
        committed = self._record("event", payload)
        self.decisions += 1
        if committed is None:
            decision.decision = policy.DENIED  # nothing recorded: nothing opens
        elif decision.granted:
            self.door.pulse(pulse_s)
        for name in decision.alarms:
            self._raise_alarm(
                name,
                {"reasons": list(decision.reasons)},
                pass_record=decision.pass_dict(),
                temperature=temp,
                related=committed["event_id"] if committed else None,
                transient=True,
            )
        if decision.state is not None and committed is not None:
            consumed = decision.state.used_visitor_jtis != self.state.used_visitor_jtis
            self.state = decision.state
            if consumed:
                self._save_state()
        self._show_decision(decision)
        self._end_visit()
        self.phase = COOLDOWN
        hold = self.cfg.door.cooldown_s
        if "fever" in decision.reasons:
            hold = max(hold, self.cfg.door.fever_hold_s)
        self.cooldown_until = self.clock.monotonic() + hold
        log.info(
            "decision %s %s pass=%s",
            decision.decision,
            ",".join(decision.reasons) or "-",
            decision.pass_info.pass_id if decision.pass_info else "-",
        )

    def _show_decision(self, decision: policy.Decision) -> None:
        text = prompts.for_decision(decision.granted, decision.reasons)
        if decision.granted:
            self.indicator.show("granted", text)
        elif "fever" in decision.reasons:
            self.indicator.show("fever", text)
        else:
            self.indicator.show("denied", text)

    def _end_visit(self) -> None:
        self.visit = None
        if self.phase == MEASURING:
            self.phase = IDLE

    # -- door inputs ----------------------------------------------------------------------------

    def _on_exit_request(self) -> None:
        pulse_s = min(self.cfg.door.pulse_s, self.cfg.door.max_pulse_s)
        payload = events.door_event(
            self.identity,
            events.KIND_EXIT_REQUEST,
            self.clock.time(),
            self.clock.synced(),
            open_seconds=pulse_s,
        )
        if self._record("event", payload) is not None:
            self.door.pulse(pulse_s)
            self.indicator.show("granted", prompts.for_step(prompts.EXIT))

    def _on_door_alarm(self, name: str, state: str, detail: dict[str, Any]) -> None:
        if state == "raised":
            self._raise_alarm(name, detail)
        else:
            self._clear_alarm(name, detail)

    # -- device health --------------------------------------------------------------------------

    def _on_sensor_fault(self, code: str, detail: str) -> None:
        self.faults.add("sensor")
        self._raise_alarm("sensor_fault", {"code": code, "detail": detail[:200]})
        self._refresh_idle()

    def _on_sensor_recovered(self) -> None:
        self.faults.discard("sensor")
        self._clear_alarm("sensor_fault", {})
        self._refresh_idle()

    def _on_camera_fault(self, code: str, detail: str) -> None:
        self.faults.add("camera")
        self._raise_alarm("camera_fault", {"code": code, "detail": detail[:200]})
        self._refresh_idle()

    def _on_camera_recovered(self) -> None:
        self.faults.discard("camera")
        self._clear_alarm("camera_fault", {})
        self._refresh_idle()

    def _idle_outcome(self) -> str:
        return "fault" if self.faults else "idle"

    def _idle_prompt(self) -> dict[str, str]:
        return prompts.for_step(prompts.FAULT if self.faults else prompts.IDLE)

    def _refresh_idle(self) -> None:
        if self.phase == IDLE:
            self.indicator.show(self._idle_outcome(), self._idle_prompt())

    # -- alarms and records ---------------------------------------------------------------------

    def _record(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Commit to the outbox; None (and a storage fault) when it cannot be done."""
        try:
            committed = self.outbox.append(kind, payload)
        except (OutboxError, ValueError, OSError) as exc:
            log.error("outbox refused %s: %s", kind, exc)
            self._storage_fault(str(exc))
            return None
        if "storage" in self.faults:
            self.faults.discard("storage")
            self._clear_alarm("storage_fault", {})
        for listener in self.record_listeners:
            try:
                listener(kind, committed)
            except Exception:
                log.exception("record listener failed")
        return committed

    def _storage_fault(self, detail: str) -> None:
        self._safe_lock()
        if "storage" not in self.faults:
            self.faults.add("storage")
            alarm = events.alarm(
                self.identity,
                "storage_fault",
                self.clock.time(),
                self.clock.synced(),
                detail={"error": detail[:200]},
            )
            # The outbox is what failed: tell the server directly, best effort.
            if self.link is not None:
                alarm.update(event_id=str(_uuid()), stream="0" * 32, seq=0)
                self.link.publish_now("alarm", alarm)
        self.indicator.show("fault", prompts.for_step(prompts.FAULT))

    def _raise_alarm(
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
            if name in self.raised_alarms:
                return
            self.raised_alarms.add(name)
        payload = events.alarm(
            self.identity,
            name,
            self.clock.time(),
            self.clock.synced(),
            "raised",
            detail,
            pass_record,
            temperature,
            related,
        )
        if name == "storage_fault":
            return self._storage_fault(json.dumps(detail))
        self._record("alarm", payload)

    def _clear_alarm(self, name: str, detail: dict[str, Any]) -> None:
        if name not in self.raised_alarms:
            return
        self.raised_alarms.discard(name)
        payload = events.alarm(
            self.identity, name, self.clock.time(), self.clock.synced(), "cleared", detail
        )
        self._record("alarm", payload)

    def _safe_lock(self) -> None:
        try:
            self.door.lock()
        except Exception:
            log.exception("door could not be locked")

    def _housekeeping(self, now: float) -> None:
        try:
            high = self.outbox.high_water()
        except OutboxError as exc:
            self._storage_fault(str(exc))
            return
        if high:
            self._raise_alarm(
                "outbox_high_water",
                {"unsettled": self.outbox.unsettled(), "depth": self.outbox.depth()},
            )
        else:
            self._clear_alarm("outbox_high_water", {})
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_PERIOD_S
            try:
                self.outbox.prune()
            except OutboxError as exc:
                log.error("outbox prune failed: %s", exc)
        if self.clock.synced():
            self._time_floor = max(self._time_floor, self.clock.time())

    # -- MQTT -----------------------------------------------------------------------------------

    def _on_mqtt(self, kind: str, name: str | None, payload: bytes, retained: bool) -> None:
        if kind == "status-list":
            self._status_list_message(payload)
        elif kind == "cmd":
            self._command(name or "", payload, retained)
        else:
            log.debug("mqtt %s ignored by the gate loop", kind)

    def _status_list_message(self, payload: bytes) -> None:
        try:
            token = payload.decode("ascii").strip()
        except UnicodeDecodeError:
            log.warning("status list refused: not ASCII")
            return
        result = credentials.verify_status_list_token(token, self.issuer_keys)
        if not result.ok or result.status_list is None:
            log.warning("status list refused: %s", result.reason)
            return
        new = result.status_list
        if not new.is_newer_than(self.status.status_list):
            log.info("status list iat %d not newer than the one held; ignored", new.iat)
            return
        try:
            write_atomically(self.data_dir / STATUS_LIST_FILE, token.encode("ascii"))
        except OSError as exc:
            log.error("status list not persisted: %s", exc)
        self.status = policy.StatusView(new, self.now())
        self._time_floor = max(self._time_floor, float(new.iat))
        log.info("status list %s iat %d accepted (%d entries)", new.uri, new.iat, len(new))

    def _command(self, name: str, payload: bytes, retained: bool) -> None:
        jti: str | None = None
        if retained:
            self._reply(name, None, False, "retained")
            return
        try:
            message = json.loads(payload)
            token = message["token"]
            if not isinstance(token, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self._reply(name, None, False, "malformed")
            return
        try:
            result = verify_command(
                token,
                self.admin_keys,
                community_id=self.cfg.device.community,
                gate_id=self.cfg.device.gate,
                name=name,
                now=self.now(),
                seen=self.jti_store,
            )
        except JtiStoreError as exc:
            # Without the record of used ids a replay cannot be ruled out: refuse.
            self._reply(name, None, False, "busy")
            self._raise_alarm("storage_fault", {"what": "command_ids", "error": str(exc)[:120]})
            return
        claims = result.claims or {}
        jti = claims.get("jti") if isinstance(claims.get("jti"), str) else None
        if not result.ok:
            self._reply(name, jti, False, result.reason)
            return
        raw_args = claims.get("args")
        args: dict[str, Any] = raw_args if isinstance(raw_args, dict) else {}
        if name == "open":
            self._remote_open(str(claims.get("sub", "")), args, jti)
        elif name == "ping":
            self._reply(name, jti, True, None, self.health())
        elif name == "status-list-refresh":
            if self.link is not None:
                self.link.refresh_status_list()
            self._reply(name, jti, True, None, {"held_iat": self._status_iat()})
        else:
            self._reply(name, jti, False, "unknown_command")

    def _remote_open(self, operator: str, args: dict[str, Any], jti: str | None) -> None:
        seconds = args.get("seconds", self.cfg.door.pulse_s)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            self._reply("open", jti, False, "malformed")
            return
        seconds = min(float(seconds), self.cfg.door.max_pulse_s)
        note = args.get("reason") if isinstance(args.get("reason"), str) else None
        payload = events.door_event(
            self.identity,
            events.KIND_REMOTE_OPEN,
            self.clock.time(),
            self.clock.synced(),
            open_seconds=seconds,
            operator=operator[:64] or "unknown",
            note=note,
        )
        committed = self._record("event", payload)
        if committed is None:
            self._reply("open", jti, False, "busy")
            return
        opened = self.door.pulse(seconds)
        self.indicator.show("granted", prompts.for_step(prompts.REMOTE_OPEN))
        self._reply(
            "open",
            jti,
            True,
            None,
            {"event_id": committed["event_id"], "seq": committed["seq"], "open_seconds": opened},
        )

    def _reply(
        self,
        cmd: str,
        jti: str | None,
        ok: bool,
        reason: str | None,
        result: dict[str, Any] | None = None,
    ) -> None:
        log.info("command %s %s%s", cmd, "ok" if ok else "refused: ", reason or "")
        if self.link is None:
            return
        self.link.publish_now(
            "cmd-result",
            {
                "schema": "gatekiosk/cmd-result/v1",
                "device_id": self.identity.device_id,
                "community_id": self.identity.community_id,
                "gate_id": self.identity.gate_id,
                "time": events.iso_time(self.clock.time()),
                "cmd": cmd[:64],
                "jti": jti,
                "ok": ok,
                "reason": reason,
                "result": result,
            },
        )

    # -- health ---------------------------------------------------------------------------------

    def _status_iat(self) -> int | None:
        held: sl.StatusList | None = self.status.status_list
        return held.iat if held is not None else None

    def health(self) -> dict[str, Any]:
        """What ping and telemetry report."""
        stats = self.reader_stats() if self.reader_stats else {}
        held = self.status.status_list
        return {
            "uptime_s": round(self.clock.monotonic() - self.started_at, 1),
            "phase": self.phase,
            "faults": sorted(self.faults),
            "decisions": self.decisions,
            "outbox_depth": self.outbox.depth(),
            "outbox_unsettled": self.outbox.unsettled(),
            "status_list_iat": held.iat if held is not None else None,
            "decode_rate_hz": stats.get("decode_rate_hz"),
            "frame_rate_hz": stats.get("frame_rate_hz"),
        }

    def _connected_broker(self) -> str | None:
        status = getattr(self.link, "status", None)
        if status is None:
            return None
        broker = status().get("connected_broker")
        return str(broker) if broker else None

    def telemetry(self) -> dict[str, Any]:
        """The periodic telemetry payload (DESIGN 2.4)."""
        health = self.health()
        held = self.status.status_list
        sample = self.last_sample
        return {
            "schema": "gatekiosk/telemetry/v1",
            "device_id": self.identity.device_id,
            "community_id": self.identity.community_id,
            "gate_id": self.identity.gate_id,
            "boot_id": self.identity.boot_id,
            "time": events.iso_time(self.clock.time()),
            "clock_synced": self.clock.synced(),
            "firmware": self.identity.firmware,
            "uptime_s": health["uptime_s"],
            "ambient_c": round(sample.ambient_c, 2) if sample is not None else None,
            "cpu_temp_c": cpu_temperature(),
            "outbox_depth": health["outbox_depth"],
            "outbox_unsettled": health["outbox_unsettled"],
            "decode_rate_hz": health["decode_rate_hz"],
            "frame_rate_hz": health["frame_rate_hz"],
            "connected_broker": self._connected_broker(),
            "status_list_age_s": (round(self.now() - held.iat, 1) if held is not None else None),
        }


def cpu_temperature(path: str = "/sys/class/thermal/thermal_zone0/temp") -> float | None:
    """The SoC temperature in °C (Linux thermal zone, millidegrees), or None."""
    try:
        with open(path) as f:
            return round(int(f.read().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())
