"""The kiosk's face: state change -> screen updated, and prompt -> audio playback start.

Screen: the real `Indicator` publishes to the real `ScreenServer`; Debian's headless Chromium
shows the page and records when each state reached its DOM. Latency is that moment minus the
moment the state was published (one wall clock, one machine). Whole visits through the
simulated gate are measured too (the gate's own decision work is outside the figure).

Voice: the real clips (`gatekiosk voice build`, espeak-ng) and the real player, piping to a
stand-in `aplay` on PATH that notes when it started; latency is `Indicator.show` -> that
process running.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from firmware.core import prompts, reasons
from firmware.hw.indicator import DisplayState
from firmware.screen.server import ScreenServer
from firmware.screen.settings import ScreenSettings
from firmware.voice import build
from firmware.voice.player import VoicePlayer
from firmware.voice.settings import VoiceSettings
from host_sim.screen_browser import chromium_path, render_of, wait_until
from host_sim.visitors import VisitorGate

STATE_CHANGES = 200
VISITS = 12
PROMPTS_SPOKEN = 40
OUTCOMES = ("granted", "denied", "fever", "measuring", "idle")

STAND_IN_APLAY = """#!/bin/sh
date +%s%N >> "$BENCH_APLAY_LOG"
cat > /dev/null
"""


def _figures(name: str, seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    figures = {
        "count": len(ordered),
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 2),
        "p99_ms": round(1000 * ordered[max(0, int(len(ordered) * 0.99) - 1)], 2),
        "max_ms": round(1000 * ordered[-1], 2),
        "mean_ms": round(1000 * statistics.fmean(ordered), 2),
    }
    print(
        f"   {name:<46} p50 {figures['p50_ms']:7.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
        f"max {figures['max_ms']:7.2f} ms  (n={figures['count']})"
    )
    return figures


def _screen(workdir: Path) -> dict:
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    if chromium is None:
        print("   chromium not installed: screen not measured")
        return {}
    gate = VisitorGate(workdir / "gate")
    published: dict[int, float] = {}

    def note_published(state: DisplayState) -> None:
        published.setdefault(state.seq, time.time())

    gate.indicator.add_listener(note_published)
    server = ScreenServer(ScreenSettings(port=0)).start()
    gate.indicator.add_listener(server.publish)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1024, "height": 600})
            page.goto(server.url)
            wait_until(page, "window.gateScreen && window.gateScreen.online")
            changes = []
            for i in range(STATE_CHANGES):
                outcome = OUTCOMES[i % len(OUTCOMES)]
                gate.indicator.show(outcome, prompts.for_reason(reasons.ALL[i % len(reasons.ALL)]))
                seq = gate.indicator.state.seq
                changes.append(render_of(page, seq)["at"] / 1000.0 - published[seq])
                time.sleep(0.02)  # a person's pace is seconds; keep renders apart
            visits = []
            for i in range(VISITS):
                gate.visit(**({"body_c": 36.6}, {"status": "revoked"}, {"body_c": 38.4})[i % 3])
                seq = gate.indicator.state.seq
                visits.append(render_of(page, seq)["at"] / 1000.0 - published[seq])
                gate.settle()
            browser.close()
    finally:
        server.stop()
        gate.close()
    return {
        "state_change_to_dom": _figures("state change -> screen DOM updated", changes),
        "decision_to_dom_in_visits": _figures("decision in a simulated visit -> DOM", visits),
    }


def _voice(workdir: Path) -> dict:
    started = time.perf_counter()
    build.build(workdir / "voice")
    build_s = time.perf_counter() - started
    print(
        f"   voice build (espeak-ng, {len(prompts.all_keys())} prompts x 3 languages)"
        f"  {build_s:.1f} s"
    )
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    (bin_dir / "aplay").write_text(STAND_IN_APLAY)
    (bin_dir / "aplay").chmod(0o755)
    log = workdir / "aplay.log"
    os.environ["BENCH_APLAY_LOG"] = str(log)
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{path}"
    gate = VisitorGate(workdir / "voice-gate")
    settings = VoiceSettings(audio_dir=str(workdir / "voice"), quiet_hours="", earcons=False)
    player = VoicePlayer(settings).start()
    gate.indicator.add_listener(player.hear)
    latencies = []
    try:
        for i in range(PROMPTS_SPOKEN):
            before = len(log.read_text().splitlines()) if log.exists() else 0
            reason = reasons.ALL[i % len(reasons.ALL)]
            shown = time.time()
            gate.indicator.show("denied", prompts.for_reason(reason))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                lines = log.read_text().splitlines() if log.exists() else []
                if len(lines) > before:
                    latencies.append(int(lines[before]) / 1e9 - shown)
                    break
                time.sleep(0.001)
            time.sleep(0.05)
    finally:
        player.stop()
        gate.close()
        os.environ["PATH"] = path
    return {
        "voice_build_s": round(build_s, 2),
        "prompt_to_playback_start": _figures("prompt -> aplay running (playback start)", latencies),
    }


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="gatekiosk-bench-face-") as tmp:
        figures = _screen(Path(tmp))
        figures.update(_voice(Path(tmp)))
    return figures
