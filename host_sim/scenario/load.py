"""Reading a scenario file: TOML into `model.Scenario`, refused with one line naming the key.

Like the firmware's config loader, nothing half-valid gets through: unknown keys, wrong types,
a gate named twice, a person sent to a gate that does not exist — each is a `ScenarioError`
whose message is `FILE:LINE: key: what is wrong`, raised before anything starts.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

from firmware.core import reasons as reason_codes
from host_sim.mlx90614_filter import SETTLE_S_BY_PART
from host_sim.scenario import model
from host_sim.scenario.crowd import CROWD_KINDS

ID_PATTERN = re.compile(r"[a-z0-9-]{1,64}")
EXPECT_PATTERN = re.compile(r"(granted|exit|none|denied(:[a-z_]+(,[a-z_]+)*)?)")
DEFAULT_START = "2026-12-03T00:00:00+08:00"


class ScenarioError(ValueError):
    """A scenario file that cannot run; the message names the file, line and key."""


class _Reader:
    """Takes keys out of one TOML table, checking types, and refuses what is left over."""

    def __init__(self, source: str, lines: list[str], table: dict[str, Any], path: str,
                 header: int) -> None:
        self.source, self.lines, self.table = source, lines, table
        self.path, self.header = path, header
        self.used: set[str] = set()

    def line_of(self, key: str) -> int:
        """The line of `key` inside this table (the table's header when not found)."""
        pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
        for number in range(self.header, len(self.lines)):
            text = self.lines[number]
            if number > self.header and text.lstrip().startswith("["):
                break
            if pattern.match(text):
                return number + 1
        return self.header + 1

    def fail(self, key: str, message: str) -> ScenarioError:
        name = f"{self.path}.{key}" if self.path else key
        return ScenarioError(f"{self.source}:{self.line_of(key)}: {name}: {message}")

    def get(self, key: str, kinds: type | tuple[type, ...], default: Any = None) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is None:
                raise self.fail(key, "required")
            return default
        value = self.table[key]
        allowed = kinds if isinstance(kinds, tuple) else (kinds,)
        if isinstance(value, bool) and bool not in allowed:
            raise self.fail(key, f"must be {_kind_name(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            raise self.fail(key, f"must be {_kind_name(kinds)}, not {type(value).__name__}")
        return value

    def choice(self, key: str, options: tuple[str, ...] | dict[str, Any], default: str) -> str:
        value = str(self.get(key, str, default))
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)}, not {value!r}")
        return value

    def done(self) -> None:
        for key in self.table:
            if key not in self.used:
                raise self.fail(key, "unknown key")


def _kind_name(kinds: type | tuple[type, ...]) -> str:
    names = {int: "a number", float: "a number", str: "text", bool: "true or false",
             list: "a list", dict: "a table"}
    seq = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in seq))


def _headers(lines: list[str], name: str) -> list[int]:
    """Line indexes of every `[[name]]` (array of tables) header, in order."""
    pattern = re.compile(rf"\s*\[\[\s*{re.escape(name)}\s*\]\]")
    return [i for i, text in enumerate(lines) if pattern.match(text)]


def _header(lines: list[str], name: str) -> int:
    pattern = re.compile(rf"\s*\[\s*{re.escape(name)}\s*\]")
    return next((i for i, text in enumerate(lines) if pattern.match(text)), 0)


def load(path: str | Path) -> model.Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    return parse(text, str(path))


