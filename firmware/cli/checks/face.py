"""Checks of what the person at the gate sees and hears: the screen's page and the voice.

The screen: its port is free for `gatekiosk run`, or already serves the kiosk's page (the
service running), and the CJK fonts the page asks for are installed. The voice: the player is
installed, every clip `gatekiosk voice build` writes is in the audio folder, the configured ALSA
device exists, and the system has a sound card at all.
"""

from __future__ import annotations

import errno
import http.client
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from firmware.cli.checks import FAIL, PASS, WARN, Check
from firmware.config import Config

ALSA_TIMEOUT_S = 5.0
PAGE_TIMEOUT_S = 2.0

# (argv) -> (exit code, output); tests hand in what a machine with a given sound card prints.
Runner = Callable[[list[str]], tuple[int, str]]


def run_quietly(argv: list[str]) -> tuple[int, str]:
    """Run a listing command; its exit code and stdout+stderr (127 when it is not there)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=ALSA_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, done.stdout + done.stderr


def check_screen(cfg: Config) -> Check:
    """The screen's port is free (or serves the kiosk's page) and its fonts are installed."""
    from firmware.screen.server import CSP, FONT_FILES

    s = cfg.screen
    if not s.enabled:
        return Check("screen", PASS, "off (screen.enabled = false)")
    url = f"http://{s.bind}:{s.port}/"
    missing = [name for name in FONT_FILES if not (Path(s.font_dir) / name).is_file()]
    data = {"url": url, "fonts_missing": missing}
    held = _port_held(s.bind, s.port)
    if held is not None:
        if _serves_the_page(s.bind, s.port, CSP):
            port_detail = f"{url} served by the running kiosk"
        else:
            return Check("screen", FAIL, f"{s.bind}:{s.port} is taken by another program "
                                         f"({held}): the page cannot be served", data)
    else:
        port_detail = f"{url} free for the page"
    if missing:
        return Check("screen", WARN, f"{port_detail}; fonts missing in {s.font_dir} "
                                     "(install fonts-noto-cjk): Chinese and Korean fall back",
                     data)
    return Check("screen", PASS, f"{port_detail}, CJK fonts installed", data)


def _port_held(host: str, port: int) -> str | None:
    """None when the port can be bound now, else why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
    return None


def _serves_the_page(host: str, port: int, csp: str) -> bool:
    """The program on the port answers `/` with the kiosk page's security policy."""
    conn = http.client.HTTPConnection(host, port, timeout=PAGE_TIMEOUT_S)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status == 200 and response.getheader("Content-Security-Policy") == csp
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def check_voice(cfg: Config, run: Runner = run_quietly) -> Check:
    """The player, the clips, the ALSA device and a sound card."""
    from firmware.voice.build import missing_clips

    v = cfg.voice
    if not v.enabled:
        return Check("voice", PASS, "off (voice.enabled = false)")
    if shutil.which(v.player) is None:
        return Check("voice", FAIL, f"player {v.player!r} not found (install alsa-utils)")
    missing = missing_clips(v.audio_dir, v.languages)
    data = {"audio_dir": v.audio_dir, "clips_missing": len(missing), "device": v.device}
    if missing:
        return Check("voice", FAIL, f"{len(missing)} clips missing in {v.audio_dir} (run "
                                    f"`gatekiosk voice build --out {v.audio_dir}`)", data)
    languages = ", ".join(v.languages)
    if Path(v.player).name != "aplay":
        return Check("voice", PASS, f"clips complete ({languages}); player {v.player}", data)
    code, listing = run([v.player, "-L"])
    devices = [line.strip() for line in listing.splitlines() if line and not line[0].isspace()]
    if code == 0 and v.device != "default" and v.device not in devices:
        shown = ", ".join(devices[:6]) or "none"
        return Check("voice", FAIL, f"ALSA device {v.device!r} not found (`aplay -L` lists: "
                                    f"{shown})", data)
    code, cards = run([v.player, "-l"])
    if code != 0 or "card " not in cards:
        return Check("voice", WARN, f"clips complete ({languages}) but no sound card found "
                                    "(`aplay -l`): the kiosk is silent", data)
    return Check("voice", PASS, f"clips complete ({languages}); device {v.device}", data)
