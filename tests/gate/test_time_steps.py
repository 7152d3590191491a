"""Wall-clock steps: passback on the monotonic clock; a synchronised clock sets the time floor."""

from __future__ import annotations

from .test_gate_visits import events_of, visit

YEAR = 365 * 86400


def test_a_wall_clock_stepped_back_does_not_refuse_residents_as_passback(rig, community, clock):
    visit(rig, community.pass_token("p-7"), 36.5, seconds=2.0)
    rig.walk_away()
    rig.run_for(40.0, read_camera=False)
    clock.step_wall(-2 * 3600)
    visit(rig, community.pass_token("p-7"), 36.5, seconds=2.0)
    first, second = events_of(rig)
    assert first["decision"] == "granted"
    assert second["decision"] == "granted", second["reasons"]


def test_passback_still_refuses_within_the_window(rig, community, clock):
    visit(rig, community.pass_token("p-8"), 36.5, seconds=2.0)
    rig.walk_away()
    rig.run_for(3.0, read_camera=False)
    clock.step_wall(+3600)  # a wall clock jumping ahead does not end the window either
    visit(rig, community.pass_token("p-8"), 36.5, seconds=2.0)
    assert events_of(rig)[-1]["reasons"] == ["passback"]


def test_a_clock_stepped_forward_a_year_then_corrected_brings_the_floor_back(rig, clock):
    clock.step_wall(YEAR)
    rig.run_for(11.0, read_camera=False)  # housekeeping reads the synced clock
    assert rig.gate.store.time_floor >= clock.time() - 1
    clock.step_wall(-YEAR)
    rig.run_for(11.0, read_camera=False)
    assert rig.gate.store.time_floor <= clock.time() + 1
    clock.set_synced(False)
    assert rig.gate.store.now() <= clock.time() + 1