def parse(text: str, source: str = "scenario") -> model.Scenario:
    """Check a scenario's TOML text and build the scenario."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not TOML: {exc}") from None
    lines = text.splitlines()
    top = _Reader(source, lines, data, "", 0)
    head = _Reader(source, lines, top.get("scenario", dict), "scenario", _header(lines, "scenario"))
    start = head.get("start", str, DEFAULT_START)
    try:
        start_epoch = dt.datetime.fromisoformat(start).timestamp()
    except ValueError:
        raise head.fail("start", f"not an ISO 8601 time with offset: {start!r}") from None
    scenario = model.Scenario(
        name=head.get("name", str),
        source=source,
        duration_s=float(head.get("duration_s", (int, float))),
        start_epoch=start_epoch,
        seed=int(head.get("seed", int, 1)),
        community=head.get("community", str, "old-compound"),
        thermometer_part=head.choice("thermometer_part", SETTLE_S_BY_PART, "BAA"),
        ambient_c=float(head.get("ambient_c", (int, float), 22.0)),
        population=int(head.get("population", int, 400)),
        camera_fps=float(head.get("camera_fps", (int, float), 8.0)),
        render_crowd=bool(head.get("render_crowd", bool, False)),
        config=head.get("config", dict, {}),
        gates=[], people=[], events=[], crowds=[], expect=model.Expectations(),
    )
    if not ID_PATTERN.fullmatch(scenario.community):
        raise head.fail("community", "must match [a-z0-9-]{1,64}")
    if scenario.duration_s <= 0:
        raise head.fail("duration_s", "must be above 0")
    head.done()
    scenario.gates = [_gate(source, lines, t, i) for t, i in _tables(top, lines, "gate")]
    if not scenario.gates:
        raise top.fail("gate", "at least one [[gate]] is needed")
    ids = [g.id for g in scenario.gates]
    for number, gate_id in enumerate(ids):
        if gate_id in ids[:number]:
            raise ScenarioError(f"{source}:{_headers(lines, 'gate')[number] + 1}: gate.id: "
                                f"{gate_id!r} named twice")
    scenario.people = [_person(source, lines, t, i, ids) for t, i in _tables(top, lines, "person")]
    labels = [p.label for p in scenario.people]
    for number, label in enumerate(labels):
        if label in labels[:number]:
            raise ScenarioError(f"{source}:{_headers(lines, 'person')[number] + 1}: person.label:"
                                f" {label!r} used twice")
    scenario.events = [_event(source, lines, t, i, ids, labels)
                       for t, i in _tables(top, lines, "event")]
    scenario.crowds = [_crowd(source, lines, t, i, ids) for t, i in _tables(top, lines, "crowd")]
    scenario.expect = _expect(_Reader(source, lines, top.get("expect", dict, {}), "expect",
                                      _header(lines, "expect")))
    top.done()
    return scenario


def _tables(top: _Reader, lines: list[str], name: str) -> list[tuple[dict[str, Any], int]]:
    tables = top.get(name, list, [])
    headers = _headers(lines, name)
    if not all(isinstance(t, dict) for t in tables):
        raise top.fail(name, "must be written as [[" + name + "]] tables")
    return [(t, headers[i] if i < len(headers) else 0) for i, t in enumerate(tables)]


def _gate(source: str, lines: list[str], table: dict[str, Any], header: int) -> model.GateSpec:
    r = _Reader(source, lines, table, "gate", header)
    gate_id = r.get("id", str)
    if not ID_PATTERN.fullmatch(gate_id):
        raise r.fail("id", "must match [a-z0-9-]{1,64}")
    spec = model.GateSpec(
        id=gate_id,
        direction=r.choice("direction", ("in", "out"), "in"),
        open_hours=[str(x) for x in r.get("open_hours", list, [])],
        config=r.get("config", dict, {}),
    )
    r.done()
    return spec


def _expect_text(r: _Reader, key: str, value: Any) -> str:
    if not isinstance(value, str) or not EXPECT_PATTERN.fullmatch(value):
        raise r.fail(key, f"must be granted, exit, none or denied:reason,... not {value!r}")
    for reason in value.partition(":")[2].split(",") if ":" in value else ():
        if reason not in reason_codes.ALL:
            raise r.fail(key, f"{reason!r} is not a reason code")
    return value


def _person(source: str, lines: list[str], table: dict[str, Any], header: int,
            gates: list[str]) -> model.Person:
    r = _Reader(source, lines, table, "person", header)
    label = r.get("label", str)
    gate = r.choice("gate", tuple(gates), gates[0])
    at = r.get("at_s", (int, float))
    expect = r.get("expect", (str, list))
    expects = expect if isinstance(expect, list) else [expect]
    expects = [_expect_text(r, "expect", e) for e in expects]
    again = r.get("again_after_s", (int, float), 0.0)
    again_gate = r.choice("again_gate", tuple(gates), gate)
    if len(expects) > 1 and not again:
        raise r.fail("expect", "several expectations need again_after_s (one per visit)")
    line = r.line_of("expect")
    visits = tuple(model.Visit(float(at) + n * float(again), gate if n == 0 else again_gate,
                               e, line) for n, e in enumerate(expects))
    first = r.get("first_body_c", (int, float), 0.0)
    person = model.Person(
        label=label,
        pass_type=r.choice("pass", model.PASS_TYPES, "resident"),
        status=r.choice("status", model.STATUSES, "normal"),
        body_c=float(r.get("body_c", (int, float), 36.6)),
        behaviour=r.choice("behaviour", model.BEHAVIOURS, "normal"),
        visits=visits,
        distance_mm=float(r.get("distance_mm", (int, float), 130.0)),
        first_body_c=float(first) if first else None,
    )
    r.done()
    return person


def _event(source: str, lines: list[str], table: dict[str, Any], header: int, gates: list[str],
           labels: list[str]) -> model.WorldEvent:
    r = _Reader(source, lines, table, "event", header)
    kind = r.choice("kind", model.EVENT_KINDS, "")
    needs_gate = kind not in ("broker_outage", "status_list")
    gate = r.choice("gate", tuple(gates), gates[0]) if needs_gate else ""
    changes = {str(k): v for k, v in r.get("changes", dict, {}).items()}
    for label, status in changes.items():
        if label not in labels:
            raise r.fail("changes", f"no person labelled {label!r}")
        if status not in model.STATUSES:
            raise r.fail("changes", f"{status!r} is not one of {', '.join(model.STATUSES)}")
    event = model.WorldEvent(
        kind=kind, at_s=float(r.get("at_s", (int, float))), line=header + 1, gate=gate,
        duration_s=float(r.get("duration_s", (int, float), 0.0)),
        seconds=float(r.get("seconds", (int, float), 0.0)),
        changes=changes,
        expect=str(r.get("expect", str, "accepted" if kind == "remote_open" else "-")),
    )
    r.done()
    return event


def _crowd(source: str, lines: list[str], table: dict[str, Any], header: int,
           gates: list[str]) -> model.Crowd:
    r = _Reader(source, lines, table, "crowd", header)
    mix = r.get("mix", dict)
    for kind, weight in mix.items():
        if kind not in CROWD_KINDS:
            raise r.fail("mix", f"{kind!r} is not one of {', '.join(CROWD_KINDS)}")
        if not isinstance(weight, (int, float)) or weight < 0:
            raise r.fail("mix", f"weight of {kind!r} must be a number >= 0")
    per_hour = r.get("per_hour", list)
    if not all(isinstance(x, (int, float)) and x >= 0 for x in per_hour):
        raise r.fail("per_hour", "must be a list of numbers >= 0")
    crowd = model.Crowd(gate=r.choice("gate", tuple(gates), gates[0]),
                        from_h=float(r.get("from_h", (int, float), 0.0)),
                        per_hour=[float(x) for x in per_hour], mix=dict(mix), line=header + 1)
    r.done()
    return crowd


def _expect(r: _Reader) -> model.Expectations:
    alarms = r.get("alarms", dict, {})
    for name, count in alarms.items():
        if not isinstance(count, int) or count < 0:
            raise r.fail("alarms", f"count of {name!r} must be a whole number >= 0")
    expect = model.Expectations(
        nothing_lost=bool(r.get("nothing_lost", bool, True)),
        alarms=dict(alarms),
        exact_alarms=bool(r.get("exact_alarms", bool, False)),
        min_events=int(r.get("min_events", int, 0)),
        lines={key: r.line_of(key) for key in ("alarms", "nothing_lost", "min_events")},
    )
    r.done()
    return expect
