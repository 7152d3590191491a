"""Did reality match the scenario? Every expectation checked, each failure naming its line.

Checks, after the run has drained: each visit's decision against its `expect`; every record a
gate committed (across power cuts) stored by the server, with no seq gap; the alarms the
`[expect]` table asks for; no payload the schemas refuse. The summary is the server's own
(what it stored), with the run's figures and the failures.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from host_sim.scenario.runner import Runner


def failures(runner: Runner, drained: bool) -> list[str]:
    """Every way the run differs from what its scenario says, as `FILE:LINE: what` lines."""
    scenario = runner.scenario
    src = scenario.source
    out = list(runner.failures)
    for o in runner.outcomes:
        if not o.matches():
            when = f"t={o.visit.at_s:.0f}s"
            out.append(f"{src}:{o.visit.line}: {o.person.label} at {o.visit.gate} ({when}): "
                       f"expected {o.visit.expect}, got {o.actual()}")
    expect = scenario.expect
    if expect.nothing_lost:
        line = expect.lines.get("nothing_lost", 0)
        if not drained:
            out.append(f"{src}:{line}: nothing_lost: records still unacknowledged at the end")
        stored = {p["event_id"] for p in runner.server.stored()}
        for gate in runner.gates.values():
            missing = [p["seq"] for _k, p in gate.records if p["event_id"] not in stored]
            if missing:
                out.append(f"{src}:{line}: nothing_lost: {gate.spec.id}: seq {missing[:10]} "
                           "committed at the gate, not stored by the server")
        summary = runner.server.summary()
        for gate_id, held in summary["gates"].items():
            if held["gaps"]:
                out.append(f"{src}:{line}: nothing_lost: {gate_id}: {held['gaps']} seq gaps")
        if summary["schema_problems"]:
            out.append(f"{src}:{line}: nothing_lost: payloads refused by the schemas: "
                       f"{runner.server.problems[:3]}")
    raised = alarm_counts(runner)
    for name, count in expect.alarms.items():
        got = raised.get(name, 0)
        if got < count or (expect.exact_alarms and got != count):
            want = f"{count}" if expect.exact_alarms else f"at least {count}"
            out.append(f"{src}:{expect.lines.get('alarms', 0)}: alarms.{name}: expected {want},"
                       f" server stored {got}")
    events = sum(g["events"] for g in runner.server.summary()["gates"].values())
    if events < expect.min_events:
        out.append(f"{src}:{expect.lines.get('min_events', 0)}: min_events: expected at least "
                   f"{expect.min_events}, server stored {events}")
    return out


def alarm_counts(runner: Runner) -> Counter[str]:
    """Alarms raised, by name, as the server stored them."""
    return Counter(p["alarm"] for p in runner.server.stored()
                   if "alarm" in p and p.get("state") != "cleared")


def summary(runner: Runner, problems: list[str]) -> dict[str, Any]:
    """The run in one JSON object: the server's summary, the run's figures, the failures."""
    wall = time.monotonic() - runner.wall_started
    decided = sum(1 for o in runner.outcomes if o.record is not None)
    held = runner.server.summary()
    stored = {p["event_id"] for p in runner.server.stored()}
    lost = sum(1 for g in runner.gates.values() for _k, p in g.records
               if p["event_id"] not in stored)
    return {
        "scenario": runner.scenario.name,
        "ok": not problems,
        "gates": held["gates"],
        "records": held["records"],
        "duplicates_dropped": held["duplicates_dropped"],
        "gaps": held["gaps"],
        "missing": lost,
        "schema_problems": held["schema_problems"],
        "alarms": dict(sorted(alarm_counts(runner).items())),
        "visits": len(runner.outcomes),
        "visits_decided": decided,
        "simulated_s": round(runner.now, 1),
        "wall_s": round(wall, 2),
        "passes_per_s": round(decided / wall, 2) if wall > 0 else 0.0,
        "failures": problems,
    }
