"""The kiosk's face beside the gate: the screen server and the voice player, subscribed to the
indicator. Both are side channels: if one cannot start, that is logged and the gate runs on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from firmware.hw.indicator import Indicator
from firmware.screen.server import ScreenServer
from firmware.screen.settings import ScreenSettings
from firmware.voice.player import VoicePlayer
from firmware.voice.settings import VoiceSettings

log = logging.getLogger(__name__)


def minute_of_day(utc_offset_hours: float) -> Callable[[], int]:
    """The local minute of the day at a fixed UTC offset (the config's device.utc_offset_hours)."""

    def now() -> int:
        return int((time.time() / 60 + utc_offset_hours * 60) % 1440)

    return now


@contextmanager
def open_face(
    indicator: Indicator,
    screen: ScreenSettings,
    voice: VoiceSettings,
    utc_offset_hours: float = 8.0,
) -> Iterator[tuple[ScreenServer | None, VoicePlayer | None]]:
    """Start what is enabled, subscribe it to `indicator`; stop it all on leaving."""
    with ExitStack() as stack:
        server: ScreenServer | None = None
        player: VoicePlayer | None = None
        if screen.enabled:
            try:
                server = stack.enter_context(ScreenServer(screen))
            except Exception as exc:  # a side channel: the gate runs without it
                log.error("screen not started: %s:%s: %s", screen.bind, screen.port, exc)
            else:
                indicator.add_listener(server.publish)
                stack.callback(indicator.remove_listener, server.publish)
        if voice.enabled:
            try:
                player = stack.enter_context(
                    VoicePlayer(voice, local_minute=minute_of_day(utc_offset_hours))
                )
            except Exception as exc:
                log.error("voice not started: %s", exc)
            else:
                indicator.add_listener(player.hear)
                stack.callback(indicator.remove_listener, player.hear)
        yield server, player
