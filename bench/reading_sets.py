"""Rendered frame sets shared by the decoding benchmarks, and the figures they compute.

A set is the bench's realistic scenes (host_sim.camera_sim.realistic_scene, every degradation
the camera simulation has) for one pass form, rendered at one frame size, on a fixed seed.
`score` runs a decoder over a set and returns read rate, false reads and time per frame,
overall and per pixels-per-module bucket and degradation; with the staged pipeline also per
stage. Times are the decoding thread's CPU time, so that other work on a shared host does not count.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware.hw.qr_decode import Decoder
from firmware.hw.qr_pipeline import ReadingPipeline
from host_sim.camera_sim import Scene, realistic_scene, render_scene
from host_sim.pass_scenes import degradations, ppm_bucket, sample_text

SEED = 20260401


@dataclass
class FrameSet:
    """Frames of one pass form at one size, with the scenes they show."""

    form: str
    text: str
    size: tuple[int, int]
    scenes: list[Scene]
    frames: list[Any] = field(repr=False)


def frame_set(form: str, size: tuple[int, int], scenes: int, seed: int = SEED) -> FrameSet:
    """`scenes` realistic scenes carrying a pass of `form`, rendered at `size`."""
    rng = np.random.default_rng([seed, len(form)])
    text = sample_text(form, rng)
    plan = [realistic_scene(rng, text) for _ in range(scenes)]
    frames = [
        render_scene(scene, size, np.random.default_rng([seed, index]))
        for index, scene in enumerate(plan)
    ]
    return FrameSet(form, text, size, plan, frames)


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _rate(reads: int, shown: int) -> dict[str, Any]:
    return {"read": reads, "shown": shown, "read_rate": reads / shown if shown else None}


def score(decoder: Decoder, frames: FrameSet) -> dict[str, Any]:
    """Read rate, false reads and time of `decoder` on `frames`, with the breakdowns."""
    expected = frames.text.encode("ascii")
    pipeline = decoder if isinstance(decoder, ReadingPipeline) else None
    # CPU time of this thread: the figures hold on a host shared with other work.
    timings: list[float] = []
    reads = shown = false_reads = 0
    by_ppm: dict[str, list[int]] = {}
    by_degradation: dict[str, list[int]] = {}
    stages: dict[str, dict[str, float]] = {}
    max_work_share = 0.0
    for scene, frame in zip(frames.scenes, frames.frames, strict=True):
        started = time.thread_time()
        result = pipeline.read(frame) if pipeline is not None else None
        codes = result.codes if result is not None else decoder.decode(frame)
        timings.append((time.thread_time() - started) * 1000.0)
        false_reads += sum(1 for code in codes if code != expected)
        if result is not None:
            max_work_share = max(max_work_share, result.work_px / frame.size)
            for attempt in result.attempts:
                row = stages.setdefault(attempt.stage, {"attempts": 0, "reads": 0, "ms": 0.0})
                row["attempts"] += 1
                row["reads"] += attempt.read
                row["ms"] += attempt.ms
        if scene.card is None:
            continue
        read = expected in codes
        shown += 1
        reads += read
        for key, table in ((ppm_bucket(scene, frames.size), by_ppm),):
            table.setdefault(key, [0, 0])
            table[key][0] += read
            table[key][1] += 1
        for name in degradations(scene):
            by_degradation.setdefault(name, [0, 0])
            by_degradation[name][0] += read
            by_degradation[name][1] += 1
    figures: dict[str, Any] = {
        "decoder": decoder.name,
        "form": frames.form,
        "pass_chars": len(frames.text),
        "size": f"{frames.size[0]}x{frames.size[1]}",
        "frames": len(frames.frames),
        **_rate(reads, shown),
        "false_reads": false_reads,
        "ms_mean": statistics.fmean(timings),
        "ms_p95": percentile(timings, 0.95),
        "ms_max": max(timings),
        "by_ppm": {key: _rate(*value) for key, value in sorted(by_ppm.items())},
        "by_degradation": {key: _rate(*value) for key, value in sorted(by_degradation.items())},
    }
    if pipeline is not None:
        figures["stages"] = {
            name: {
                "attempts": int(row["attempts"]),
                "reads": int(row["reads"]),
                "ms_per_attempt": row["ms"] / row["attempts"],
                "ms_per_frame": row["ms"] / len(frames.frames),
            }
            for name, row in stages.items()
        }
        figures["max_work_share"] = max_work_share
    return figures
