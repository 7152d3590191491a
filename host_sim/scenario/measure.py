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


def cycle_times(runner: Runner) -> list[float]:
    """Seconds from code shown to relay high, for each granted visit with a code."""
    out = []
    for o in runner.outcomes:
        if o.record is None or o.record.get("decision") != "granted" or o.code_shown_at is None:
            continue
        if o.record.get("kind") != "access":
            continue
        highs = [t for t, _real in runner.gates[o.visit.gate].relay_high]
        high = _first_after(highs, o.code_shown_at)
        if high is not None:
            out.append(high - o.code_shown_at)
    return out


def frame_to_relay(runner: Runner) -> list[float]:
    """Real seconds from the code's first frame to relay high, for each granted visit."""
    out = []
    for o in runner.outcomes:
        if o.record is None or o.record.get("decision") != "granted" or o.frame_real is None:
            continue
        highs = [real for _t, real in runner.gates[o.visit.gate].relay_high]
        high = _first_after(highs, o.frame_real)
        if high is not None:
            out.append(high - o.frame_real)
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
