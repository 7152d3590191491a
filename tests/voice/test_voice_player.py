"""The voice player with a stand-in ALSA sink: `aplay`, a real script on PATH that records each
call (time, arguments, the WAV it was fed) and may take its time, as a sound card does.

The clips are tiny synthetic WAVs here (the real espeak-ng build is tests/voice/test_voice_clips.py)
so that what was played can be recognised by its length and loudness.
"""

from __future__ import annotations

import io
import os
import textwrap
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from firmware.core import prompts
from firmware.voice import build
from firmware.voice.player import VoicePlayer
from firmware.voice.settings import VoiceSettings
from host_sim.visitors import VisitorGate

FAKE_APLAY = textwrap.dedent(
    """\
    #!/bin/sh
    # Stand-in for aplay: log the call, keep the WAV it was fed, take $FAKE_APLAY_SECONDS.
    n=$(date +%s%N)
    cat > "$FAKE_APLAY_DIR/$n.wav"
    echo "$n $*" >> "$FAKE_APLAY_DIR/calls"
    sleep "${FAKE_APLAY_SECONDS:-0}"
    """
)


class Sink:
    """What the fake aplay was asked to play, in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def calls(self) -> list[tuple[int, str, Path]]:
        path = self.folder / "calls"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            stamp, args = line.split(" ", 1)
            rows.append((int(stamp), args, self.folder / f"{stamp}.wav"))
        return rows

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[int, str, Path]]:
        deadline = time.monotonic() + timeout
        while len(self.calls()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.calls()


@pytest.fixture
def sink(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "aplay"
    script.write_text(FAKE_APLAY)
    script.chmod(0o755)
    played = tmp_path / "played"
    played.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_APLAY_DIR", str(played))
    return Sink(played)


def clip_length_s(index: int) -> float:
    return 0.05 + 0.01 * index


@pytest.fixture
def audio_dir(tmp_path):
    """Every clip the player may ask for, each of its own length (its fingerprint)."""
    folder = tmp_path / "voice"
    folder.mkdir()
    names = build.missing_clips(folder, prompts.LANGUAGES)
    for i, name in enumerate(names):
        t = np.arange(int(clip_length_s(i) * build.RATE_HZ)) / build.RATE_HZ
        build.write_wav(folder / name, 0.5 * np.sin(2 * np.pi * 440 * t))
    return folder, {round(clip_length_s(i), 3): name for i, name in enumerate(names)}


def played_names(sink, lengths, count):
    names = []
    for _stamp, _args, wav_path in sink.wait_for(count):
        with wave.open(io.BytesIO(wav_path.read_bytes())) as wav:
            names.append(lengths[round(wav.getnframes() / wav.getframerate(), 3)])
    return names


def peak(wav_path: Path) -> float:
    with wave.open(str(wav_path)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return float(np.max(np.abs(pcm))) / 32767.0


def make_player(folder, **settings):
    values = {"audio_dir": str(folder), "quiet_hours": "", **settings}
    return VoicePlayer(VoiceSettings(**values).validate())


def test_a_visit_is_spoken_in_each_language_without_delaying_the_gate(
    tmp_path, sink, audio_dir, monkeypatch
):
    folder, lengths = audio_dir
    monkeypatch.setenv("FAKE_APLAY_SECONDS", "0.3")  # a slow sound card
    gate = VisitorGate(tmp_path / "gate")
    player = make_player(folder, languages=["en", "zh", "ko"]).start()
    slowest = 0.0
    original = gate.rig.gate.process_pending

    def timed() -> int:
        nonlocal slowest
        started = time.perf_counter()
        handled = original()
        slowest = max(slowest, time.perf_counter() - started)
        return handled

    gate.rig.gate.process_pending = timed  # type: ignore[method-assign]
    try:
        gate.indicator.add_listener(player.hear)
        assert gate.visit(body_c=36.6) == "granted"
        deadline = time.monotonic() + 5
        names = played_names(sink, lengths, 0)
        while "step.granted.ko.wav" not in names and time.monotonic() < deadline:
            time.sleep(0.05)
            names = played_names(sink, lengths, 0)
    finally:
        player.stop()
        gate.close()
    # "Face the sensor" (cut short by the decision, how far it got depends on the host's
    # speed), then the earcon and the prompt, in the configured order.
    assert set(names[:-4]) <= {"step.measuring.en.wav", "step.measuring.zh.wav"}, names
    assert names[-4:] == [
        "earcon.granted.wav",
        "step.granted.en.wav",
        "step.granted.zh.wav",
        "step.granted.ko.wav",
    ]
    assert slowest < 0.1, slowest  # the 0.3 s clips were never waited for
    for _stamp, args, _wav in sink.calls():
        assert args == "-q -D default -t wav -"


def test_a_newer_prompt_supersedes_what_is_not_yet_played(sink, audio_dir, monkeypatch):
    folder, lengths = audio_dir
    monkeypatch.setenv("FAKE_APLAY_SECONDS", "0.5")
    player = make_player(folder).start()
    try:
        player.say(["step.idle.zh.wav", "step.idle.en.wav", "step.idle.ko.wav"])
        sink.wait_for(1)
        player.say(["reason.fever.zh.wav"])
        names = played_names(sink, lengths, 2)
        time.sleep(0.7)
        names = played_names(sink, lengths, 2)
    finally:
        player.stop()
    assert names == ["step.idle.zh.wav", "reason.fever.zh.wav"]


def test_quiet_hours_lower_the_volume(sink, audio_dir):
    folder, _ = audio_dir
    minute = {"now": 12 * 60}
    settings = VoiceSettings(
        audio_dir=str(folder), volume=0.9, quiet_hours="22:00-07:00", quiet_volume=0.2
    )
    player = VoicePlayer(settings, local_minute=lambda: minute["now"]).start()
    try:
        player.say(["step.granted.zh.wav"])
        sink.wait_for(1)
        minute["now"] = 23 * 60 + 30  # late at night
        player.say(["step.granted.zh.wav"])
        calls = sink.wait_for(2)
    finally:
        player.stop()
    day, night = (peak(wav) for _s, _a, wav in calls)
    assert day == pytest.approx(0.9 * 0.5, abs=0.01)
    assert night == pytest.approx(0.2 * 0.5, abs=0.01)
    assert [settings.volume_at(m) for m in (21 * 60 + 59, 22 * 60, 6 * 60 + 59, 7 * 60)] == [
        0.9,
        0.2,
        0.2,
        0.9,
    ]


def test_no_player_and_no_clips_are_logged_never_raised(tmp_path, caplog):
    player = make_player(tmp_path / "empty", player="/nonexistent/aplay").start()
    try:
        started = time.perf_counter()
        player.say(["step.granted.zh.wav"])
        assert time.perf_counter() - started < 0.01
        deadline = time.monotonic() + 2
        while "no clip step.granted.zh.wav" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        player.stop()
    assert "clips missing" in caplog.text and "no clip step.granted.zh.wav" in caplog.text
    assert not any(t.name == "voice" for t in threading.enumerate())


def test_a_failing_sound_card_is_logged(sink, audio_dir, tmp_path, caplog, monkeypatch):
    folder, _ = audio_dir
    broken = tmp_path / "bin" / "aplay"
    broken.write_text(
        "#!/bin/sh\ncat >/dev/null\necho 'aplay: main:831: audio open error' >&2\nexit 1\n"
    )
    player = make_player(folder).start()
    try:
        player.say(["step.granted.en.wav"])
        deadline = time.monotonic() + 3
        while "audio open error" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        player.stop()
    assert "voice: aplay exited 1: aplay: main:831: audio open error" in caplog.text
