"""`[voice]` settings: languages, volume, quiet hours, the ALSA device and the audio folder."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from firmware.core import prompts
from firmware.screen.settings import SettingsError

_HOURS = r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d"
DEFAULT_AUDIO_DIR = "/opt/gatekiosk/voice"


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class VoiceSettings:
    enabled: bool = True
    # Spoken in this order: the first is the primary language.
    languages: list[str] = field(
        default_factory=lambda: list(prompts.LANGUAGES),
        metadata={"item_choices": prompts.LANGUAGES},
    )
    volume: float = field(default=0.8, metadata={"low": 0.0, "high": 1.0})
    # Local time span with the lower volume, e.g. "22:00-07:00" (may wrap midnight); "" = none.
    quiet_hours: str = "22:00-07:00"
    quiet_volume: float = field(default=0.3, metadata={"low": 0.0, "high": 1.0})
    earcons: bool = True
    # The resting prompt is on the screen all day; saying it after every visit is noise.
    speak_idle: bool = False
    # The ALSA PCM aplay plays to, and the folder `gatekiosk voice build` wrote.
    device: str = "default"
    audio_dir: str = DEFAULT_AUDIO_DIR
    player: str = "aplay"

    def validate(self, path: str = "voice") -> VoiceSettings:
        """Check what spans fields; raise `SettingsError` naming `path.key`. Returns self."""
        if not self.languages:
            raise SettingsError(f"{path}.languages: name at least one of zh, en, ko")
        for i, lang in enumerate(self.languages):
            if lang not in prompts.LANGUAGES:
                raise SettingsError(f"{path}.languages[{i}]: must be one of zh, en, ko")
        if len(set(self.languages)) != len(self.languages):
            raise SettingsError(f"{path}.languages: a language is named twice")
        if self.quiet_hours and not re.fullmatch(_HOURS, self.quiet_hours):
            raise SettingsError(
                f"{path}.quiet_hours: {self.quiet_hours!r} is not HH:MM-HH:MM (or empty)"
            )
        for key in ("volume", "quiet_volume"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"{path}.{key}: {value} is outside 0..1")
        if not re.fullmatch(r"[A-Za-z0-9_:,.=-]{1,64}", self.device):
            raise SettingsError(f"{path}.device: {self.device!r} is not an ALSA device name")
        return self

    def volume_at(self, minute_of_day: int) -> float:
        """The volume for a local minute of the day (0..1439): quieter in the quiet hours."""
        if not self.quiet_hours:
            return self.volume
        start_s, end_s = self.quiet_hours.split("-")
        start, end = _minutes(start_s), _minutes(end_s)
        inside = (
            start <= minute_of_day < end
            if start <= end
            else (minute_of_day >= start or minute_of_day < end)
        )
        return min(self.volume, self.quiet_volume) if inside else self.volume
