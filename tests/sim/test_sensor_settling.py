"""The simulated MLX90614 settles like its part (0.10 s BAA, 0.65 s DCI), and a person's cycle
at the gate (code shown → relay high) is longer with the slower part."""

from __future__ import annotations

import statistics

import pytest

from firmware.clock import ManualClock
from host_sim.mlx90614_filter import SETTLE_S_BY_PART, SettlingFilter
from host_sim.mlx90614_sim import Scene
from host_sim.scenario.measure import cycle_times

PEOPLE = """
[scenario]
name = "settling"
duration_s = 120
thermometer_part = "{part}"
[[gate]]
id = "north-in"
direction = "in"
""" + "".join(f"""
[[person]]
label = "p{n}"
at_s = {5 + 15 * n}
expect = "granted"
""" for n in range(5))


@pytest.mark.parametrize("part", ["BAA", "DCI"])
def test_a_step_settles_within_the_parts_settling_time(part):
    settle = SETTLE_S_BY_PART[part]
    clock = ManualClock()
    scene = Scene(clock, ambient_c=22.0, noise_c=0.0)
    scene.filter = SettlingFilter(settle)
    scene.object_c()  # the filter has seen the room
    scene.arrive(skin_c=35.0)
    clock.advance(settle * 0.25)
    early = scene.object_c()
    assert 22.0 + 1.0 < early < 35.0 - 1.0  # on its way, far from either end
    clock.advance(settle * 0.75)
    assert scene.object_c() == pytest.approx(35.0, abs=0.13 + 0.01)  # 99 % of the step


def test_without_a_settling_time_the_sensor_follows_at_once():
    clock = ManualClock()
    scene = Scene(clock, ambient_c=22.0, noise_c=0.0)
    scene.object_c()
    scene.arrive(skin_c=35.0)
    assert scene.object_c() == 35.0


@pytest.mark.broker
@pytest.mark.slow
def test_a_dci_part_makes_each_persons_cycle_longer(play):
    baa = cycle_times(play(PEOPLE.format(part="BAA")).runner)
    dci = cycle_times(play(PEOPLE.format(part="DCI")).runner)
    assert len(baa) == len(dci) == 5
    # 0.55 s more settling; the measurement window (1 s, 0.3 °C spread) waits it out.
    assert statistics.median(dci) - statistics.median(baa) >= 0.25, (baa, dci)
