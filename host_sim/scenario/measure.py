"""Figures from a finished run: how long a person's cycle took, and the pipeline's latency.

- cycle time: the readable code shown → the relay pin at its active level, on the gate's
  simulated clock (the person's own pace, the camera's frame rate and the sensor's settling
  are in it; the host's speed is not);
- frame → relay: the first camera frame carrying the code → the relay pin active, in real
  time (decoding, verification, the decision, the outbox commit — what the host does).
Only granted visits open the relay.
"""

from __future__ import annotations

import bisect

from host_sim.scenario.runner import Runner


def _first_after(times: list[float], t: float) -> float | None:
    i = bisect.bisect_left(times, t)
    return times[i] if i < len(times) else None


def _to_relay(runner: Runner, real: bool, out_gates_only: bool = False) -> list[float]:
    """For each granted access with a start mark, the time to the next relay high."""
    out = []
    for o in runner.outcomes:
        gate = runner.gates[o.visit.gate]
        start = o.frame_real if real else o.code_shown_at
        if (o.record is None or o.record.get("decision") != "granted" or start is None
                or o.record.get("kind") != "access"
                or (out_gates_only and gate.spec.direction != "out")):
            continue
        high = _first_after([r if real else t for t, r in gate.relay_high], start)
        if high is not None:
            out.append(high - start)
    return out


def cycle_times(runner: Runner) -> list[float]:
    """Simulated seconds from code shown to relay high, for each granted visit."""
    return _to_relay(runner, real=False)


def frame_to_relay(runner: Runner) -> list[float]:
    """Real seconds from the code's first frame to relay high, granted visits at out gates
    (where no temperature is measured, so only the host's work is in it)."""
    return _to_relay(runner, real=True, out_gates_only=True)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
