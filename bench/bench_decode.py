"""QR decoding: read rate and time per frame of each decoder on realistic rendered frames.

The same scenes (host_sim.camera_sim.realistic_scene: phones and printed cards at 7-30 cm,
tilted, turned, blurred, noisy, glaring, dim, dark mode, JPEG, and some empty frames) are
rendered at 640x480 and 1280x960 and given to every decoder. Read rate counts frames whose
pass was decoded exactly, out of the frames that show one; a false read is any code that is
not the pass shown (a wrong code, or a code in an empty frame).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from firmware.hw.qr_decode import DECODER_NAMES, DEFAULT_DECODER, Decoder, make_decoder
from host_sim.camera_sim import realistic_scene, render_scene, sample_pass_text

FRAME_SIZES = ((640, 480), (1280, 960))
SCENES = 200
SEED = 20260401


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(scenes: int = SCENES, seed: int = SEED) -> dict[str, Any]:
    """Decode the same rendered scenes with every decoder at every frame size."""
    rng = np.random.default_rng(seed)
    text = sample_pass_text(rng)
    expected = text.encode("ascii")
    plan = [realistic_scene(rng, text) for _ in range(scenes)]
    decoders: list[Decoder] = [make_decoder(name) for name in DECODER_NAMES]
    results: dict[str, Any] = {}
    for width, height in FRAME_SIZES:
        reads = dict.fromkeys(DECODER_NAMES, 0)
        false_reads = dict.fromkeys(DECODER_NAMES, 0)
        timings: dict[str, list[float]] = {name: [] for name in DECODER_NAMES}
        with_code = 0
        for index, scene in enumerate(plan):
            frame = render_scene(scene, (width, height), np.random.default_rng(seed + index))
            with_code += scene.card is not None
            # Alternate the order so neither decoder always runs on a warm cache.
            order = decoders if index % 2 == 0 else decoders[::-1]
            for decoder in order:
                started = time.perf_counter()
                codes = decoder.decode(frame)
                timings[decoder.name].append((time.perf_counter() - started) * 1000.0)
                if scene.card is not None and expected in codes:
                    reads[decoder.name] += 1
                false_reads[decoder.name] += sum(1 for code in codes if code != expected)
        for name in DECODER_NAMES:
            results[f"{name}@{width}x{height}"] = {
                "decoder": name,
                "size": f"{width}x{height}",
                "frames": len(plan),
                "frames_with_code": with_code,
                "read_rate": reads[name] / with_code if with_code else None,
                "false_reads": false_reads[name],
                "ms_mean": statistics.fmean(timings[name]),
                "ms_p95": _percentile(timings[name], 0.95),
            }
    return {"pass_chars": len(text), "rows": results}


def best_decoder(rows: dict[str, Any]) -> str:
    """The decoder with the better read rate over all sizes; time per frame breaks ties."""
    def key(name: str) -> tuple[float, float]:
        mine = [row for row in rows.values() if row["decoder"] == name]
        read = sum(row["read_rate"] for row in mine) / len(mine)
        ms = sum(row["ms_mean"] for row in mine) / len(mine)
        return (-round(read, 3), ms)

    return min(DECODER_NAMES, key=key)


def markdown_table(rows: dict[str, Any]) -> str:
    """The figures as a markdown table."""
    lines = [
        "| decoder | frame | read rate | false reads | ms/frame mean | ms/frame p95 |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows.values():
        lines.append(
            f"| {row['decoder']} | {row['size']} | {row['read_rate']:.1%} "
            f"({round(row['read_rate'] * row['frames_with_code'])}/{row['frames_with_code']}) "
            f"| {row['false_reads']} | {row['ms_mean']:.1f} | {row['ms_p95']:.1f} |"
        )
    return "\n".join(lines)


def run() -> dict[str, Any]:
    """Measure, print the table and the decoder it favours, return the figures."""
    figures = measure()
    rows = figures["rows"]
    print(f"   {SCENES} scenes per frame size, pass of {figures['pass_chars']} characters")
    for line in markdown_table(rows).splitlines():
        print(f"   {line}")
    winner = best_decoder(rows)
    verdict = "matches" if winner == DEFAULT_DECODER else "DIFFERS FROM"
    print(f"   better decoder: {winner} ({verdict} DEFAULT_DECODER = {DEFAULT_DECODER!r})")
    figures["better_decoder"] = winner
    figures["default_decoder"] = DEFAULT_DECODER
    return figures
