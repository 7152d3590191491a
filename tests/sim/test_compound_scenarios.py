"""Small scenarios through the whole simulator: the firmware's gates on simulated hardware, a
real Mosquitto, the community server. Each asserts the decisions, what each relay pin did, and
what the server stored — nothing lost, no gap — through outages, a half-open link, a power cut.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.slow]

GATES = """
[scenario]
name = "test"
duration_s = {duration}
[[gate]]
id = "north-in"
direction = "in"
[[gate]]
id = "north-out"
direction = "out"
"""


def scenario(body: str, duration: int = 120) -> str:
    return GATES.format(duration=duration) + body


def assert_nothing_lost(run, gate: str) -> None:
    stored = run.stored(gate)
    committed = [p for _k, p in run.runner.gates[gate].records]
    assert {p["event_id"] for p in committed} <= {p["event_id"] for p in stored}
    seqs = sorted(p["seq"] for p in stored)
    assert seqs == list(range(1, len(seqs) + 1)), "a gap in the stored seqs"
    assert run.summary["gaps"] == 0 and run.summary["missing"] == 0


def test_decisions_relay_and_store_at_two_gates(play):
    run = play(scenario("""
[[person]]
label = "resident"
at_s = 5
expect = "granted"
[[person]]
label = "fever"
at_s = 30
body_c = 38.4
expect = "denied:fever"
[[person]]
label = "leaving-quarantined"
gate = "north-out"
at_s = 10
status = "home_observation"
expect = "denied:home_observation"
[[person]]
label = "forged"
gate = "north-out"
at_s = 40
pass = "forged"
expect = "denied:unrecognized_code"
[expect]
alarms = { fever = 1, quarantine_breach = 1 }
exact_alarms = true
"""))
    assert run.failures == []
    assert run.decisions() == {
        "resident": ["granted"], "fever": ["denied:fever"],
        "leaving-quarantined": ["denied:home_observation"],
        "forged": ["denied:unrecognized_code"],
    }
    # The relay: one pulse at north-in (the resident), never energised at north-out.
    assert run.relay_pulses("north-in") == [[False, True, False]]
    assert True not in run.relay_pulses("north-out")[0]
    stored_in = run.stored("north-in")
    assert [p.get("decision") or p["alarm"] for p in stored_in] == ["granted", "denied", "fever"]
    assert_nothing_lost(run, "north-in")
    assert_nothing_lost(run, "north-out")


def test_a_broker_outage_loses_nothing_and_decisions_go_on(play):
    run = play(scenario("""
[[event]]
kind = "broker_outage"
at_s = 10
duration_s = 60
[[person]]
label = "during-1"
at_s = 20
expect = "granted"
[[person]]
label = "during-2"
gate = "north-out"
at_s = 30
expect = "granted"
[[person]]
label = "after"
at_s = 90
expect = "granted"
"""))
    assert run.failures == []
    assert run.decisions() == {"during-1": ["granted"], "during-2": ["granted"],
                               "after": ["granted"]}
    assert_nothing_lost(run, "north-in")
    assert_nothing_lost(run, "north-out")
    assert run.runner.gates["north-in"].rig.link.status()["reconnects"] >= 1


def test_a_half_open_link_is_noticed_and_every_record_arrives(play):
    run = play(scenario("""
[[event]]
kind = "half_open"
gate = "north-in"
at_s = 5
duration_s = 40
[[person]]
label = "into-the-void"
at_s = 10
expect = "granted"
[[person]]
label = "second"
at_s = 25
body_c = 38.0
expect = "denied:fever"
"""))
    assert run.failures == []
    assert_nothing_lost(run, "north-in")
    assert len(run.stored("north-in")) == 3  # two decisions and the fever alarm


def test_a_power_cut_drops_the_process_and_the_new_boot_resends_what_was_not_acked(play):
    run = play(scenario("""
[[event]]
kind = "network_cut"
gate = "north-in"
at_s = 2
duration_s = 30
[[person]]
label = "before-cut"
at_s = 5
expect = "granted"
[[event]]
kind = "power_cut"
gate = "north-in"
at_s = 20
duration_s = 20
[[person]]
label = "after-power"
at_s = 60
expect = ["granted", "denied:passback"]
again_after_s = 8
"""))
    assert run.failures == []
    gate = run.runner.gates["north-in"]
    assert len(gate.rigs) == 2, "a second boot on the same data dir"
    # Each boot's relay starts off; the first pulses once, the second once (the first visit).
    assert run.relay_pulses("north-in") == [[False, True, False], [False, True, False]]
    # The record from before the cut was committed offline and reached the server after boot.
    assert_nothing_lost(run, "north-in")
    assert [p["seq"] for p in run.stored("north-in")] == [1, 2, 3]
    assert len({p["boot_id"] for p in run.stored("north-in")}) == 2


def test_a_new_status_list_and_a_remote_open_reach_the_gate(play):
    run = play(scenario("""
[[person]]
label = "turns-positive"
at_s = 5
expect = ["granted", "denied:centralized_observation"]
again_after_s = 60
[[event]]
kind = "status_list"
at_s = 30
changes = { turns-positive = "centralized_observation" }
[[event]]
kind = "remote_open"
gate = "north-out"
at_s = 40
expect = "accepted"
"""))
    assert run.failures == []
    assert [p["kind"] for p in run.stored("north-out")] == ["remote_open"]
    assert run.relay_pulses("north-out") == [[False, True, False]]


def test_device_faults_keep_the_door_locked_and_raise_alarms(play):
    run = play(scenario("""
[[event]]
kind = "sensor_fault"
gate = "north-in"
at_s = 5
duration_s = 40
[[person]]
label = "no-reading"
at_s = 10
expect = "denied:temperature_unavailable"
[[event]]
kind = "camera_stall"
gate = "north-out"
at_s = 5
duration_s = 40
[[person]]
label = "unseen"
gate = "north-out"
at_s = 10
expect = "none"
[[person]]
label = "after-repair"
gate = "north-out"
at_s = 70
expect = "granted"
[expect]
alarms = { sensor_fault = 1, camera_fault = 1 }
"""))
    assert run.failures == []
    assert True not in run.relay_pulses("north-in")[0]
    assert run.relay_pulses("north-out") == [[False, True, False]]
    alarms = [(p["alarm"], p["state"]) for p in run.stored("north-out") if "alarm" in p]
    assert alarms == [("camera_fault", "raised"), ("camera_fault", "cleared")]
    assert_nothing_lost(run, "north-in")
    assert_nothing_lost(run, "north-out")


def test_a_clock_jump_past_the_lists_expiry_flags_the_list_stale(play):
    run = play(scenario("""
[[person]]
label = "before"
at_s = 5
expect = "granted"
[[event]]
kind = "clock_jump"
gate = "north-in"
at_s = 20
seconds = 259200
[[person]]
label = "after"
at_s = 30
expect = "granted"
"""))
    assert run.failures == []
    before, after = run.stored("north-in")
    assert before["reasons"] == [] and after["reasons"] == ["status_list_stale"]
    assert after["time"][:10] == "2026-12-05"  # three days on, in UTC (+08:00 local)
