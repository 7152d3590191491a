"""Plays the prompts through ALSA on its own thread, never holding up the gate loop.

`VoicePlayer.hear` is an Indicator listener: it turns a display state into clips (the outcome's
earcon, then the prompt in each configured language, primary first) and hands them over in
constant time. A newer prompt supersedes whatever of an older one is not yet played, and cuts
the clip playing now. Each clip is piped to `aplay` at the volume of the hour (quieter in the
quiet hours). Any failure — no player, no clip, a dead sound card — is logged, never raised.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
import time
import wave
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from firmware.hw.indicator import DisplayState
from firmware.voice.build import (
    EARCONS,
    clip_name,
    earcon_name,
    missing_clips,
    read_wav,
    wav_bytes,
)
from firmware.voice.settings import VoiceSettings

log = logging.getLogger(__name__)

# Longest a clip may play beyond its own length before the player is stopped.
PLAY_GRACE_S = 5.0


def _local_minute() -> int:
    now = time.localtime()
    return now.tm_hour * 60 + now.tm_min


class VoicePlayer:
    """A player thread with a one-prompt queue; `hear` is what the Indicator calls."""

    def __init__(
        self,
        settings: VoiceSettings,
        *,
        local_minute: Callable[[], int] = _local_minute,
        on_start: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.audio_dir = Path(settings.audio_dir)
        self._local_minute = local_minute
        self._on_start = on_start
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._generation = 0
        self._stopping = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._last: tuple[str, str | None] | None = None
        self._thread: threading.Thread | None = None
        self._cache: dict[str, tuple[np.ndarray, int]] = {}
        self._warned: set[str] = set()
        # (monotonic start, clip) of the latest playbacks: for telemetry and the benchmark.
        self.started: deque[tuple[float, str]] = deque(maxlen=200)

    def start(self) -> VoicePlayer:
        missing = missing_clips(self.audio_dir, self.settings.languages)
        if missing:
            log.warning(
                "voice: %d clips missing in %s (run: gatekiosk voice build --out %s)",
                len(missing),
                self.audio_dir,
                self.audio_dir,
            )
        self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._pending = []
            proc = self._proc
            self._cond.notify_all()
        _halt(proc)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> VoicePlayer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what to say ---------------------------------------------------------------------------

    def clips_for(self, state: DisplayState) -> list[str]:
        """The clips to play for a display state, in order (empty: say nothing)."""
        if state.outcome == "idle" and not self.settings.speak_idle:
            return []
        clips = []
        if self.settings.earcons and state.outcome in EARCONS:
            clips.append(earcon_name(state.outcome))
        if state.key is not None:
            clips += [clip_name(state.key, lang) for lang in self.settings.languages]
        return clips

    def hear(self, state: DisplayState) -> None:
        """Take a new display state; returns at once."""
        said = (state.outcome, state.key)
        if said == self._last:  # the same prompt shown again (a refresh): said already
            return
        self._last = said
        clips = self.clips_for(state)
        if clips:
            self.say(clips)

    def say(self, clips: list[str]) -> None:
        """Play `clips` next, dropping what an older prompt has not played yet."""
        with self._cond:
            self._generation += 1
            self._pending = list(clips)
            proc = self._proc
            self._cond.notify_all()
        _halt(proc)

    # -- the player thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or bool(self._pending))
                if self._stopping:
                    return
                clips, self._pending = self._pending, []
                generation = self._generation
            for clip in clips:
                try:
                    if not self._play(clip, generation):
                        break
                except Exception:  # the voice is a side channel: log and go on
                    log.exception("voice: playing %s failed", clip)

    def _play(self, clip: str, generation: int) -> bool:
        """Play one clip; False when a newer prompt (or stop) superseded it."""
        audio = self._load(clip)
        if audio is None:
            return True
        samples, rate = audio
        volume = self.settings.volume_at(self._local_minute())
        data = wav_bytes(samples * volume, rate)
        cmd = [self.settings.player, "-q", "-D", self.settings.device, "-t", "wav", "-"]
        with self._cond:
            if self._stopping or generation != self._generation:
                return False
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            except OSError as exc:
                self._warn_once("player", f"voice: cannot run {cmd[0]}: {exc}")
                return True
            self._proc = proc
        self.started.append((time.monotonic(), clip))
        if self._on_start is not None:
            self._on_start(clip)
        try:
            _out, err = proc.communicate(data, timeout=samples.size / rate + PLAY_GRACE_S)
        except subprocess.TimeoutExpired:
            _halt(proc)
            _out, err = proc.communicate()
            log.error("voice: %s hung playing %s; stopped", cmd[0], clip)
        except (BrokenPipeError, OSError):
            err = b""
        finally:
            with self._cond:
                self._proc = None
        superseded = generation != self._generation or self._stopping
        if proc.returncode not in (0, None) and not superseded:
            detail = " ".join(err.decode(errors="replace").split())[:200]
            log.error("voice: %s exited %s: %s", cmd[0], proc.returncode, detail)
        return not superseded

    def _load(self, clip: str) -> tuple[np.ndarray, int] | None:
        if clip not in self._cache:
            try:
                self._cache[clip] = read_wav(self.audio_dir / clip)
            except (OSError, ValueError, EOFError, wave.Error) as exc:
                self._warn_once(clip, f"voice: no clip {clip}: {exc}")
                return None
        return self._cache[clip]

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.error("%s", message)


def _halt(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.terminate()
