"""The person in front of the gate: code read -> measuring -> decided -> cool-down -> idle.

A code that already refuses is decided at once; otherwise the person is asked to face the
sensor, a first reading at or above the threshold is re-measured once, and no plausible reading
within `measure_timeout_s` is `temperature_unavailable`. Record before you act: the event is
committed to the outbox before the door moves; nothing recorded means nothing opens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from firmware import credentials, payloads
from firmware.clock import Clock
from firmware.config import Config
from firmware.core import policy, prompts, temperature
from firmware.gate.alarms import Recorder
from firmware.gate.state_store import StateStore
from firmware.ports import DoorPort, IndicatorPort

log = logging.getLogger(__name__)

IDLE = "idle"
MEASURING = "measuring"
COOLDOWN = "cooldown"

# After "measuring again" the person needs a moment to step back in front of the sensor.
REMEASURE_PAUSE_S = 0.8
# A code shown while the gate is busy (the next person in line) is taken up when the gate is
# free again, if it was shown this recently; the reader reports a presentation only once.
PENDING_CODE_S = 5.0


@dataclass
class Visit:
    """The person in front of the gate, from code read to decision."""

    code: bytes
    credential_reason: str | None
    claims: dict[str, Any] | None
    deadline: float
    collect_from: float
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    readings: list[temperature.Reading] = field(default_factory=list)


class Visits:
    """Owns the visit phase; the gate loop feeds it codes, samples and ticks."""

    def __init__(
        self,
        cfg: Config,
        clock: Clock,
        gate_policy: policy.GatePolicy,
        store: StateStore,
        recorder: Recorder,
        door: DoorPort,
        indicator: IndicatorPort,
        issuer_keys: credentials.KeySet,
    ) -> None:
        self._cfg = cfg
        self._clock = clock
        self._policy = gate_policy
        self._temperature_policy = cfg.temperature.temperature_policy()
        self._model = cfg.temperature.compensation_model()
        self._store = store
        self._recorder = recorder
        self._door = door
        self._indicator = indicator
        self._issuer_keys = issuer_keys
        self.phase = IDLE
        self.visit: Visit | None = None
        self.pending_code: tuple[bytes, float] | None = None
        self.cooldown_until = 0.0
        self.decisions = 0
        self.last_sample: Any = None

    def on_code(self, code: bytes) -> None:
        if self.phase != IDLE:
            if self.visit is None or code != self.visit.code:
                self.pending_code = (code, self._clock.monotonic())
                log.debug("code held while %s", self.phase)
            return
        self.pending_code = None
        verification = credentials.verify_pass(code, self._issuer_keys)
        reason = None if verification.ok else verification.reason
        claims = verification.claims if verification.ok else None
        now = self._clock.monotonic()
        self.visit = Visit(code, reason, claims, now + self._cfg.temperature.measure_timeout_s, now)
        # Decide at once when the pass alone already refuses, or nothing is to be measured.
        early = self._decide(None)
        if not early.granted or not self._policy.measure_temperature:
            self._finish(early)
            return
        self.phase = MEASURING
        self._indicator.show("measuring", prompts.for_step(prompts.MEASURING))

    def on_sample(self, sample: Any) -> None:
        self.last_sample = sample
        visit = self.visit
        if self.phase != MEASURING or visit is None or sample.t < visit.collect_from:
            return
        if not sample.person_present:
            return
        visit.samples.append((sample.t, sample.object_c, sample.ambient_c))
        reading = temperature.stable_reading(
            visit.samples, sample.t, self._model, self._temperature_policy
        )
        if reading is None:
            return
        visit.readings.append(reading)
        visit.samples = []
        bodies = [r.body_c for r in visit.readings]
        if temperature.assess(bodies, self._temperature_policy) == temperature.REMEASURE:
            now = self._clock.monotonic()
            visit.collect_from = now + REMEASURE_PAUSE_S
            visit.deadline = now + self._cfg.temperature.measure_timeout_s
            self._indicator.show("measuring", prompts.for_step(prompts.REMEASURE))
            return
        self._finish(self._decide([r.body_c for r in visit.readings]), visit.readings)

    def tick(self, now: float) -> None:
        """End a measurement window that ran out; leave the cool-down when it is over."""
        if self.phase == MEASURING and self.visit is not None and now >= self.visit.deadline:
            log.info("measurement window over without a decision")
            readings = self.visit.readings
            self._finish(self._decide([r.body_c for r in readings]), readings)
        elif self.phase == COOLDOWN and now >= self.cooldown_until:
            self.phase = IDLE
            self.refresh_idle()
            pending, self.pending_code = self.pending_code, None
            if pending is not None and now - pending[1] <= PENDING_CODE_S:
                self.on_code(pending[0])

    def abandon(self) -> None:
        """Drop the visit in progress (a handler failed; the door is already locked)."""
        self.visit = None
        if self.phase == MEASURING:
            self.phase = IDLE

    def refresh_idle(self) -> None:
        """Show what an idle gate shows: the invitation, or the fault."""
        if self.phase == IDLE:
            faulty = bool(self._recorder.faults)
            self._indicator.show(
                "fault" if faulty else "idle",
                prompts.for_step(prompts.FAULT if faulty else prompts.IDLE),
            )

    def _decide(self, bodies: list[float] | None) -> policy.Decision:
        visit = self.visit
        assert visit is not None
        return policy.decide(
            visit.credential_reason,
            visit.claims,
            self._store.status,
            bodies,
            self._policy,
            self._store.state,
            self._store.now(),
            self._clock.monotonic(),
        )

    def _finish(
        self, decision: policy.Decision, readings: list[temperature.Reading] | None = None
    ) -> None:
        """Record, then act: the event, and a single-use pass's used id, are durable before
        the door moves. A used id that cannot be saved refuses the pass (storage_fault): a
        restart must never admit the same visitor pass again."""
        temp = payloads.temperature_record(readings, self._temperature_policy.threshold_c)
        door = self._cfg.door
        pulse_s = min(door.pulse_s, door.max_pulse_s)
        held = self._store.state
        if decision.granted and decision.state is not None:
            consumes = decision.state.used_visitor_jtis != held.used_visitor_jtis
            if consumes and not self._save_state(decision.state):
                decision.decision = policy.DENIED
                decision.state = None
        payload = payloads.access_event(
            self._recorder.identity,
            decision,
            temp,
            self._clock.time(),
            self._clock.synced(),
            door_opened=decision.granted,
            open_seconds=pulse_s,
        )
        committed = self._recorder.record("event", payload)
        self.decisions += 1
        if committed is None:
            decision.decision = policy.DENIED  # nothing recorded: nothing opens
        elif decision.granted:
            self._door.pulse(pulse_s)
        for name in decision.alarms:
            self._recorder.raise_alarm(
                name,
                {"reasons": list(decision.reasons)},
                pass_record=decision.pass_dict(),
                temperature=temp,
                related=committed["event_id"] if committed else None,
                transient=True,
            )
        if decision.state is not None and committed is not None:
            self._store.state = decision.state
        self._show(decision, temp)
        self.abandon()
        self.phase = COOLDOWN
        hold = door.cooldown_s
        if "fever" in decision.reasons:
            hold = max(hold, self._cfg.temperature.fever_hold_s)
        self.cooldown_until = self._clock.monotonic() + hold
        log.info(
            "decision %s %s pass=%s",
            decision.decision,
            ",".join(decision.reasons) or "-",
            decision.pass_info.pass_id if decision.pass_info else "-",
        )

    def _save_state(self, state: policy.GateState) -> bool:
        """Hold `state` and persist it; on failure keep the old one and raise storage_fault."""
        previous, self._store.state = self._store.state, state
        try:
            self._store.save_state()
        except OSError as exc:
            self._store.state = previous
            log.error("gate state not saved, single-use pass refused: %s", exc)
            self._recorder.raise_alarm(
                "storage_fault", {"what": "gate_state", "error": str(exc)[:120]}
            )
            return False
        return True

    def _show(self, decision: policy.Decision, temp: dict[str, Any] | None) -> None:
        text = prompts.for_decision(decision.granted, decision.reasons)
        info = decision.pass_info
        # What the screen may show of the visit: the body temperature, pass type and unit.
        body_c = temp["body_c"] if temp else None
        pass_type = info.pass_type if info else None
        unit = info.unit if info else None
        if decision.granted:
            outcome = "granted"
        elif "fever" in decision.reasons:
            outcome = "fever"
        else:
            outcome = "denied"
        self._indicator.show(outcome, text, body_c=body_c, pass_type=pass_type, unit=unit)
