"""The gate: one owner of gate state, fed by one queue (DESIGN Part 1, 4-6).

Camera, thermometer, door inputs and the MQTT link only *post* observations to the `Inbox`;
`Gate` takes them one at a time on its own loop, hands each to its handler from one dispatch
table, and is the only code that changes the gate's state. Nothing that happens inside a handler
ends the loop: a failing handler leaves the door locked and the visit abandoned.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware import credentials, payloads
from firmware.clock import Clock
from firmware.commands.auth import JtiStore
from firmware.commands.context import CommandContext
from firmware.commands.dispatch import run_command
from firmware.config import Config
from firmware.core import policy, prompts
from firmware.gate import inbox as obs
from firmware.gate.alarms import Recorder
from firmware.gate.health import Health
from firmware.gate.state_store import StateStore
from firmware.gate.status_intake import take_status_list
from firmware.gate.visit import Visits
from firmware.ports import DoorPort, IndicatorPort, LinkPort
from firmware.store.damage import StoreDamage
from firmware.store.outbox import Outbox, OutboxError

log = logging.getLogger(__name__)

HOUSEKEEPING_PERIOD_S = 10.0
PRUNE_PERIOD_S = 3600.0
# A forged or buggy ack may come with every reconnect: one alarm a minute says it well enough.
ACK_REFUSED_EVERY_S = 60.0
# Commands the inbox refused (rate, share) are answered `busy` this many per loop turn, so a
# flood of them never holds up a visit.
BUSY_REPLIES_PER_TURN = 200


def gate_policy(cfg: Config) -> policy.GatePolicy:
    """The core's decision policy for this gate, from its configuration."""
    p = cfg.policy
    return policy.GatePolicy(
        cfg.device.community,
        cfg.device.gate,
        direction=cfg.device.direction,
        measure_temperature=p.measure_temperature,
        skew_s=p.skew_s,
        stale_grace_s=int(p.stale_grace_h * 3600),
        stale_grace_types=tuple(p.stale_grace_types),
        passback_s=p.passback_s,
        open_hours=p.open_hours_minutes(),
        utc_offset_s=int(cfg.device.utc_offset_hours * 3600),
        temperature_policy=cfg.temperature.temperature_policy(),
    )


@dataclass(frozen=True)
class GateParts:
    """Everything the gate is built from (assembled by `firmware.assemble.build_gate`)."""

    identity: payloads.Identity
    door: DoorPort
    indicator: IndicatorPort
    outbox: Outbox
    issuer_keys: credentials.KeySet
    admin_keys: credentials.KeySet
    jti_store: JtiStore
    data_dir: Path
    link: LinkPort | None = None
    reader_stats: Callable[[], dict[str, Any]] | None = None
    # Called with the monotonic time at every turn of `run` (the systemd watchdog's feed).
    heartbeat: Callable[[float], object] | None = None
    # Stores found damaged at start, kept aside and replaced (firmware.store.damage).
    store_damage: tuple[StoreDamage, ...] = ()


