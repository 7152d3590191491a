"""QR decoding: read rate and time per frame of each decoder on realistic rendered frames.

The same scenes (host_sim.camera_sim.realistic_scene: phones and printed cards at 7-30 cm,
tilted, turned, blurred, noisy, glaring, dim, dark mode, JPEG, and some empty frames) carry a
pass of each form (a 420-character JWT, a 170-character `GK1:` compact code), are rendered at
640x480 and 1280x960 and given to every decoder: ZBar, one bare zxing-cpp pass, and the staged
pipeline over zxing-cpp (the kiosk's). Read rate counts frames whose pass was decoded exactly,
out of the frames that show one; a false read is any code that is not the pass shown (a wrong
code, or a code in an empty frame). The staged pipeline's figures are also given per stage,
per pixels-per-module bucket and per degradation, beside the bare pass's.
"""

from __future__ import annotations

from typing import Any

from bench.reading_sets import frame_set, score
from firmware.hw.qr_decode import DECODER_NAMES, DEFAULT_DECODER, Decoder, make_decoder
from host_sim.pass_scenes import FORMS

FRAME_SIZES = ((640, 480), (1280, 960))
SCENES = 200
BARE = "zxing-bare"


def measure(scenes: int = SCENES) -> dict[str, Any]:
    """Every decoder on every form's frames at every size."""
    decoders: list[Decoder] = [make_decoder(name) for name in DECODER_NAMES]
    rows: dict[str, Any] = {}
    for size in FRAME_SIZES:
        for form in FORMS:
            frames = frame_set(form, size, scenes)
            for decoder in decoders:
                row = score(decoder, frames)
                rows[f"{decoder.name}/{form}@{row['size']}"] = row
            bare = rows[f"{BARE}/{form}@{size[0]}x{size[1]}"]
            for decoder in decoders:
                row = rows[f"{decoder.name}/{form}@{size[0]}x{size[1]}"]
                row["time_vs_bare"] = row["ms_mean"] / bare["ms_mean"]
    return {"scenes_per_set": scenes, "rows": rows}


def best_decoder(rows: dict[str, Any]) -> str:
    """The decoder with the better mean read rate over all sets; time per frame breaks ties."""
    def key(name: str) -> tuple[float, float]:
        mine = [row for row in rows.values() if row["decoder"] == name]
        read = sum(row["read_rate"] for row in mine) / len(mine)
        ms = sum(row["ms_mean"] for row in mine) / len(mine)
        return (-round(read, 3), ms)

    return min(DECODER_NAMES, key=key)


def markdown_table(rows: dict[str, Any]) -> str:
    """The per-decoder figures as a markdown table."""
    lines = [
        "| decoder | pass | frame | read rate | false reads | ms/frame mean | p95 | max "
        "| time vs bare |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows.values():
        lines.append(
            f"| {row['decoder']} | {row['form']} ({row['pass_chars']}) | {row['size']} "
            f"| {row['read_rate']:.1%} ({row['read']}/{row['shown']}) | {row['false_reads']} "
            f"| {row['ms_mean']:.1f} | {row['ms_p95']:.1f} | {row['ms_max']:.1f} "
            f"| {row['time_vs_bare']:.2f}x |"
        )
    return "\n".join(lines)


def breakdown_lines(rows: dict[str, Any]) -> list[str]:
    """Per stage, pixels-per-module bucket and degradation: the pipeline beside the bare pass."""
    lines: list[str] = []
    for key, row in rows.items():
        if row["decoder"] != DEFAULT_DECODER:
            continue
        bare = rows[key.replace(f"{DEFAULT_DECODER}/", f"{BARE}/", 1)]
        lines.append(f"{row['form']} @ {row['size']}: stages (attempts, reads, ms/attempt)")
        lines.append(
            "   "
            + "; ".join(
                f"{name} {s['attempts']}, {s['reads']}, {s['ms_per_attempt']:.1f}"
                for name, s in row["stages"].items()
            )
            + f"; max work {row['max_work_share']:.2f} frames"
        )
        for table in ("by_ppm", "by_degradation"):
            cells = [
                f"{name} {bare[table][name]['read_rate']:.0%}->{cell['read_rate']:.0%}"
                f"/{cell['shown']}"
                for name, cell in row[table].items()
            ]
            lines.append(f"   {table[3:]}: " + ", ".join(cells))
    return lines


def run() -> dict[str, Any]:
    """Measure, print the tables and the decoder they favour, return the figures."""
    figures = measure()
    rows = figures["rows"]
    print(f"   {SCENES} scenes per pass form and frame size (bare -> pipeline / frames shown)")
    for line in markdown_table(rows).splitlines() + breakdown_lines(rows):
        print(f"   {line}")
    winner = best_decoder(rows)
    verdict = "matches" if winner == DEFAULT_DECODER else "DIFFERS FROM"
    print(f"   better decoder: {winner} ({verdict} DEFAULT_DECODER = {DEFAULT_DECODER!r})")
    figures["better_decoder"] = winner
    figures["default_decoder"] = DEFAULT_DECODER
    return figures
