"""The motion model of a phone entering the view (host_sim.pass_scenes.entering), used by
the time-to-read benchmark: it starts outside the frame and farther away, smeared by its own
speed, and ends settled in the scene's pose with only the scene's own blur."""

from __future__ import annotations

import math

import numpy as np

from host_sim.camera_sim import Card, Conditions, Scene
from host_sim.pass_scenes import COMPACT, entering, sample_text

FPS = 15.0
SCENE = Scene(
    Card(sample_text(COMPACT, np.random.default_rng(1)), distance_mm=150.0, offset=(0.1, 0.0)),
    Conditions(motion_px=1.0),
)


def test_the_phone_enters_from_beyond_the_edge_and_from_farther_away() -> None:
    frames = entering(np.random.default_rng(2), SCENE, FPS, hold_s=1.0, enter_s=0.5)
    assert len(frames) == round(1.5 * FPS)
    first = frames[0].card
    assert first is not None
    # 1.4 half-frames from where it is held: its centre is outside the frame.
    assert max(abs(first.offset[0]), abs(first.offset[1])) > 1.0
    assert first.distance_mm > 1.15 * SCENE.card.distance_mm  # type: ignore[union-attr]


def test_it_is_smeared_while_moving_and_settles_into_the_scene_pose() -> None:
    frames = entering(np.random.default_rng(2), SCENE, FPS, hold_s=1.0, enter_s=0.5)
    middle = frames[round(0.25 * FPS)]
    assert middle.conditions.motion_px > 10.0  # moving fast: a smear of its own speed
    settled = frames[round(0.5 * FPS) + 1 :]
    for scene in settled:
        assert scene.card is not None
        assert math.dist(scene.card.offset, SCENE.card.offset) < 0.15  # type: ignore[union-attr]
        assert scene.conditions.motion_px <= 1.2 * SCENE.conditions.motion_px + 1e-9
