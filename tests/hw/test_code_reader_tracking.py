"""CodeReader with the staged pipeline: where the code was read is looked at first next frame,
and a presentation counts as read when any of its frames reads."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from firmware.clock import ManualClock
from firmware.hw.code_reader import CodeReader
from firmware.hw.qr_locate import Region
from firmware.hw.qr_pipeline import ReadingPipeline, ReadResult
from host_sim.camera_sim import Card, Conditions, SimCamera
from host_sim.pass_scenes import COMPACT, sample_text

PASS = sample_text(COMPACT, np.random.default_rng(31))
CARD = Card(PASS, distance_mm=250.0, offset=(0.2, -0.1))
SHAKEN = Conditions(motion_px=25.0, motion_angle_deg=30.0)  # far too much motion to read


class RecordingPipeline(ReadingPipeline):
    """The real pipeline, remembering the hint of each frame and the stage that read it."""

    def __init__(self) -> None:
        super().__init__()
        self.hints: list[Region | None] = []
        self.stages: list[str | None] = []

    def read(self, gray, hint: Region | None = None) -> ReadResult:  # type: ignore[no-untyped-def]
        result = super().read(gray, hint)
        self.hints.append(hint)
        self.stages.append(result.stage)
        return result


@pytest.fixture
def rig() -> tuple[ManualClock, SimCamera, RecordingPipeline, CodeReader, list[bytes]]:
    clock = ManualClock()
    camera = SimCamera((640, 480), clock=clock, fps=15.0, seed=3)
    pipeline = RecordingPipeline()
    codes: list[bytes] = []
    reader = CodeReader(camera, pipeline, clock, codes.append, track_s=1.0)
    return clock, camera, pipeline, reader, codes


def test_the_region_where_the_code_was_read_is_decoded_first_on_the_next_frames(rig) -> None:
    _, camera, pipeline, reader, codes = rig
    camera.show(CARD, Conditions())
    for _ in range(4):
        reader.step()
    assert codes == [PASS.encode()]
    assert pipeline.hints[0] is None and pipeline.stages[0] == "frame"
    assert all(hint is not None for hint in pipeline.hints[1:])
    assert pipeline.stages[1:] == ["track"] * 3


def test_the_tracked_region_follows_the_code_when_it_moves(rig) -> None:
    _, camera, pipeline, reader, _ = rig
    camera.show(CARD, Conditions())
    reader.step()
    camera.show(replace(CARD, offset=(-0.3, 0.2)), Conditions())
    reader.step()  # the old region holds nothing now: read on the whole frame
    reader.step()
    assert pipeline.stages == ["frame", "frame", "track"]
    first, moved = pipeline.hints[1], pipeline.hints[2]
    assert first is not None and moved is not None and moved.x0 < first.x0


def test_the_region_is_forgotten_when_no_code_was_read_for_track_s(rig) -> None:
    _, camera, pipeline, reader, _ = rig
    camera.show(CARD, Conditions())
    reader.step()
    camera.clear()
    for _ in range(20):  # 20 frames at 15 frames/s: more than track_s
        reader.step()
    assert pipeline.hints[1] is not None
    assert pipeline.hints[-1] is None


def test_a_presentation_read_in_only_some_of_its_frames_is_reported_once(rig) -> None:
    _, camera, _, reader, codes = rig
    sequence = [SHAKEN, SHAKEN, Conditions(), SHAKEN, Conditions(), SHAKEN]
    read_in = []
    for conditions in sequence:
        camera.show(CARD, conditions)
        reader.step()
        read_in.append(len(codes))
    assert read_in == [0, 0, 1, 1, 1, 1]
    assert codes == [PASS.encode()]
