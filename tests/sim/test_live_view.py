"""The live view in Debian's headless Chromium: the page loads (nothing off the device), the
gates' kiosk screens are embedded, a scenario's records appear as the server stores them, and a
fault injected from the page reaches the gate's simulated hardware."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest

from host_sim.scenario.load import parse
from host_sim.scenario.runner import Runner
from host_sim.screen_browser import chromium_path, wait_until
from host_sim.view.server import ViewServer

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = chromium_path()
pytestmark = [
    pytest.mark.broker, pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]

SCENARIO = """
[scenario]
name = "view test"
duration_s = 3600
[[gate]]
id = "north-in"
direction = "in"
[[person]]
label = "first"
at_s = 3
expect = "granted"
[[person]]
label = "fever"
at_s = 15
body_c = 38.6
expect = "denied:fever"
"""


def test_the_page_shows_the_compound_and_injects_a_fault_into_the_gate(tmp_path):
    runner = Runner(parse(SCENARIO, "view.toml"), tmp_path, speed=10.0, with_screens=True)
    view = ViewServer(runner).start()
    loop = threading.Thread(target=runner.run, daemon=True)
    loop.start()
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                off_device: list[str] = []

                def route(request_route):  # the view and the gates' screens are on loopback
                    url = request_route.request.url
                    if urlsplit(url).hostname == "127.0.0.1":
                        request_route.continue_()
                    else:
                        off_device.append(url)
                        request_route.abort()
                page.route("**/*", route)
                page.goto(view.url)
                wait_until(page, "document.querySelector('#gate-north-in .f-phase')"
                           "?.textContent.length > 0", timeout=15)
                frame = page.evaluate("document.querySelector('#gate-north-in iframe').src")
                assert frame == f"http://127.0.0.1:{runner.gates['north-in'].screen_port}/"
                # The scenario's records reach the page as the server stores them.
                wait_until(page, "Array.from(document.querySelectorAll('#events li'))"
                           ".some((li) => li.textContent.includes('denied fever'))", timeout=60)
                wait_until(page, "Array.from(document.querySelectorAll('#alarms li'))"
                           ".some((li) => li.textContent.includes('fever raised'))", timeout=10)
                granted = page.evaluate("document.querySelectorAll('#events li.granted').length")
                assert granted == 1
                # A sensor fault injected from the page: the gate's thermometer stops answering.
                page.select_option("#fault-kind", "sensor_fault")
                page.fill("#fault-duration", "3000")
                page.click("#inject")
                wait_until(page, "document.querySelector('#control-result').textContent"
                           ".startsWith('200')", timeout=10)
                bus = runner.gates["north-in"].rig.i2c
                assert bus is not None
                wait_until(page, "document.querySelector('#gate-north-in .f-faults')"
                           ".textContent.includes('sensor')", timeout=30)
                assert "sensor" in " ".join(runner.gates["north-in"].rig.gate.faults)
                # The embedded kiosk screen loaded its own page.
                screen = page.frame_locator("#gate-north-in iframe")
                assert screen.locator("body").count() == 1
                assert off_device == []
            finally:
                browser.close()
    finally:
        runner.stopping.set()
        loop.join(30)
        view.stop()
        runner.close()
