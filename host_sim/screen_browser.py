"""Debian's Chromium, headless, driven by Playwright, for the screen tests and `make bench`.

The page's CSP forbids `eval`, so waits poll with `evaluate` (which CSP does not restrict).
Every request the page makes is recorded; any that leaves the device is aborted and recorded
as such, so a test can assert there were none.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
BOOT_SCRIPT = Path(__file__).resolve().parents[1] / "firmware" / "screen" / "boot.py"

# Draws one character on a canvas in the page's own font and compares the pixels with those of
# a code point no font has (U+10FFFD, private use): the same pixels mean a tofu box.
TOFU_PROBE = """
(chars) => {
  const font = getComputedStyle(document.querySelector('.prompt .primary')).fontFamily;
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (ch) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = '48px ' + font;
    ctx.fillText(ch, 4, 52);
    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
  };
  const tofu = draw(String.fromCodePoint(0x10FFFD));
  return chars.filter((ch) => draw(ch) === tofu);
}
"""


def chromium_path() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


class Requests:
    """Every URL the page asked for; those not on the device (`origins`) are aborted."""

    def __init__(self, origin: str, *others: str) -> None:
        self.origin = origin
        self.origins = {origin, *others}
        self.seen: list[str] = []
        self.blocked: list[str] = []

    def route(self, route: Any) -> None:
        url = route.request.url
        self.seen.append(url)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" in self.origins or parts.scheme == "data":
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


def wait_until(page: Any, expression: str, timeout: float = 5.0) -> Any:
    """Poll a page expression until it is truthy; its value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"page never satisfied: {expression}")
        time.sleep(0.005)


def render_of(page: Any, seq: int, timeout: float = 5.0) -> dict[str, Any]:
    """The page's record of rendering display state `seq` (epoch ms in `at`)."""
    return wait_until(
        page, f"window.gateScreen.renders.find((r) => r.seq === {seq})", timeout=timeout
    )


def screen_lines(page: Any, section: str) -> list[tuple[str, str, str]]:
    """(lang, class, text) of each line of a section (`prompt` or `next`), top to bottom."""
    return [
        tuple(row)
        for row in page.evaluate(
            f"Array.from(document.querySelectorAll('#{section} p'))"
            ".map((p) => [p.lang, p.className, p.textContent])"
        )
    ]


def start_boot_server(
    site: Path, screen_url: str, font_dir: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """The boot page's server as its unit runs it (`python -I`: standard library only), on a
    free port; the process and the boot page's URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-I",
            str(BOOT_SCRIPT),
            "--port",
            "0",
            "--dir",
            str(site),
            "--screen-url",
            screen_url,
            "--font-dir",
            font_dir,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if found is None:
        process.kill()
        raise AssertionError(f"the boot server did not start: {line!r}")
    return process, found.group(0)
