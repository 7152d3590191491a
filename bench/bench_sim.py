"""Simulator figures: a person's cycle time by sensor part, the camera-to-relay latency, and
simulated passes per second at full speed on one gate and on four — plus the built-in day.

Everything runs the real firmware (build_gate, drivers, outbox, MQTT link) on simulated
hardware against a private Mosquitto, through `host_sim.scenario.runner.Runner`:
- cycle time: code shown → relay high on the gate's clock, rendered cards (camera_sim), for a
  BAA and a DCI thermometer part (their filters settle in 0.10 s and 0.65 s);
- frame → relay: the first frame carrying the code → relay high, real time, at an out gate
  (no temperature measured), rendered cards decoded by the configured decoder;
- passes/s: decided visits per wall second at `--speed max`, 1 and 4 gates, the flat camera;
- the day: `make sim`'s scenario headless at full speed, its wall time and whether it held.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from host_sim.cli import with_gates
from host_sim.scenario import DAY_SCENARIO, verdict
from host_sim.scenario.load import load, parse
from host_sim.scenario.measure import cycle_times, frame_to_relay, percentile
from host_sim.scenario.runner import Runner

PEOPLE = 40


def _people(direction: str, part: str, count: int, gap_s: float, rendered: bool) -> str:
    head = f"""
[scenario]
name = "bench {direction} {part}"
duration_s = {count * gap_s + 30}
thermometer_part = "{part}"
camera_fps = 8.0
[[gate]]
id = "bench-{direction}"
direction = "{direction}"
"""
    if not rendered:
        return head + f"""
[[crowd]]
gate = "bench-{direction}"
per_hour = [{3600 / gap_s}]
mix = {{ resident = 1 }}
"""
    return head + "".join(f"""
[[person]]
label = "p{n}"
at_s = {5 + gap_s * n}
distance_mm = {110 + (n * 7) % 40}
expect = "granted"
""" for n in range(count))


def _play(scenario: Any, workdir: Path) -> tuple[Runner, dict[str, Any], float]:
    runner = Runner(scenario, workdir, speed=None)
    started = time.perf_counter()
    try:
        runner.run()
        wall = time.perf_counter() - started
        drained = runner.drain()
        problems = verdict.failures(runner, drained)
        return runner, verdict.summary(runner, problems), wall
    except BaseException:
        runner.close()
        raise


def _stats(values: list[float], scale: float = 1.0) -> dict[str, float]:
    return {"n": len(values), "p50": round(percentile(values, 50) * scale, 3),
            "p99": round(percentile(values, 99) * scale, 3)}


def run() -> dict[str, Any]:
    report: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    try:
        for part in ("BAA", "DCI"):
            runner, _summary, _wall = _play(parse(_people("in", part, PEOPLE, 12, True)),
                                            work / f"cycle-{part}")
            try:
                figures = _stats(cycle_times(runner))
            finally:
                runner.close()
            report[f"cycle_s_{part}"] = figures
            print(f"   person cycle (code shown → relay high), {part}: p50 {figures['p50']} s, "
                  f"p99 {figures['p99']} s ({figures['n']} people)")
        runner, _summary, _wall = _play(parse(_people("out", "BAA", PEOPLE, 8, True)),
                                        work / "frame")
        try:
            figures = _stats(frame_to_relay(runner), 1000.0)
        finally:
            runner.close()
        report["frame_to_relay_ms"] = figures
        print(f"   QR frame in the camera → relay high: p50 {figures['p50']} ms, "
              f"p99 {figures['p99']} ms ({figures['n']} codes, rendered 640×480 frames)")
        day = load(DAY_SCENARIO)
        for gates in (1, 4):
            scenario = with_gates(day, gates)
            if gates < len(day.gates):  # the day's alarms need all its gates
                scenario.expect = dataclasses.replace(scenario.expect, alarms={}, min_events=0)
            runner, summary, wall = _play(scenario, work / f"rate-{gates}")
            runner.close()
            rate = summary["visits_decided"] / wall
            report[f"passes_per_s_{gates}_gates"] = round(rate, 1)
            print(f"   the day at --speed max on {gates} gate(s): {summary['visits_decided']} "
                  f"passes in {wall:.1f} s = {rate:.1f} passes/s, ok={summary['ok']}")
            if gates == 4:
                report["day"] = {"wall_s": round(wall, 1), "ok": summary["ok"],
                                 "visits": summary["visits"], "records": summary["records"],
                                 "failures": summary["failures"][:5]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report
