"""`gatekiosk-sim fleet` as a person runs it: processes, a cluster, a JSON summary last on stdout.

The short run is part of `make test`; the long ones (a node killed under a larger fleet, the
reconnect storm with and without jitter) run with GATEKIOSK_SOAK=1 (`make soak`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.cluster

soak = pytest.mark.skipif(os.environ.get("GATEKIOSK_SOAK") != "1",
                          reason="long fleet profile: GATEKIOSK_SOAK=1 (make soak)")


def run_fleet(*args: str, timeout_s: float = 300.0) -> tuple[int, dict, str]:
    done = subprocess.run(
        [sys.executable, "-m", "host_sim.cli", "fleet", *args],
        capture_output=True, text=True, timeout=timeout_s, start_new_session=True)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-2000:]
    return done.returncode, json.loads(lines[-1]), done.stderr


def test_a_small_fleet_delivers_everything_and_reports_it_last_on_stdout():
    # Three communities over two consumers (wildcards), gates subscribing at QoS 0.
    code, summary, stderr = run_fleet("--gates", "6", "--communities", "3", "--workers", "2",
                                      "--partitions", "2", "--gate-qos", "0",
                                      "--duration", "3", "--rate", "2")
    assert code == 0, stderr[-2000:]
    assert summary["ok"] is True
    assert (summary["communities"], summary["gate_qos"]) == (3, 0)
    assert summary["events_sent"] > 10
    assert summary["stored"] == summary["events_sent"]
    assert (summary["gaps"], summary["conflicts"]) == (0, 0)
    assert "gates connected" in stderr  # progress goes to stderr


def test_more_communities_than_gates_is_refused_with_one_line():
    done = subprocess.run([sys.executable, "-m", "host_sim.cli", "fleet", "--gates", "2",
                           "--communities", "3"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "communities 1..gates" in done.stderr.splitlines()[-1]


def test_a_bad_fault_is_refused_with_one_line():
    done = subprocess.run([sys.executable, "-m", "host_sim.cli", "fleet", "--fault", "3:melt"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "fault '3:melt'" in done.stderr.splitlines()[-1]


@soak
@pytest.mark.timeout(400)
def test_a_node_killed_and_restarted_under_sixty_gates_loses_nothing():
    code, summary, stderr = run_fleet(
        "--gates", "60", "--workers", "2", "--partitions", "3", "--duration", "20",
        "--rate", "0.5", "--fault", "5:kill:0", "--fault", "10:restart:0",
        "--fault", "13:kill:2", "--fault", "17:restart:2")
    assert code == 0, stderr[-3000:]
    assert (summary["gaps"], summary["conflicts"]) == (0, 0)
    assert summary["stored"] == summary["events_sent"]
    assert all(v is not None for v in summary["time_to_recover_s"].values())


@soak
@pytest.mark.timeout(600)
def test_jitter_spreads_the_reconnect_attempts_of_a_full_cluster_restart():
    runs = {}
    for jitter in ("", "--no-jitter"):
        args = ["--gates", "60", "--workers", "2", "--partitions", "2", "--duration", "28",
                "--rate", "0.2", "--backoff-initial", "1", "--backoff-max", "8",
                "--fault", "4:kill-all", "--fault", "12:restart-all"]
        code, summary, stderr = run_fleet(*args, *([jitter] if jitter else []))
        assert code == 0, stderr[-3000:]
        assert summary["time_to_recover_s"]["12:restart-all"] is not None
        runs[jitter or "jitter"] = summary["attempts_after_fault"]["4:kill-all"]
    # Without jitter every gate tries at the same instants. The 100 ms bins start at the first
    # attempt, so a lock-step burst may straddle a bin edge: one bin holds at least half.
    assert runs["--no-jitter"]["peak_per_s"] >= 60 * 10 / 2, runs
    assert runs["jitter"]["p99_per_s"] < runs["--no-jitter"]["p99_per_s"] / 2, runs
