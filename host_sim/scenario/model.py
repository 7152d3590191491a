"""What a scenario says, as typed objects: the compound's gates, its people, the world's events,
and what the run must show. `host_sim/scenario/load.py` makes these from TOML; README.md there
documents the format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS_TYPES = ("resident", "visitor", "staff", "expired", "forged")
STATUSES = {"normal": 0, "revoked": 1, "home_observation": 2, "centralized_observation": 3}
BEHAVIOURS = (
    "normal",  # shows the code, faces the sensor, walks through
    "late_code",  # stands at the sensor first, finds the code a few seconds later
    "far",  # holds the phone too far for the camera, then comes closer
    "tilted",  # holds the phone steeply tilted, then straightens it
    "steps_away",  # shows the code and leaves before the sensor reads a forehead
    "exit_button",  # presses the exit button instead of showing a code
    "force_door",  # pushes the door open with the relay off
)
EVENT_KINDS = (
    "broker_outage", "network_cut", "half_open", "sensor_fault", "camera_stall",
    "clock_jump", "power_cut", "status_list", "remote_open",
)


@dataclass(frozen=True)
class GateSpec:
    """One gate of the compound: a whole firmware instance of its own."""

    id: str
    direction: str
    open_hours: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # extra TOML tables for its config


@dataclass(frozen=True)
class Visit:
    """One time a person walks up to a gate; `expect` is "granted" or "denied:reason,reason",
    "none" (no decision expected), or "" (not checked: a crowd person without a stated rule)."""

    at_s: float
    gate: str
    expect: str
    line: int  # the scenario file's line this expectation comes from (0: generated)


@dataclass(frozen=True)
class Person:
    """Someone who comes to the compound's gates, once or more, with one pass."""

    label: str
    pass_type: str
    status: str
    body_c: float
    behaviour: str
    visits: tuple[Visit, ...]
    distance_mm: float = 130.0
    first_body_c: float | None = None  # a first reading unlike the second (re-measured)
    idx: int = -1  # index in the status list (assigned when the list is built)
    rendered: bool = True  # the camera renders the phone in space (False: the flat camera)


@dataclass(frozen=True)
class WorldEvent:
    """Something that happens to the world: an outage, a fault, a new list, a command."""

    kind: str
    at_s: float
    line: int
    gate: str = ""
    duration_s: float = 0.0
    seconds: float = 0.0  # clock_jump
    changes: dict[str, str] = field(default_factory=dict)  # status_list: person label -> status
    expect: str = ""  # remote_open: "accepted" or a refusal reason


@dataclass(frozen=True)
class Crowd:
    """People made by a rate curve: `per_hour[i]` arrivals per hour from `from_h + i`."""

    gate: str
    from_h: float
    per_hour: list[float]
    mix: dict[str, float]
    line: int


@dataclass(frozen=True)
class Expectations:
    """What must hold at the end, besides every person's decision."""

    nothing_lost: bool = True
    alarms: dict[str, int] = field(default_factory=dict)  # alarm name -> count (at least)
    exact_alarms: bool = False
    min_events: int = 0
    lines: dict[str, int] = field(default_factory=dict)  # key -> line, for messages


@dataclass
class Scenario:
    """A whole scenario, ready to run."""

    name: str
    source: str
    duration_s: float
    start_epoch: float
    seed: int
    community: str
    thermometer_part: str
    ambient_c: float
    population: int
    gates: list[GateSpec]
    people: list[Person]
    events: list[WorldEvent]
    crowds: list[Crowd]
    expect: Expectations
    camera_fps: float = 8.0
    render_crowd: bool = False  # crowds' cards rendered in space too (slow), else flat
    config: dict[str, Any] = field(default_factory=dict)  # TOML tables for every gate

    def gate(self, gate_id: str) -> GateSpec:
        return next(g for g in self.gates if g.id == gate_id)