class Gate:
    """Turns observations into decisions, door actions, events and alarms."""

    def __init__(self, cfg: Config, clock: Clock, inbox: obs.Inbox, parts: GateParts) -> None:
        self.cfg, self.clock, self.inbox, self.parts = cfg, clock, inbox, parts
        self.store = StateStore(parts.data_dir, clock, parts.issuer_keys, cfg.policy.skew_s)
        self.store.load()
        self.recorder = Recorder(
            parts.identity, clock, parts.outbox, parts.door, parts.indicator, parts.link
        )
        self.visits = Visits(
            cfg, clock, gate_policy(cfg), self.store, self.recorder, parts.door,
            parts.indicator, parts.issuer_keys,
        )
        self.health_report = Health(
            clock, parts.outbox, self.store, self.recorder, self.visits, parts.link,
            parts.reader_stats,
        )
        self.commands = CommandContext(
            parts.identity, clock, self.recorder, parts.door, parts.indicator, parts.link,
            min(cfg.door.pulse_s, cfg.door.max_pulse_s), cfg.door.max_pulse_s,
            self.health_report.health, self.health_report.held_status_iat,
        )
        self._handlers: dict[type[obs.Observation], Callable[[Any], None]] = {
            obs.CodeSeen: lambda o: self.visits.on_code(o.code),
            obs.SampleTaken: lambda o: self.visits.on_sample(o.sample),
            obs.DeviceFault: self._on_device_fault,
            obs.DeviceRecovered: self._on_device_recovered,
            obs.ExitRequest: lambda o: self._on_exit_request(),
            obs.DoorAlarm: self._on_door_alarm,
            obs.NetworkMessage: self._on_network_message,
            obs.AckRefused: self._on_ack_refused,
        }
        self._next_housekeeping = 0.0
        self._next_prune = 0.0
        self._next_telemetry = 0.0
        self._next_ack_refused = 0.0
        # Told to the server directly once the link is up: the store they would go in failed.
        self._damage_alarms = [
            self.recorder.direct_alarm("storage_fault", d.alarm_detail())
            for d in parts.store_damage
        ]

    # -- what tests, tools and the simulator look at --------------------------------------------

    @property
    def phase(self) -> str:
        return self.visits.phase

    @property
    def faults(self) -> set[str]:
        return self.recorder.faults

    @property
    def status(self) -> Any:
        return self.store.status

    @property
    def decisions(self) -> int:
        return self.visits.decisions

    @property
    def identity(self) -> payloads.Identity:
        return self.parts.identity

    @property
    def jti_store(self) -> JtiStore:
        return self.parts.jti_store

    @property
    def link(self) -> LinkPort | None:
        return self.parts.link

    @property
    def record_listeners(self) -> list[Callable[[str, dict[str, Any]], None]]:
        return self.recorder.listeners

    def health(self) -> dict[str, Any]:
        return self.health_report.health()

    def telemetry(self) -> dict[str, Any]:
        return self.health_report.telemetry()

    # -- the loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event, poll_s: float = 0.05) -> None:
        """Handle observations until `stop` is set. Nothing that happens inside ends the loop."""
        self.parts.indicator.show("idle", prompts.for_step(prompts.IDLE))
        while not stop.is_set():
            observation = self.inbox.get(timeout=poll_s)
            if observation is not None:
                self.handle(observation)
            self.tick()
            if self.parts.heartbeat is not None:
                self.parts.heartbeat(self.clock.monotonic())

    def process_pending(self) -> int:
        """Handle everything queued now, then tick once (for tests and the simulator)."""
        handled = 0
        while (observation := self.inbox.get(timeout=None)) is not None:
            self.handle(observation)
            handled += 1
        self.tick()
        return handled

    def handle(self, observation: obs.Observation) -> None:
        handler = self._handlers.get(type(observation))
        if handler is None:
            log.error("unknown observation %s", type(observation).__name__)
            return
        try:
            handler(observation)
        except Exception:  # the gate outlives any bug in a handler, door locked
            log.exception("handling %s failed; door stays locked", type(observation).__name__)
            self.recorder.safe_lock()
            # Only a failure in the visit itself ends it: a bad network message never drops
            # the person at the gate.
            if isinstance(observation, obs.CodeSeen | obs.SampleTaken):
                self.visits.abandon()

    def tick(self) -> None:
        now = self.clock.monotonic()
        try:
            self.visits.tick(now)
            self.parts.door.tick()
            if now >= self._next_housekeeping:
                self._next_housekeeping = now + HOUSEKEEPING_PERIOD_S
                self._housekeeping(now)
            self._send_telemetry(now)
            self._send_damage_alarms()
            for name in self.inbox.take_refused_commands(BUSY_REPLIES_PER_TURN):
                self.commands.reply(name, None, False, "busy")
        except Exception:
            log.exception("tick failed; door stays locked")
            self.recorder.safe_lock()

    # -- handlers -------------------------------------------------------------------------------

    def _on_exit_request(self) -> None:
        pulse_s = min(self.cfg.door.pulse_s, self.cfg.door.max_pulse_s)
        payload = payloads.door_event(
            self.identity,
            payloads.KIND_EXIT_REQUEST,
            self.clock.time(),
            self.clock.synced(),
            open_seconds=pulse_s,
        )
        if self.recorder.record("event", payload) is not None:
            self.parts.door.pulse(pulse_s)
            self.parts.indicator.show("granted", prompts.for_step(prompts.EXIT))

    def _on_door_alarm(self, o: obs.DoorAlarm) -> None:
        if o.state == "raised":
            self.recorder.raise_alarm(o.name, o.detail)
        else:
            self.recorder.clear(o.name, o.detail)

    def _on_device_fault(self, o: obs.DeviceFault) -> None:
        self.recorder.faults.add(o.device)
        alarm = f"{o.device}_fault"
        self.recorder.raise_alarm(alarm, {"code": o.code, "detail": o.detail[:200]})
        self.visits.refresh_idle()

    def _on_device_recovered(self, o: obs.DeviceRecovered) -> None:
        self.recorder.faults.discard(o.device)
        self.recorder.clear(f"{o.device}_fault", {})
        self.visits.refresh_idle()

    def _on_network_message(self, o: obs.NetworkMessage) -> None:
        if o.kind == "status-list":
            take_status_list(
                o.payload, self.store, self.parts.issuer_keys, self.cfg.policy.skew_s
            )
        elif o.kind == "cmd":
            run_command(
                self.commands,
                o.name or "",
                o.payload,
                o.retained,
                admin_keys=self.parts.admin_keys,
                jti_store=self.parts.jti_store,
                community_id=self.cfg.device.community,
                gate_id=self.cfg.device.gate,
                now=self.store.now(),
                storage_fault=lambda detail: self.recorder.raise_alarm("storage_fault", detail),
            )
        else:
            log.debug("mqtt %s ignored by the gate loop", o.kind)

    def _on_ack_refused(self, o: obs.AckRefused) -> None:
        now = self.clock.monotonic()
        if now < self._next_ack_refused:
            return
        self._next_ack_refused = now + ACK_REFUSED_EVERY_S
        detail = {"stream": o.stream, "through_seq": o.through_seq, "sent_through": o.sent_through}
        self.recorder.raise_alarm("ack_refused", detail, transient=True)

    # -- periodic -------------------------------------------------------------------------------

    def _housekeeping(self, now: float) -> None:
        outbox = self.parts.outbox
        try:
            high = outbox.high_water()
        except OutboxError as exc:
            self.recorder.storage_fault(str(exc))
            return
        if high:
            self.recorder.raise_alarm(
                "outbox_high_water", {"unsettled": outbox.unsettled(), "depth": outbox.depth()}
            )
        else:
            self.recorder.clear("outbox_high_water", {})
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_PERIOD_S
            try:
                outbox.prune()
            except OutboxError as exc:
                log.error("outbox prune failed: %s", exc)
        self.store.now()  # a synchronised clock sets the floor, down as well as up

    def _send_damage_alarms(self) -> None:
        link = self.parts.link
        while self._damage_alarms and link is not None and link.connected:
            if not link.publish_now("alarm", self._damage_alarms[0]):
                return
            self._damage_alarms.pop(0)

    def _send_telemetry(self, now: float) -> None:
        link = self.parts.link
        if link is None or not link.connected or now < self._next_telemetry:
            return
        self._next_telemetry = now + self.cfg.mqtt.telemetry_period_s
        link.publish_now("telemetry", self.telemetry(), qos=0)
