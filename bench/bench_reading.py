"""Reading over a presentation, and reading distance, at the kiosk's 1280x960 frame.

Presentations: a realistic scene (as in bench_decode) shown for `FRAMES_PER_PRESENTATION`
frames with a hand's small movements (host_sim.pass_scenes.presentation), through the real
CodeReader, which tracks where the code was last read. A presentation is read when any of its
frames reads; its first frame is counted for the per-frame rate too.

Time to read: a phone entering the view from beyond its edge and from farther away, slowing
into a realistic scene's pose and held there with a hand's shake (host_sim.pass_scenes.
entering), a frame every 1/15 s; seconds from its entering to its code read, p50/p99, and the
share of presentations never read while held.

Distance: a typical pass (a phone, roughly facing the camera, good light) at increasing
distances; the reading distance is the farthest distance up to which every step reads at
least 90 % of its frames. The camera model is the Camera Module 3's (host_sim.camera_sim:
41° vertical field, 66° horizontal on its 16:9 sensor; 4:3 frames keep the height).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from bench.reading_sets import percentile
from firmware.clock import ManualClock
from firmware.hw.code_reader import CodeReader
from firmware.hw.qr_decode import make_decoder
from firmware.hw.qr_pipeline import ReadingPipeline
from host_sim.camera_sim import SimCamera, realistic_scene, render_scene
from host_sim.pass_scenes import FORMS, distance_scene, entering, presentation, sample_text

SIZE = (1280, 960)
SEED = 20261203
PRESENTATIONS = 40
FRAMES_PER_PRESENTATION = 5
DISTANCES_MM = tuple(range(150, 1601, 50))
DECODERS = ("zxing-bare", "zxing")
FRAMES_PER_DISTANCE = 8
WANTED_RATE = 0.9
# Time to read: a phone entering the view and held there, frames at the camera's rate.
FPS = 15.0
HOLD_S = 2.5
ENTRIES = 40


def time_to_read(form: str) -> dict[str, Any]:
    """Seconds from a phone entering the view to its code read, over `ENTRIES` presentations.

    The reader works as the CodeReader does: it decodes a frame, then takes the first frame
    the camera captures after that (one every 1/FPS s); until the first read there is no
    region to track. The time of a read is its frame's
    capture time plus the decoding thread's CPU time on it; the phone enters at frame 0.
    """
    rng = np.random.default_rng([SEED, 11, len(form)])
    text = sample_text(form, rng)
    expected = text.encode("ascii")
    pipeline = ReadingPipeline()
    times: list[float] = []
    frames_decoded = 0
    for index in range(ENTRIES):
        scene = realistic_scene(rng, text, empty_share=0.0)
        shown = entering(rng, scene, FPS, HOLD_S)
        now = 0.0
        while True:
            number = math.ceil(now * FPS - 1e-9)
            if number >= len(shown):
                break
            captured = number / FPS
            frame = render_scene(shown[number], SIZE, np.random.default_rng([SEED, index, number]))
            started = time.thread_time()
            result = pipeline.read(frame)
            now = captured + time.thread_time() - started
            frames_decoded += 1
            if expected in result.codes:
                times.append(now)
                break
    never = ENTRIES - len(times)
    return {
        "presentations": ENTRIES,
        "fps": FPS,
        "held_s": HOLD_S,
        "p50_s": round(percentile(times, 0.5), 3) if times else None,
        "p99_s": round(percentile(times, 0.99), 3) if times else None,
        "never_read_share": never / ENTRIES,
        "frames_decoded": frames_decoded,
    }


def presentations(form: str, decoder_name: str) -> dict[str, Any]:
    """Share of presentations read through the CodeReader, and of their first frames."""
    rng = np.random.default_rng([SEED, len(form)])
    text = sample_text(form, rng)
    expected = text.encode("ascii")
    read = first_frame = shown = 0
    frames = 0
    for index in range(PRESENTATIONS):
        scene = realistic_scene(rng, text, empty_share=0.0)
        clock = ManualClock()
        camera = SimCamera(SIZE, clock=clock, seed=index)
        codes: list[bytes] = []
        reader = CodeReader(camera, make_decoder(decoder_name), clock, codes.append)
        for number, moved in enumerate(presentation(rng, scene, FRAMES_PER_PRESENTATION)):
            camera.set_scene(moved)
            found = reader.step()
            frames += 1
            if number == 0:
                first_frame += expected in found
            if codes:
                break
        shown += 1
        read += expected in codes
        reader.stop()
    return {
        "presentations": shown,
        "frames_each_at_most": FRAMES_PER_PRESENTATION,
        "read_rate": read / shown,
        "first_frame_read_rate": first_frame / shown,
        "frames_rendered": frames,
    }


def reading_distance(form: str) -> dict[str, Any]:
    """Read rate per distance of a typical pass for the bare pass and the pipeline, and the
    reading distance of each; the same frames go to both."""
    rng = np.random.default_rng([SEED, 7, len(form)])
    text = sample_text(form, rng)
    expected = text.encode("ascii")
    decoders = {name: make_decoder(name) for name in DECODERS}
    rates: dict[str, dict[int, float]] = {name: {} for name in DECODERS}
    for distance in DISTANCES_MM:
        hits = dict.fromkeys(DECODERS, 0)
        for index in range(FRAMES_PER_DISTANCE):
            scene = distance_scene(rng, text, float(distance))
            frame = render_scene(scene, SIZE, np.random.default_rng([SEED, distance, index]))
            for name, decoder in decoders.items():
                hits[name] += expected in decoder.decode(frame)
        for name in DECODERS:
            rates[name][distance] = hits[name] / FRAMES_PER_DISTANCE
        if max(hits.values()) == 0:
            break  # beyond every decoder's reach: farther ones read nothing either
    figures: dict[str, Any] = {}
    for name in DECODERS:
        reach = 0
        for distance, rate in rates[name].items():
            if rate < WANTED_RATE:
                break
            reach = distance
        figures[name] = {"read_rate_by_mm": rates[name], "reading_distance_mm": reach}
    return figures


def run() -> dict[str, Any]:
    """Measure both, for each pass form, with the bare pass and the pipeline."""
    figures: dict[str, Any] = {"size": f"{SIZE[0]}x{SIZE[1]}"}
    for form in FORMS:
        entry = time_to_read(form)
        figures[f"time_to_read/{form}"] = entry
        p50, p99 = entry["p50_s"], entry["p99_s"]
        print(
            f"   {form:4s} phone entering the view -> code read ({entry['presentations']} "
            f"presentations, {FPS:g} fps, held {HOLD_S:g} s): "
            + (f"p50 {p50:.2f} s, p99 {p99:.2f} s" if p50 is not None else "never read")
            + f", never read {entry['never_read_share']:.0%}"
        )
        far = reading_distance(form)
        for decoder_name in DECODERS:
            held = presentations(form, decoder_name)
            reach = far[decoder_name]
            figures[f"{decoder_name}/{form}"] = {"presentations": held, "distance": reach}
            print(
                f"   {form:4s} {decoder_name:10s} presentations read "
                f"{held['read_rate']:.0%} of {held['presentations']} (first frame "
                f"{held['first_frame_read_rate']:.0%}); read >= 90 % up to "
                f"{reach['reading_distance_mm']} mm; by mm: "
                + " ".join(f"{mm}:{rate:.0%}" for mm, rate in reach["read_rate_by_mm"].items())
            )
    return figures
