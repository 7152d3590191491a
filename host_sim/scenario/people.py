"""A person's visit to a gate, as a script the runner advances on simulated time.

A script is a generator: it acts on the gate's simulated hardware (shows a card to the camera,
brings a forehead into the thermometer's view, presses the exit button, walks away) and yields
what it waits for — a number of simulated seconds, or a condition with a time limit. It learns
the gate's decision from the records the gate commits while it stands there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from host_sim import camera_sim
from host_sim.rig import skin_for_body
from host_sim.scenario import model
from host_sim.scenario.gate_run import GateRun

# What a person waits for: seconds, or (condition, limit in seconds).
Wait = float | tuple[Callable[[], bool], float]

DECISION_LIMIT_S = 30.0  # nobody waits longer than this for the gate to decide
FAR_MM = 600.0  # too far for 3 px per module at 640×480
STEEP_TILT_DEG = 72.0


@dataclass
class Outcome:
    """What happened at one visit."""

    person: model.Person
    visit: model.Visit
    started_at: float = 0.0  # scenario seconds
    code_shown_at: float | None = None  # gate monotonic time the readable code appeared
    record: dict[str, Any] | None = None  # the access or exit event the gate committed
    frame_real: float | None = None  # perf_counter() of the first frame carrying the code
    alarms: list[str] = field(default_factory=list)

    def actual(self) -> str:
        """The decision in the expectation's own words ("denied:fever", "granted", ...)."""
        if self.record is None:
            return "none"
        if self.record["kind"] == "exit_request":
            return "exit"
        if self.record["decision"] == "granted":
            return "granted"
        return "denied:" + ",".join(sorted(self.record["reasons"]))

    def matches(self) -> bool:
        want = self.visit.expect
        got = self.actual()
        if not want:
            return True
        if want == "denied" or want == "granted":
            return got.partition(":")[0] == want
        if want.startswith("denied:"):
            return got.startswith("denied:") and sorted(want[7:].split(",")) == sorted(
                got[7:].split(","))
        return want == got


def face_delay_s(person: model.Person) -> float:
    """How long after showing the code this person brings the forehead to the sensor:
    0.3-1.2 s, spread over people (deterministic per status-list index)."""
    return 0.3 + (person.idx * 37 % 10) / 10


def visit_script(gate: GateRun, outcome: Outcome, code: Callable[[], str]) -> Iterator[Wait]:
    """The person of `outcome` at `gate`: what they do, step by step."""
    person = outcome.person
    behaviour = person.behaviour
    measured = gate.cfg.policy.measure_temperature
    measures = gate.spec.direction == "in" if measured is None else measured

    def rig() -> Any:
        return gate.rig

    def decided() -> bool:
        return outcome.record is not None

    def show(distance_mm: float, tilt_deg: float = 0.0) -> None:
        if distance_mm <= 200 and tilt_deg < 45:
            outcome.code_shown_at = rig().clock.monotonic()
        if not person.rendered and distance_mm <= 200 and tilt_deg < 45:
            gate.camera.show_flat(code())
            return
        gate.camera.release()
        rig().camera.show(camera_sim.Card(code(), distance_mm=distance_mm, tilt_deg=tilt_deg))

    def walk_away() -> None:
        gate.camera.clear()
        rig().walk_away()

    def face(body_c: float) -> None:
        cfg = rig().cfg
        scene = rig().scene
        scene.arrive(skin_c=skin_for_body(cfg, body_c, scene.ambient_c()))

    if behaviour == "exit_button":
        rig().sim_door.press_exit_button()
        yield (decided, 5.0)
        yield 2.0
        return
    if behaviour == "force_door":
        rig().sim_door.force_open()
        yield 4.0
        return
    if behaviour == "late_code":
        face(person.body_c)
        yield 4.0
    if behaviour == "far":
        show(FAR_MM)
        yield 3.0
    elif behaviour == "tilted":
        show(person.distance_mm, STEEP_TILT_DEG)
        yield 2.0
    show(person.distance_mm)
    yield (lambda: gate.rig.gate.phase != "idle" or decided(), 10.0)
    if behaviour == "steps_away":
        walk_away()
        yield (decided, DECISION_LIMIT_S)
        yield 1.0
        return
    if measures and behaviour != "late_code":
        yield face_delay_s(person)
        face(person.first_body_c or person.body_c)
        if person.first_body_c is not None:
            yield 2.5
            face(person.body_c)
    yield (decided, DECISION_LIMIT_S)
    yield 1.5  # goes through the door, or turns back
    walk_away()
    yield 1.0
