"""Debian's Chromium, headless, driven by Playwright, for the screen tests and `make bench`.

The page's CSP forbids `eval`, so waits poll with `evaluate` (which CSP does not restrict).
Every request the page makes is recorded; any that leaves the device is aborted and recorded
as such, so a test can assert there were none.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")

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
    """Every URL the page asked for; those not on the device are aborted."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.seen: list[str] = []
        self.blocked: list[str] = []

    def route(self, route: Any) -> None:
        url = route.request.url
        self.seen.append(url)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == self.origin or parts.scheme == "data":
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
