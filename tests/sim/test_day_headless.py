"""The built-in day (`make sim`), shortened to its small hours for `make test`: every crowd
visit decided as its kind says, nothing lost. The full day runs in `make bench`."""

from __future__ import annotations

import dataclasses

import pytest

from host_sim.scenario import DAY_SCENARIO, crowd, model, verdict
from host_sim.scenario.load import load
from host_sim.scenario.runner import Runner

pytestmark = [pytest.mark.broker, pytest.mark.slow]

HOURS = 4  # the market workers leave at 3 a.m.


def shortened(hours: float) -> model.Scenario:
    day = load(DAY_SCENARIO)
    end = hours * 3600
    return dataclasses.replace(
        day, duration_s=end,
        people=[p for p in day.people if all(v.at_s < end for v in p.visits)],
        events=[e for e in day.events if e.at_s < end],
        expect=dataclasses.replace(day.expect, alarms={}, min_events=0))


def test_the_days_small_hours_end_with_every_visit_decided_as_expected(tmp_path):
    scenario = shortened(HOURS)
    expected_visits = sum(len(p.visits) for p in crowd.people(scenario))
    runner = Runner(scenario, tmp_path, speed=None)
    try:
        runner.run()
        drained = runner.drain()
        problems = verdict.failures(runner, drained)
        summary = verdict.summary(runner, problems)
    finally:
        runner.close()
    assert problems == []
    assert summary["visits"] == expected_visits > 30
    assert summary["visits_decided"] == expected_visits
    out = summary["gates"]["north-out"]
    assert out["events"] >= 30  # the 3 a.m. market workers
    assert summary["gaps"] == 0 and summary["missing"] == 0 and summary["schema_problems"] == 0
