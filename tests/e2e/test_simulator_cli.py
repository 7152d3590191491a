"""`gatekiosk-sim` as a process: headless runs end with one JSON line, last on stdout; the exit
status says whether every expectation held; a bad scenario is refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parents[1] / "sim" / "scenarios"


def sim(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "host_sim.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.broker
def test_a_headless_run_prints_the_servers_summary_last_and_exits_0():
    proc = sim("--headless", "--speed", "max", "--scenario", str(SCENARIOS / "basic.toml"))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True and summary["failures"] == []
    assert summary["gates"]["north-in"]["by_decision"] == {"denied": 2, "granted": 1}
    assert summary["gates"]["north-in"]["by_reason"] == {"fever": 1, "home_observation": 1}
    assert summary["gaps"] == 0 and summary["missing"] == 0
    assert "Traceback" not in proc.stderr


@pytest.mark.broker
def test_a_wrong_expectation_exits_non_zero_and_names_its_line():
    path = SCENARIOS / "wrong_on_purpose.toml"
    proc = sim("--headless", "--scenario", str(path))
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1)
                if text.startswith("expect"))
    assert summary["failures"] == [
        f"{path}:{line}: fever at north-in (t=5s): expected granted, got denied:fever"]
    assert f"FAILED {path}:{line}:" in proc.stderr


@pytest.mark.parametrize(("change", "key", "message"), [
    (("direction = \"in\"", "direction = \"up\""), "gate.direction", "must be one of in, out"),
    (("body_c = 38.5", "body_c = \"hot\""), "person.body_c", "must be a number"),
    (("at_s = 5", "at_s = 5\nmood = \"late\""), "person.mood", "unknown key"),
    (("expect = \"granted\"", "expect = \"denied:sneezing\""), "person.expect",
     "'sneezing' is not a reason code"),
])
def test_a_bad_scenario_is_refused_in_one_line_naming_the_key(tmp_path, change, key, message):
    text = (SCENARIOS / "wrong_on_purpose.toml").read_text().replace(*change)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    proc = sim("--headless", "--scenario", str(path), timeout=30)
    assert proc.returncode == 2
    assert proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()
    number = next(n for n, t in enumerate(text.splitlines(), 1)
                  if t.startswith(key.split(".")[1]))
    assert line.startswith(f"gatekiosk-sim: {path}:{number}: {key}: "), line
    assert message in line


@pytest.mark.broker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_make_sims_whole_day_headless_exits_0_with_every_visit_decided_and_nothing_lost():
    # What `make sim` plays, as CI runs it: the built-in day, headless, as fast as it goes.
    proc = sim("--headless", "--speed", "max", timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True and summary["failures"] == []
    assert summary["visits_decided"] == summary["visits"] >= 750
    assert summary["gaps"] == 0 and summary["missing"] == 0 and summary["schema_problems"] == 0
    assert set(summary["gates"]) >= {"north-in", "north-out"}
