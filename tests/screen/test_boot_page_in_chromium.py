"""The boot page in a real headless Chromium (Debian's), served by the real boot server.

What the kiosk browser sees from power-on: the boot page while no firmware serves the screen,
then the firmware's own page once a `ScreenServer` answers. Every request is recorded; any
that leaves loopback is aborted and recorded.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from firmware.core import prompts
from firmware.hw.indicator import DisplayState
from firmware.screen import boot
from firmware.screen.server import ScreenServer
from firmware.screen.settings import ScreenSettings
from host_sim.screen_browser import TOFU_PROBE, Requests, chromium_path, screen_lines, wait_until

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "screen"
VIEWPORT = {"width": 1024, "height": 600}
# "Within a few seconds" of the firmware answering: one poll a second, on a loaded host.
HANDOVER_LIMIT_S = 5.0
# What makes two pages look alike: colours, symbol, and each line's language, text and size.
LOOK = """(() => {
  const style = (sel) => getComputedStyle(document.querySelector(sel));
  const lines = (id) => Array.from(document.querySelectorAll('#' + id + ' p'))
    .map((p) => [p.lang, p.textContent, getComputedStyle(p).fontSize]);
  return {outcome: document.body.dataset.outcome, background: style('body').backgroundColor,
          accent: style('.symbol').color,
          symbol: document.getElementById('symbol').getAttribute('href'),
          symbol_size: style('.symbol').height, prompt: lines('prompt'), next: lines('next')};
})()"""


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def open_boot_page(browser, boot_site):
    context = browser.new_context(viewport=VIEWPORT)
    requests = Requests(origin(boot_site.url), origin(boot_site.screen_url))
    context.route("**/*", requests.route)
    page = context.new_page()
    response = page.goto(boot_site.url)
    assert response is not None and response.ok
    page.evaluate("document.fonts.ready.then(() => true)")
    return context, page, requests, response


def expect_out_of_service_texts(page) -> None:
    for section, texts in (
        ("prompt", prompts.for_step(prompts.OUT_OF_SERVICE)),
        ("next", prompts.next_for_step(prompts.OUT_OF_SERVICE)),
    ):
        lines = screen_lines(page, section)
        assert [(lang, text) for lang, _cls, text in lines] == [
            (lang, texts[lang]) for lang in ("zh", "en", "ko")
        ], lines
        assert "primary" in lines[0][1] and all("secondary" in c for _l, c, _t in lines[1:])


def idle_state() -> DisplayState:
    texts, next_step = prompts.for_step(prompts.IDLE), prompts.next_for_step(prompts.IDLE)
    return DisplayState(1, "idle", "step.idle", texts, next_step, None, None, None, time.time())


def test_out_of_service_without_firmware_then_the_live_page_once_it_answers(browser, boot_site):
    context, page, requests, response = open_boot_page(browser, boot_site)
    server = None
    try:
        assert response.headers["content-security-policy"] == boot.csp(boot_site.screen_url)
        expect_out_of_service_texts(page)
        boot_look = page.evaluate(LOOK)
        assert boot_look["outcome"] == "out_of_service"
        assert boot_look["symbol"] == "#sym-out_of_service"
        wide = sorted({ch for ch in page.evaluate("document.body.innerText") if ord(ch) > 0x2E80})
        assert wide and page.evaluate(TOFU_PROBE, wide) == []
        # Nobody serves the screen: the page keeps polling and stays where it is.
        wait_until(page, "window.gateBoot.polls >= 3", timeout=8.0)
        assert page.url == boot_site.url
        expect_out_of_service_texts(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "boot_out_of_service.png"))

        started = time.monotonic()
        server = ScreenServer(ScreenSettings(port=boot_site.screen_port, heartbeat_s=0.3))
        server.start().publish(idle_state())
        page.wait_for_url(boot_site.screen_url, timeout=HANDOVER_LIMIT_S * 2000)
        wait_until(
            page,
            "window.gateScreen && window.gateScreen.online"
            " && document.body.dataset.outcome === 'idle'",
            timeout=HANDOVER_LIMIT_S,
        )
        assert time.monotonic() - started < HANDOVER_LIMIT_S
        assert [text for _l, _c, text in screen_lines(page, "prompt")] == [
            prompts.for_step(prompts.IDLE)[lang] for lang in ("zh", "en", "ko")
        ]

        # The boot page looks like the live page does when the firmware stops.
        server.stop()
        server = None
        wait_until(page, "document.body.dataset.outcome === 'out_of_service'", timeout=5.0)
        assert page.evaluate(LOOK) == boot_look
    finally:
        if server is not None:
            server.stop()
        context.close()
    assert requests.blocked == []
    assert {urlsplit(url).hostname for url in requests.seen} == {"127.0.0.1"}, requests.seen
    boot_files = {url for url in requests.seen if url.startswith(boot_site.url)}
    assert boot_files >= {boot_site.url, boot_site.url + "boot.js", boot_site.url + "style.css"}


def test_the_boot_page_may_reach_no_other_origin(browser, boot_site):
    context, page, requests, _response = open_boot_page(browser, boot_site)
    try:
        outcome = page.evaluate(
            "fetch('https://cdn.example.com/x', {mode: 'no-cors'})"
            ".then(() => 'fetched', () => 'refused')"
        )
        assert outcome == "refused"
        violated = page.evaluate(
            """new Promise((resolve) => {
                 document.addEventListener('securitypolicyviolation',
                                           (e) => resolve(e.violatedDirective), {once: true});
                 fetch('http://127.0.0.1:1/', {mode: 'no-cors'}).catch(() => {});
               })"""
        )
        assert violated == "connect-src"
    finally:
        context.close()
    # Refused by the page's own policy, before any request was made.
    assert requests.blocked == []
    assert not any("example.com" in url or ":1/" in url for url in requests.seen)
