"""`[screen]` settings: where the page is served and how it is laid out.

Fields carry the config loader's bounds (`low`, `high`, `choices`); `validate` adds the checks
that span fields. Errors are one line naming the key.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from firmware.core import prompts

# Debian's fonts-noto-cjk; the page's @font-face points here (through the server).
NOTO_CJK_DIR = "/usr/share/fonts/opentype/noto"


class SettingsError(ValueError):
    """A `[screen]` or `[voice]` value that must not be used; one line naming the key."""


@dataclass(frozen=True)
class ScreenSettings:
    enabled: bool = True
    # Loopback only by default: the page is for the kiosk's own browser.
    bind: str = "127.0.0.1"
    port: int = field(default=8310, metadata={"low": 1024, "high": 65535})
    # The boot page's own static server (hardware/gatekiosk-screen-boot.service), on loopback:
    # the kiosk browser opens it first and it hands over to `port` once the firmware answers.
    boot_port: int = field(default=8309, metadata={"low": 1024, "high": 65535})
    # The language shown largest (and first); the others follow in prompts.LANGUAGES order.
    primary_language: str = field(default="zh", metadata={"choices": prompts.LANGUAGES})
    # The page declares the firmware gone after 3 heartbeats without a message.
    heartbeat_s: float = field(default=1.0, metadata={"low": 0.2, "high": 30.0})
    font_dir: str = NOTO_CJK_DIR
    # Serving on a non-loopback address must be asked for explicitly.
    allow_remote: bool = False

    def validate(self, path: str = "screen") -> ScreenSettings:
        """Check what spans fields; raise `SettingsError` naming `path.key`. Returns self."""
        try:
            address = ipaddress.ip_address(self.bind)
        except ValueError:
            raise SettingsError(f"{path}.bind: {self.bind!r} is not an IP address") from None
        if not address.is_loopback and not self.allow_remote:
            raise SettingsError(
                f"{path}.bind: {self.bind} is not a loopback address (set allow_remote = true "
                "to serve the screen to the network)"
            )
        if self.port not in range(1024, 65536):
            raise SettingsError(f"{path}.port: {self.port} is outside 1024..65535")
        if self.boot_port not in range(1024, 65536):
            raise SettingsError(f"{path}.boot_port: {self.boot_port} is outside 1024..65535")
        if self.boot_port == self.port:
            raise SettingsError(f"{path}.boot_port: {self.boot_port} is {path}.port too")
        if self.primary_language not in prompts.LANGUAGES:
            raise SettingsError(
                f"{path}.primary_language: must be one of {', '.join(prompts.LANGUAGES)}"
            )
        if not 0.2 <= self.heartbeat_s <= 30.0:
            raise SettingsError(f"{path}.heartbeat_s: {self.heartbeat_s} is outside 0.2..30")
        return self

    def languages(self) -> list[str]:
        """Languages in display order: the primary first."""
        return [self.primary_language] + [
            lang for lang in prompts.LANGUAGES if lang != self.primary_language
        ]
