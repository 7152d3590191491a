"""The kiosk's spoken prompts, synthesised once (at install time) with espeak-ng into WAV files.

One clip per prompt key and language (`step.granted.zh.wav`): the prompt, then what to do next,
from `firmware.core.prompts` — the one source of the texts. Each clip is trimmed of silence,
peak-normalised to -3 dBFS (never clipped) and faded in and out. Three earcons (granted,
denied, fever) are generated here too. `manifest.json` records what each clip says and with
which engine, so a second build only redoes the clips whose text changed.
"""

from __future__ import annotations

import io
import json
import logging
import math
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firmware.core import prompts

log = logging.getLogger(__name__)

# espeak-ng voices: Mandarin, English, Korean.
VOICES = {"zh": "cmn", "en": "en", "ko": "ko"}
SPEED_WPM = {"zh": 200, "en": 160, "ko": 165}
RATE_HZ = 22050
PEAK = 10 ** (-3 / 20)  # -3 dBFS
SILENCE = 0.01  # of full scale: quieter samples at either end are trimmed
FADE_S = 0.02
MANIFEST = "manifest.json"
FORMAT = 1

# Earcons: (frequency Hz, seconds) notes; 0 Hz is a rest. Told apart by contour and length:
# granted rises, denied falls, fever alternates three times.
EARCONS: dict[str, list[tuple[float, float]]] = {
    "granted": [(660.0, 0.12), (990.0, 0.22)],
    "denied": [(494.0, 0.18), (0.0, 0.05), (330.0, 0.32)],
    "fever": [(988.0, 0.14), (740.0, 0.14)] * 3,
}


class VoiceBuildError(RuntimeError):
    """The synthesiser is missing or failed; one line."""


@dataclass(frozen=True)
class BuildReport:
    written: list[str]
    kept: list[str]


def clip_name(key: str, lang: str) -> str:
    """The file of prompt `key` spoken in `lang`."""
    return f"{key}.{lang}.wav"


def earcon_name(outcome: str) -> str:
    return f"earcon.{outcome}.wav"


def spoken_text(key: str, lang: str) -> str:
    """What the clip of `key` says in `lang`: the prompt, then the next step."""
    return prompts.spoken(prompts.texts_for_key(key), prompts.next_for_key(key), lang)


def engine_version(espeak: str = "espeak-ng") -> str:
    try:
        out = subprocess.run([espeak, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VoiceBuildError(f"{espeak}: cannot run ({exc}); install espeak-ng") from None
    return " ".join(out.stdout.split()[:5])


def wav_bytes(samples: np.ndarray, rate: int = RATE_HZ) -> bytes:
    """Mono float samples (-1..1) as a 16-bit PCM WAV file's bytes."""
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE_HZ) -> None:
    """Write mono float samples as 16-bit PCM, atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(wav_bytes(samples, rate))
    tmp.replace(path)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit WAV as float samples and the sample rate."""
    with wave.open(str(path), "rb") as src:
        if src.getsampwidth() != 2 or src.getnchannels() != 1:
            raise ValueError(f"{path}: not mono 16-bit PCM")
        frames = src.readframes(src.getnframes())
        rate = src.getframerate()
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0, rate


def finish(samples: np.ndarray, rate: int) -> np.ndarray:
    """Trim silence at both ends, normalise the peak to -3 dBFS, fade in and out."""
    loud = np.flatnonzero(np.abs(samples) > SILENCE)
    if loud.size == 0:
        raise VoiceBuildError("the synthesiser produced silence")
    pad = int(0.05 * rate)
    samples = samples[max(0, loud[0] - pad) : loud[-1] + pad]
    samples = samples * (PEAK / float(np.max(np.abs(samples))))
    fade = min(int(FADE_S * rate), samples.size // 2)
    ramp = np.linspace(0.0, 1.0, fade)
    samples[:fade] *= ramp
    samples[samples.size - fade :] *= ramp[::-1]
    return samples


def earcon(outcome: str, rate: int = RATE_HZ) -> np.ndarray:
    """The earcon of `outcome`: sine notes with soft edges, at -3 dBFS."""
    parts = []
    for freq, seconds in EARCONS[outcome]:
        t = np.arange(int(seconds * rate)) / rate
        note = np.sin(2 * math.pi * freq * t) if freq else np.zeros_like(t)
        edge = min(int(0.01 * rate), t.size // 2)
        if freq and edge:
            ramp = np.linspace(0.0, 1.0, edge)
            note[:edge] *= ramp
            note[note.size - edge :] *= ramp[::-1]
        parts.append(note)
    return np.concatenate(parts) * PEAK


def _synthesise(text: str, lang: str, out: Path, espeak: str) -> None:
    with tempfile.TemporaryDirectory(prefix="gatekiosk-voice-") as tmp:
        raw = Path(tmp) / "raw.wav"
        cmd = [espeak, "-v", VOICES[lang], "-s", str(SPEED_WPM[lang]), "-w", str(raw), text]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VoiceBuildError(f"{espeak}: cannot run ({exc}); install espeak-ng") from None
        if done.returncode != 0 or not raw.exists():
            detail = " ".join(done.stderr.split())[:200]
            raise VoiceBuildError(f"{espeak} -v {VOICES[lang]} failed: {detail}")
        samples, rate = read_wav(raw)
    write_wav(out, finish(samples, rate), rate)


def build(
    out_dir: str | Path,
    languages: tuple[str, ...] | list[str] = prompts.LANGUAGES,
    *,
    espeak: str = "espeak-ng",
    jobs: int = 2,
) -> BuildReport:
    """Write every prompt's clip in each language, and the earcons, into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    engine = engine_version(espeak)
    old = _load_manifest(out)
    entries: dict[str, dict[str, str]] = {}
    todo: list[tuple[str, str, str]] = []
    for key in prompts.all_keys():
        for lang in languages:
            name = clip_name(key, lang)
            entry = {
                "key": key,
                "lang": lang,
                "voice": VOICES[lang],
                "text": spoken_text(key, lang),
                "engine": engine,
            }
            entries[name] = entry
            if old.get(name) != entry or not (out / name).exists():
                todo.append((name, entry["text"], lang))
    for outcome in EARCONS:
        name = earcon_name(outcome)
        entry = {"earcon": outcome, "notes": json.dumps(EARCONS[outcome])}
        entries[name] = entry
        if old.get(name) != entry or not (out / name).exists():
            write_wav(out / name, earcon(outcome))
            todo.append((name, "", ""))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [
            pool.submit(_synthesise, text, lang, out / name, espeak)
            for name, text, lang in todo
            if lang
        ]
        for future in futures:
            future.result()
    (out / MANIFEST).write_text(
        json.dumps({"format": FORMAT, "clips": entries}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    written = [name for name, _text, _lang in todo]
    return BuildReport(written, sorted(set(entries) - set(written)))


def _load_manifest(out: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    clips = data.get("clips")
    return clips if isinstance(clips, dict) else {}


def missing_clips(audio_dir: str | Path, languages: list[str] | tuple[str, ...]) -> list[str]:
    """Clips the player would need that `audio_dir` lacks (empty when the build is complete)."""
    folder = Path(audio_dir)
    names = [clip_name(k, lang) for k in prompts.all_keys() for lang in languages]
    names += [earcon_name(outcome) for outcome in EARCONS]
    return [name for name in names if not (folder / name).is_file()]
