"""Running a scenario: the compound's gates, its people and the world on simulated time.

Every gate's clock is a ManualClock stepped by this loop: in fine steps (one sensor sample, a
frame when a card is shown) while anyone is at a gate, in jumps while the compound is quiet.
`speed` paces simulated time against real time (None: as fast as it goes). The broker, the
MQTT links and the server run on real time; events that involve them hold simulated time until
they have lasted long enough to mean something, and the run ends only once every committed
record has reached the server (or the drain times out, which fails the run).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from host_sim.broker import MosquittoBroker, free_port
from host_sim.rig import write_keys
from host_sim.scenario import crowd, faults, model
from host_sim.scenario.gate_run import MAX_JUMP_S, GateRun
from host_sim.scenario.network import CompoundNetwork
from host_sim.scenario.passes import Issuer
from host_sim.scenario.people import Outcome, Wait, visit_script
from host_sim.scenario.server import CompoundServer

log = logging.getLogger(__name__)

STEP_S = 0.125  # one sensor sample at 8 Hz
BUSY_STEP_S = 1.0  # doors and people moving: the door timers stop at their own due times
QUIET_STEP_MAX_S = MAX_JUMP_S
LOOK_PERIOD_S = 0.25


class _Actor:
    def __init__(self, outcome: Outcome, script: Iterator[Wait]) -> None:
        self.outcome, self.script = outcome, script
        self.wake_at = 0.0
        self.until: Callable[[], bool] | None = None


class Runner(CompoundNetwork):
    """One run of a scenario in `workdir`; `broker` an external (host, port) or None."""

    def __init__(self, scenario: model.Scenario, workdir: Path, *,
                 broker: tuple[str, int] | None = None, speed: float | None = None,
                 with_screens: bool = False, progress: Callable[[str], None] | None = None
                 ) -> None:
        self.scenario = scenario
        self.workdir = Path(workdir)
        self.speed = speed
        self.paused = threading.Event()
        self.stopping = threading.Event()  # set to end the run early (Ctrl-C, a test)
        self.controls: queue.Queue[Callable[[], None]] = queue.Queue()
        self.progress = progress or (lambda _text: None)
        self.failures: list[str] = []
        self.now = 0.0  # scenario seconds
        self.listeners: list[Callable[[str, str, dict[str, Any]], None]] = []
        self.broker: MosquittoBroker | None = None
        self.gates: dict[str, GateRun] = {}
        self._list_iat = 0
        self._looked_at = 0.0
        if broker is None:
            self.broker = MosquittoBroker(self.workdir / "broker").start()
            broker = (self.broker.host, self.broker.port)
        self.broker_address = broker
        self.keys = write_keys(self.workdir / "keys")
        self.server = CompoundServer(*broker, scenario.community, self.workdir / "server.db",
                                     self.keys["admin"], client_id="community-server")
        self.server.start()
        self.issuer = Issuer(scenario.community, self.keys["issuer"], scenario.population)
        people = self.issuer.assign(scenario.people + crowd.people(scenario))
        self.people_by_label = {p.label: p for p in people}
        self.outcomes = sorted((Outcome(p, v) for p in people for v in p.visits),
                               key=lambda o: o.visit.at_s)
        self.current: dict[str, _Actor | None] = {}
        self.waiting: dict[str, list[Outcome]] = {g.id: [] for g in scenario.gates}
        for outcome in self.outcomes:
            self.waiting[outcome.visit.gate].append(outcome)
        self.publish_list(iat=scenario.start_epoch - 60)
        for number, spec in enumerate(scenario.gates):
            port = free_port() if with_screens else 0
            run = GateRun(scenario, spec, self.workdir / spec.id, broker, self.keys,
                          screen_port=port)
            run.listeners.append(self._recorded)
            self.gates[spec.id] = run
            self.current[spec.id] = None
            self.progress(f"gate {spec.id} ({spec.direction}) up, {len(self.waiting[spec.id])} "
                          f"visits queued, device dev-{spec.id}" + (f", screen :{port}" if port
                                                                     else "") + f" [{number}]")
        self._wait_for_list()
        self.timeline = sorted(((e.at_s, e) for e in scenario.events), key=lambda x: x[0])
        self.endings: list[tuple[float, float, faults.Ending]] = []  # (at, real start, ending)
        self.wall_started = time.monotonic()

    # -- the world's hooks (faults.World) ------------------------------------------------------

    def gate(self, gate_id: str) -> GateRun:
        return self.gates[gate_id]

    # -- the loop ------------------------------------------------------------------------------

    def _recorded(self, gate_id: str, kind: str, payload: dict[str, Any]) -> None:
        actor = self.current.get(gate_id)
        if actor is not None:
            outcome = actor.outcome
            if kind == "alarm":
                outcome.alarms.append(payload["alarm"])
            elif payload.get("kind") in ("access", "exit_request") and outcome.record is None:
                outcome.record = payload
                outcome.frame_real = self.gates[gate_id].camera.code_frame_real
        for listener in list(self.listeners):
            listener(gate_id, kind, payload)

    def run(self) -> None:
        """Play the scenario to its end (and let the last visits finish)."""
        horizon = self.scenario.duration_s
        last_report = time.monotonic()
        while not self.stopping.is_set():
            self._take_controls()
            if self.now >= horizon and not any(self.current.values()) and not self.endings:
                break
            if self.now > horizon + 600:
                self.failures.append(f"{self.scenario.source}: visits still going 10 minutes "
                                     "after the scenario's end")
                break
            self._world_events()
            self._start_visits()
            dt = self._step_size()
            target = self.now + dt
            for gate_id, gate in self.gates.items():
                # A quiet gate catches up in one jump now and then, or when it matters.
                if self.current[gate_id] is not None or gate.busy() or (
                        target - gate.sim_t >= QUIET_STEP_MAX_S):
                    gate.step_to(target, read_camera=self._frame_due(gate_id, gate))
            self.now = target
            self._advance_actors()
            self._pace()
            self._look()
            if time.monotonic() - last_report > 5.0:
                last_report = time.monotonic()
                done = sum(1 for o in self.outcomes if o.record is not None)
                self.progress(f"t={self.now / 3600:5.2f} h  {done}/{len(self.outcomes)} "
                              f"visits decided, {self.server.record_count()} records at server")

    def _look(self) -> None:
        """Refresh what the view reads of each gate, a few times a second of real time."""
        if not self.listeners or time.monotonic() - self._looked_at < LOOK_PERIOD_S:
            return
        self._looked_at = time.monotonic()
        for gate in self.gates.values():
            gate.look()

    def _step_size(self) -> float:
        """Sensor rate while a gate measures, frame rate while a code waits to be read,
        coarse while doors and people move (timers stop at their own due times), a jump while
        the compound is quiet."""
        measuring = any(g.powered and g.rig.gate.phase == "measuring"
                        for g in self.gates.values())
        if measuring:
            return STEP_S
        reading = any(a is not None and a.outcome.record is None for a in self.current.values())
        if reading:
            return max(STEP_S, 1.0 / self.scenario.camera_fps)
        if any(self.current.values()) or any(g.busy() for g in self.gates.values()):
            return BUSY_STEP_S
        return max(STEP_S, min(self._next_due() - self.now, QUIET_STEP_MAX_S))

    def _take_controls(self) -> None:
        """Run what the view asked for (on this loop's thread); wait here while paused."""
        while True:
            try:
                self.controls.get_nowait()()
            except queue.Empty:
                if not self.paused.is_set():
                    return
                self._hold_until(lambda: not self.paused.is_set() or not self.controls.empty(),
                                 0.5)

    def _next_due(self) -> float:
        due = [self.scenario.duration_s]
        due += [w[0].visit.at_s for w in self.waiting.values() if w]
        due += [at for at, _e in self.timeline[:1]]
        due += [at for at, _r, _e in self.endings]
        return min(due)

    def _world_events(self) -> None:
        while self.timeline and self.timeline[0][0] <= self.now:
            _at, event = self.timeline.pop(0)
            self.progress(f"t={self.now / 3600:5.2f} h  {event.kind} {event.gate}".rstrip())
            for gate in self.gates.values():
                gate.step_to(self.now)
            ending = faults.begin(event, self)
            if ending is not None:
                self.endings.append((event.at_s + event.duration_s, time.monotonic(), ending))
        for item in list(self.endings):
            at, real_start, ending = item
            if at <= self.now:
                held = ending.min_real_s - (time.monotonic() - real_start)
                if held > 0:
                    self._hold_until(lambda: False, held)
                self.endings.remove(item)
                ending.end()

    def _start_visits(self) -> None:
        for gate_id, waiting in self.waiting.items():
            gate = self.gates[gate_id]
            if self.current[gate_id] is not None or not waiting or not gate.powered:
                continue
            if waiting[0].visit.at_s > self.now or gate.rig.gate.phase != "idle":
                continue
            gate.step_to(self.now)
            outcome = waiting.pop(0)
            outcome.started_at = self.now
            person = outcome.person

            def code(p: model.Person = person, g: GateRun = gate) -> str:
                return self.issuer.code_for(p, g.clock.time())
            script = visit_script(gate, outcome, code)
            actor = _Actor(outcome, script)
            self.current[gate_id] = actor
            self._next_wait(gate_id, actor)

    def _next_wait(self, gate_id: str, actor: _Actor) -> None:
        try:
            wait = next(actor.script)
        except StopIteration:
            self.current[gate_id] = None
            return
        if isinstance(wait, tuple):
            actor.until, limit = wait
            actor.wake_at = self.now + limit
        else:
            actor.until, actor.wake_at = None, self.now + wait

    def _advance_actors(self) -> None:
        for gate_id, actor in list(self.current.items()):
            if actor is None:
                continue
            if (actor.until is not None and actor.until()) or self.now >= actor.wake_at:
                self._next_wait(gate_id, actor)

    def _frame_due(self, gate_id: str, gate: GateRun) -> bool:
        actor = self.current[gate_id]
        if actor is None or not gate.powered:
            return False
        if self.now < gate.next_frame_at:
            return False
        gate.next_frame_at = self.now + 1.0 / self.scenario.camera_fps
        # A card waiting to be read, or the empty view after it (the reader sees it gone).
        showing = gate.camera.showing or gate.rig.camera.scene.card is not None
        return actor.outcome.record is None or not showing

    def _pace(self) -> None:
        if self.speed is None:
            return
        ahead = self.now / self.speed - (time.monotonic() - self.wall_started)
        if ahead > 0:
            time.sleep(min(ahead, 0.5))

    def inject(self, event: model.WorldEvent) -> None:
        """A world event now (from the view): applied on this loop's thread."""
        def now() -> None:
            self.timeline.insert(0, (self.now, dataclasses.replace(event, at_s=self.now)))
        self.controls.put(now)

    def set_speed(self, speed: float | None) -> None:
        """Change the pace from now on (None: as fast as possible)."""
        def change() -> None:
            self.speed = speed
            if speed is not None:
                self.wall_started = time.monotonic() - self.now / speed
        self.controls.put(change)

    # -- the end -------------------------------------------------------------------------------

    def close(self) -> None:
        for gate in self.gates.values():
            gate.close()
        self.server.close()
        if self.broker is not None:
            self.broker.close()

