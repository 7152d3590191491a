"""People made from a rate curve: who arrives at a gate, when, and what the rules say of them.

A `[[crowd]]` gives arrivals per hour for consecutive hours and a mix of kinds. Arrivals are a
seeded Poisson process. Each kind states its expected outcome at an `in` or an `out` gate —
the scenario's own statement of the rules (DESIGN 2.3), checked against what the firmware did.
"""

from __future__ import annotations

import random

from host_sim.scenario import model

# kind -> (pass type, status, behaviour, body °C or None for a random normal one,
#          expectation at an in gate, at an out gate, seconds until the second visit or 0,
#          the second visit's expectation)
CROWD_KINDS: dict[str, tuple[str, str, str, float | None, str, str, float, str]] = {
    "resident": ("resident", "normal", "normal", None, "granted", "granted", 0, ""),
    "visitor": ("visitor", "normal", "normal", None, "granted", "granted", 0, ""),
    "courier": ("staff", "normal", "normal", None, "granted", "granted", 0, ""),
    "courier_twice": ("staff", "normal", "normal", None, "granted", "granted", 3600, "granted"),
    "late_code": ("resident", "normal", "late_code", None, "granted", "granted", 0, ""),
    "far": ("resident", "normal", "far", None, "granted", "granted", 0, ""),
    "tilted": ("resident", "normal", "tilted", None, "granted", "granted", 0, ""),
    "fever": ("resident", "normal", "normal", 38.4, "denied:fever", "granted", 0, ""),
    "home_observation": ("resident", "home_observation", "normal", None,
                         "denied:home_observation", "denied:home_observation", 0, ""),
    "expired": ("expired", "normal", "normal", None, "denied:pass_expired",
                "denied:pass_expired", 0, ""),
    "forged": ("forged", "normal", "normal", None, "denied:unrecognized_code",
               "denied:unrecognized_code", 0, ""),
    "steps_away": ("resident", "normal", "steps_away", None, "denied:temperature_unavailable",
                   "granted", 0, ""),
    "exit_button": ("resident", "normal", "exit_button", None, "exit", "exit", 0, ""),
    "passback": ("resident", "normal", "normal", None, "granted", "granted", 8,
                 "denied:passback"),
    "visitor_reuse": ("visitor", "normal", "normal", None, "granted", "granted", 300,
                      "denied:visitor_pass_reused"),
}


def arrivals(crowd: model.Crowd, rng: random.Random) -> list[float]:
    """Arrival times (seconds from the scenario's start) for the crowd's rate curve."""
    times: list[float] = []
    for hour, rate in enumerate(crowd.per_hour):
        if rate <= 0:
            continue
        start = (crowd.from_h + hour) * 3600.0
        t = start + rng.expovariate(rate / 3600.0)
        while t < start + 3600.0:
            times.append(t)
            t += rng.expovariate(rate / 3600.0)
    return times


def people(scenario: model.Scenario) -> list[model.Person]:
    """Every crowd's people, labelled `<gate>-<n>` (labels only; no one is named)."""
    rng = random.Random(scenario.seed)
    made: list[model.Person] = []
    for number, crowd in enumerate(scenario.crowds):
        direction = scenario.gate(crowd.gate).direction
        kinds = list(crowd.mix)
        weights = [crowd.mix[k] for k in kinds]
        for at in arrivals(crowd, rng):
            if at >= scenario.duration_s:
                continue
            kind = rng.choices(kinds, weights)[0]
            pass_type, status, behaviour, body, exp_in, exp_out, again, second = CROWD_KINDS[kind]
            expect = exp_in if direction == "in" else exp_out
            visits = [model.Visit(at, crowd.gate, expect, crowd.line)]
            if again:
                visits.append(model.Visit(at + again, crowd.gate, second, crowd.line))
            made.append(model.Person(
                label=f"{crowd.gate}-{number}-{len(made)}",
                pass_type=pass_type,
                status=status,
                body_c=body if body is not None else round(rng.uniform(36.0, 37.0), 2),
                behaviour=behaviour,
                visits=tuple(visits),
                distance_mm=rng.uniform(110.0, 150.0),
                rendered=scenario.render_crowd or behaviour in ("far", "tilted"),
            ))
    return made
