"""`make sim` stays runnable: a short headless run ends with every event at the server."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.broker


def test_a_short_headless_simulation_delivers_every_event(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "host_sim.cli",
            "--duration",
            "12",
            "--no-view",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert summary["events_committed"] >= 1
    assert summary["server_through_seq"] == summary["events_committed"]
    assert summary["gaps"] == [] and summary["schema_problems"] == []
    assert "Traceback" not in proc.stderr
