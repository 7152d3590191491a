"""The screen server without a browser: what it serves, what it refuses, and that it never
holds up the gate; the `[screen]` settings' one-line refusals."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from gpiozero.pins.mock import MockFactory

from firmware import config
from firmware.core import prompts
from firmware.hw.indicator import Indicator
from firmware.hw.pins import PinMap
from firmware.screen.face import open_face
from firmware.screen.server import CSP, ScreenServer
from firmware.screen.settings import ScreenSettings
from firmware.voice.settings import VoiceSettings


@pytest.fixture
def indicator():
    indicator = Indicator(PinMap(), pin_factory=MockFactory())
    yield indicator
    indicator.close()


@pytest.fixture
def server(indicator):
    with ScreenServer(ScreenSettings(port=0, heartbeat_s=0.2)) as server:
        indicator.add_listener(server.publish)
        yield server


def get(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def test_every_response_forbids_other_origins(server):
    for path in ("/", "/app.js", "/style.css", "/state", "/nothing"):
        response, _ = get(server, path)
        assert response.getheader("Content-Security-Policy") == CSP, path
    assert "default-src 'none'" in CSP and "http" not in CSP


def test_the_page_carries_its_languages_and_out_of_service_texts(server):
    response, body = get(server, "/")
    assert response.status == 200
    page = body.decode()
    start = page.index('id="config">') + len('id="config">')
    cfg = json.loads(page[start : page.index("</script>", start)])
    assert cfg["languages"] == ["zh", "en", "ko"]
    assert cfg["out_of_service"]["text"] == prompts.for_step(prompts.OUT_OF_SERVICE)
    assert "https://" not in page and "http://" not in page


def test_only_the_cjk_fonts_are_served_from_the_font_folder(server):
    response, body = get(server, "/fonts/NotoSansCJK-Bold.ttc")
    assert response.status == 200 and response.getheader("Content-Type") == "font/collection"
    assert body[:4] == b"ttcf"
    for path in (
        "/fonts/../../../etc/passwd",
        "/fonts/%2e%2e/passwd",
        "/fonts/NotoSerifCJK-Bold.ttc",
    ):
        assert get(server, path)[0].status == 404, path


def test_the_stream_sends_the_current_state_then_heartbeats(server, indicator):
    indicator.show("granted", prompts.for_step(prompts.GRANTED), body_c=36.64, pass_type="staff")
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    conn.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    received = b""
    deadline = time.monotonic() + 3
    while received.count(b"event: beat") < 2 and time.monotonic() < deadline:
        received += conn.recv(65536)
    conn.close()
    head, _, stream = received.partition(b"\r\n\r\n")
    assert b"Content-Type: text/event-stream" in head
    first = stream.split(b"\n\n")[1].decode()
    data = json.loads(first.split("data: ", 1)[1])
    assert data["outcome"] == "granted" and data["body_c"] == 36.6 and data["pass_type"] == "staff"
    assert data["next_step"] == prompts.next_for_step(prompts.GRANTED)
    assert stream.count(b"event: beat") >= 2


def test_a_client_that_never_reads_does_not_hold_up_the_gate(server, indicator):
    stuck = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
    for conn in stuck:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        conn.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    worst = 0.0
    for i in range(300):
        started = time.perf_counter()
        indicator.show("denied", {"zh": "禁止通行" * 50, "en": f"Entry denied {i}" * 50})
        worst = max(worst, time.perf_counter() - started)
    for conn in stuck:
        conn.close()
    assert worst < 0.05, worst


def test_personal_detail_never_reaches_the_display_state(indicator):
    indicator.show("granted", None, body_c=True, pass_type="Zhang Wei", unit="Zhang Wei's flat")
    state = indicator.state
    assert (state.body_c, state.pass_type, state.unit) == (None, None, None)
    indicator.show("granted", None, body_c=36.66, pass_type="visitor", unit="3-2-501")
    assert (indicator.state.body_c, indicator.state.pass_type, indicator.state.unit) == (
        36.7,
        "visitor",
        "3-2-501",
    )


def test_a_port_in_use_leaves_the_gate_running_without_a_screen(indicator, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = ScreenSettings(port=port)
        with open_face(indicator, settings, VoiceSettings(enabled=False)) as (screen, voice):
            assert screen is None and voice is None
            indicator.show("granted")
    assert f"screen not started: 127.0.0.1:{port}" in caplog.text


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[screen]\nport = 80", "screen.port: 80 is outside 1024..65535"),
        ("[screen]\nboot_port = 70000", "screen.boot_port: 70000 is outside 1024..65535"),
        ("[screen]\nport = 9000\nboot_port = 9000", "screen.boot_port: 9000 is screen.port too"),
        ("[screen]\nbind = '0.0.0.0'", "screen.bind: 0.0.0.0 is not a loopback address"),
        ("[screen]\nbind = 'kiosk'", "screen.bind: 'kiosk' is not an IP address"),
        ("[screen]\nprimary_language = 'fr'", "screen.primary_language: must be one of zh"),
        ("[screen]\nheartbeat_s = 0", "screen.heartbeat_s: 0.0 is outside 0.2..30.0"),
        ("[screen]\ncolour = 'red'", "screen.colour: unknown key"),
        ("[voice]\nlanguages = ['fr']", "voice.languages[0]: must be one of zh, en, ko"),
        ("[voice]\nlanguages = []", "voice.languages: name at least one"),
        ("[voice]\nlanguages = ['en', 'en']", "voice.languages: a language is named twice"),
        ("[voice]\nvolume = 1.5", "voice.volume: 1.5 is outside 0.0..1.0"),
        ("[voice]\nquiet_hours = '22-7'", "voice.quiet_hours: '22-7' is not HH:MM-HH:MM"),
        ("[voice]\ndevice = 'hw:0; rm -rf /'", "voice.device: 'hw:0; rm -rf /' is not an ALSA"),
        ("[voice]\nloud = true", "voice.loud: unknown key"),
    ],
)
def test_bad_screen_and_voice_settings_are_refused_with_one_line_naming_the_key(toml, message):
    with pytest.raises(config.ConfigError) as refused:
        config.parse(toml)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_a_remote_screen_must_be_asked_for_and_the_primary_language_comes_first():
    cfg = config.parse("[screen]\nbind = '0.0.0.0'\nallow_remote = true\nprimary_language = 'ko'")
    assert cfg.screen.bind == "0.0.0.0" and cfg.screen.languages() == ["ko", "zh", "en"]


def test_the_face_subscribes_screen_and_voice_and_unsubscribes_on_leaving(indicator, tmp_path):
    voice = VoiceSettings(audio_dir=str(tmp_path), player="/nonexistent/aplay")
    with open_face(indicator, ScreenSettings(port=0), voice) as (screen, player):
        assert screen is not None and player is not None
        indicator.show("fever", prompts.for_reason("fever"), body_c=38.2)
        _response, body = get(screen, "/state")
        assert json.loads(body)["outcome"] == "fever"
        assert player.clips_for(indicator.state)[:2] == ["earcon.fever.wav", "reason.fever.zh.wav"]
    assert indicator._listeners == []
