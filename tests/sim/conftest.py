"""Scenario runs for tests/sim: a small scenario (TOML text) played at full speed in a temporary
workdir — private Mosquitto, community server, one firmware instance per gate — then checked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from host_sim.scenario import verdict
from host_sim.scenario.load import parse
from host_sim.scenario.runner import Runner


@dataclass
class Run:
    """A finished scenario run, still open for inspection (pins, outbox, server)."""

    runner: Runner
    drained: bool
    failures: list[str]
    summary: dict[str, Any]

    def decisions(self) -> dict[str, list[str]]:
        """Each person's label -> what the gate decided at each visit, in order."""
        out: dict[str, list[str]] = {}
        for outcome in sorted(self.runner.outcomes, key=lambda o: o.visit.at_s):
            out.setdefault(outcome.person.label, []).append(outcome.actual())
        return out

    def stored(self, gate: str) -> list[dict[str, Any]]:
        """What the server's database holds for `gate`."""
        return self.runner.server.stored(gate)

    def relay_pulses(self, gate: str) -> list[list[bool]]:
        """Per boot, the relay pin's recorded levels (MockPin `states`)."""
        return [[level for _t, level in boot] for boot in self.runner.gates[gate].relay_history()]


@pytest.fixture
def play(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """`play(toml_text)` runs the scenario to its end and returns the `Run`."""
    runners: list[Runner] = []

    def run(text: str, **options: Any) -> Run:
        scenario = parse(text, "scenario.toml")
        runner = Runner(scenario, tmp_path / f"run{len(runners)}", speed=None, **options)
        runners.append(runner)
        runner.run()
        drained = runner.drain()
        problems = verdict.failures(runner, drained)
        return Run(runner, drained, problems, verdict.summary(runner, problems))

    yield run
    for runner in runners:
        runner.close()
