"""The kiosk screen in a real headless Chromium (Debian's), fed by the real gate.

One browser for the module. People go through a simulated gate (`host_sim.visitors`: the real
`Gate` on the simulated rig); its real `Indicator` publishes to a real `ScreenServer`, whose
page the browser shows. The network is cut: every request off the device is aborted and
recorded, and the page's CSP forbids other origins anyway. Screenshots of each outcome go to
tests/artifacts/screen/.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from firmware.core import prompts, reasons
from firmware.hw.indicator import DisplayState
from firmware.screen.server import ScreenServer
from firmware.screen.settings import ScreenSettings
from host_sim.screen_browser import (
    TOFU_PROBE,
    Requests,
    chromium_path,
    render_of,
    screen_lines,
    wait_until,
)
from host_sim.visitors import VisitorGate

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "screen"
# "Within 100 ms", asserted loosely on a shared 2-core host; `make bench` reports the figures.
LATENCY_LIMIT_S = 0.25
VIEWPORT = {"width": 1024, "height": 600}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    gate = VisitorGate(tmp_path_factory.mktemp("gate"))
    yield gate
    gate.close()


@pytest.fixture(scope="module")
def published(gate):
    """Wall-clock time at which each display state was published, by seq."""
    times: dict[int, float] = {}
    gate.indicator.add_listener(lambda state: times.setdefault(state.seq, time.time()))
    return times


@pytest.fixture(scope="module")
def server(gate, published):
    server = ScreenServer(ScreenSettings(port=0, heartbeat_s=0.3)).start()
    gate.indicator.add_listener(server.publish)
    yield server
    gate.indicator.remove_listener(server.publish)
    server.stop()


def open_page(browser, server):
    context = browser.new_context(viewport=VIEWPORT)
    requests = Requests(server.url.rstrip("/"))
    context.route("**/*", requests.route)
    page = context.new_page()
    page.goto(server.url)
    wait_until(page, "window.gateScreen && window.gateScreen.online")
    page.evaluate("document.fonts.ready.then(() => true)")
    return context, page, requests


@pytest.fixture(scope="module")
def screen(browser, server):
    context, page, requests = open_page(browser, server)
    yield page, requests
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def expect_texts(page, text: dict[str, str], next_step: dict[str, str]) -> None:
    """The prompt and the next step in every language, the primary (zh) first and largest."""
    for section, texts in (("prompt", text), ("next", next_step)):
        lines = screen_lines(page, section)
        assert [lang for lang, _cls, _text in lines] == ["zh", "en", "ko"], (section, lines)
        assert [t for _lang, _cls, t in lines] == [texts[lang] for lang in ("zh", "en", "ko")]
        assert "primary" in lines[0][1] and all("secondary" in c for _l, c, _t in lines[1:])
    sizes = page.evaluate(
        "Array.from(document.querySelectorAll('#prompt p'))"
        ".map((p) => parseFloat(getComputedStyle(p).fontSize))"
    )
    assert sizes[0] > 1.5 * max(sizes[1:]) and sizes[0] >= 0.08 * VIEWPORT["height"], sizes


def test_the_page_loads_with_the_network_cut_and_shows_the_idle_prompt(screen, gate):
    page, requests = screen
    assert page.evaluate("document.body.dataset.outcome") == "idle"
    expect_texts(page, prompts.for_step(prompts.IDLE), prompts.next_for_step(prompts.IDLE))
    assert requests.blocked == []
    assert {url.rsplit("/", 1)[1] for url in requests.seen} == {"", "style.css", "app.js", "events"}
    assert page.evaluate("document.getElementById('clock').textContent").count(":") == 1
    shot(page, "idle")


def test_the_page_may_not_reach_any_other_origin(screen):
    page, _ = screen
    outcome = page.evaluate(
        "fetch('https://cdn.example.com/font.woff2').then(() => 'fetched', (e) => 'refused')"
    )
    assert outcome == "refused"
    violated = page.evaluate(
        """new Promise((resolve) => {
             document.addEventListener('securitypolicyviolation',
                                       (e) => resolve(e.violatedDirective), {once: true});
             const img = new Image(); img.src = 'https://cdn.example.com/x.png';
             document.body.appendChild(img); img.remove();
           })"""
    )
    assert violated == "img-src"


@pytest.mark.parametrize(
    ("name", "visit", "outcome"),
    [
        ("granted", {"body_c": 36.6}, "granted"),
        ("denied", {"status": "revoked"}, "denied"),
        ("fever", {"body_c": 38.4}, "fever"),
    ],
)
def test_each_outcome_reaches_the_screen_within_100_ms(
    screen, gate, published, name, visit, outcome
):
    page, requests = screen
    assert gate.visit(**visit) == outcome
    state = gate.indicator.state
    render = render_of(page, state.seq)
    latency = render["at"] / 1000.0 - published[state.seq]
    assert render["outcome"] == outcome
    assert -0.005 < latency < LATENCY_LIMIT_S, latency
    assert page.evaluate("document.body.dataset.outcome") == outcome
    assert page.evaluate("document.getElementById('symbol').getAttribute('href')") == (
        f"#sym-{outcome}"
    )
    expect_texts(page, state.text, state.next_step)
    body = page.evaluate("document.body.innerText")
    if state.body_c is not None:
        assert f"{state.body_c:.1f} °C" in body
    assert "3-2-501" in body  # the unit, at most; never the pass id
    assert "p-0" not in body
    shot(page, outcome)
    gate.settle()
    wait_until(page, "document.body.dataset.outcome === 'idle'")
    assert requests.blocked == []


def test_outcomes_differ_by_colour_and_by_symbol(screen, gate):
    page, _ = screen
    seen = {}
    for outcome in ("idle", "measuring", "granted", "denied", "fever", "fault"):
        gate.indicator.show(outcome)
        render_of(page, gate.indicator.state.seq)
        seen[outcome] = page.evaluate(
            "[getComputedStyle(document.body).backgroundColor,"
            " document.getElementById('symbol').getAttribute('href')]"
        )
    colours = [colour for colour, _symbol in seen.values()]
    symbols = [symbol for _colour, symbol in seen.values()]
    assert len(set(colours)) == len(colours), seen
    assert len(set(symbols)) == len(symbols), seen
    gate.indicator.show("idle", prompts.for_step(prompts.IDLE))


def test_every_reason_is_shown_in_three_languages_without_tofu(screen, gate):
    page, _ = screen
    assert page.evaluate(TOFU_PROBE, ["\U0010fffd"]) == ["\U0010fffd"]  # the probe sees tofu
    faces = page.evaluate(
        "Array.from(document.fonts).filter((f) => f.family.includes('Gate CJK'))"
        ".map((f) => f.status)"
    )
    assert faces and set(faces) == {"loaded"}, faces
    chars: set[str] = set()
    for reason in reasons.ALL:
        gate.indicator.show("denied", prompts.for_reason(reason))
        state = gate.indicator.state
        # Reasons that read alike share a key (bad_signature reads as unsupported_algorithm).
        assert prompts.texts_for_key(state.key) == prompts.for_reason(reason)
        render_of(page, state.seq)
        expect_texts(page, prompts.for_reason(reason), prompts.next_for_reason(reason))
        chars |= set(page.evaluate("document.querySelector('main').innerText"))
    wide = sorted(ch for ch in chars if ord(ch) > 0x2E80)
    assert len(wide) > 100
    assert page.evaluate(TOFU_PROBE, wide) == []
    gate.indicator.show("idle", prompts.for_step(prompts.IDLE))


@pytest.mark.parametrize("size", [(800, 480), (1080, 1920), (1920, 1080)])
def test_every_prompt_fits_the_official_displays_in_landscape_and_portrait(screen, gate, size):
    page, _ = screen
    page.set_viewport_size({"width": size[0], "height": size[1]})
    try:
        for reason in reasons.ALL:
            gate.indicator.show(
                "denied",
                prompts.for_reason(reason),
                body_c=36.6,
                pass_type="visitor",
                unit="12-3-1501",
            )
            render_of(page, gate.indicator.state.seq)
            fit = page.evaluate(
                "(() => { const m = document.querySelector('main');"
                " return [m.scrollWidth <= innerWidth, m.scrollHeight <= innerHeight]; })()"
            )
            assert fit == [True, True], (reason, size)
    finally:
        page.set_viewport_size(VIEWPORT)
        gate.indicator.show("idle", prompts.for_step(prompts.IDLE))


def test_the_cjk_font_is_served_by_the_device(screen):
    page, _ = screen
    status = page.evaluate(
        "new FontFace('Served CJK', 'url(/fonts/NotoSansCJK-Bold.ttc)').load()"
        ".then((f) => f.status, (e) => String(e))"
    )
    assert status == "loaded"


def test_the_gate_in_fault_shows_out_of_service_texts(screen, gate):
    page, _ = screen
    gate.rig.inbox.sensor_fault("i2c_error", "remote I/O")
    gate.rig.gate.process_pending()
    render_of(page, gate.indicator.state.seq)
    assert page.evaluate("document.body.dataset.outcome") == "fault"
    expect_texts(page, prompts.for_step(prompts.FAULT), prompts.next_for_step(prompts.FAULT))
    shot(page, "fault")
    gate.rig.inbox.sensor_recovered()
    gate.rig.gate.process_pending()
    wait_until(page, "document.body.dataset.outcome === 'idle'")


def step_state(step: str) -> DisplayState:
    """A display state for a step, as a freshly started firmware's first one."""
    texts, next_step = prompts.for_step(step), prompts.next_for_step(step)
    return DisplayState(1, step, f"step.{step}", texts, next_step, None, None, None, time.time())


def test_out_of_service_appears_when_the_firmware_stops_and_goes_when_it_is_back(browser):
    settings = ScreenSettings(port=0, heartbeat_s=0.3)
    first = ScreenServer(settings).start()
    first.publish(step_state("idle"))
    context, page, requests = open_page(browser, first)
    port = first.port
    try:
        assert page.evaluate("document.body.dataset.outcome") == "idle"
        stopped = time.monotonic()
        first.stop()
        wait_until(page, "document.body.dataset.outcome === 'out_of_service'", timeout=3.0)
        assert time.monotonic() - stopped < 3 * 0.3 + 1.0
        expect_texts(
            page,
            prompts.for_step(prompts.OUT_OF_SERVICE),
            prompts.next_for_step(prompts.OUT_OF_SERVICE),
        )
        shot(page, "out_of_service")
        second = ScreenServer(ScreenSettings(port=port, heartbeat_s=0.3)).start()
        try:
            second.publish(step_state("granted"))
            wait_until(page, "document.body.dataset.outcome === 'granted'", timeout=5.0)
        finally:
            second.stop()
    finally:
        context.close()
    assert requests.blocked == []
