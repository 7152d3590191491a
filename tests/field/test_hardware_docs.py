"""The wiring diagram and the README's pinout say what the firmware's default pin map says."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import fields
from pathlib import Path

import pytest

from firmware.hw.pins import PinMap

HARDWARE = Path(__file__).resolve().parents[2] / "hardware"
SVG = "{http://www.w3.org/2000/svg}"
PIN_FIELDS = [f.name for f in fields(PinMap) if isinstance(getattr(PinMap(), f.name), int)
              and not isinstance(getattr(PinMap(), f.name), bool)]
# BCM GPIO -> J8 header pin, for the pins the default map uses.
HEADER = {2: 3, 3: 5, 17: 11, 22: 15, 23: 16, 24: 18, 25: 22, 27: 13}


def svg_labels() -> dict[str, str]:
    root = ET.parse(HARDWARE / "wiring.svg").getroot()
    return {el.get("id", "")[4:]: "".join(el.itertext())
            for el in root.iter(f"{SVG}text") if el.get("id", "").startswith("pin-")}


def readme_pinout() -> dict[str, tuple[int, int]]:
    """{signal: (BCM, header pin)} from the README's pinout table."""
    rows = {}
    for line in (HARDWARE / "README.md").read_text().splitlines():
        m = re.match(r"\| ([^|]+?) \| GPIO(\d+) \| (\d+) \|", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return rows


def test_every_pin_of_the_default_map_is_in_the_diagram_with_its_gpio_and_header_pin():
    labels = svg_labels()
    pins = PinMap()
    assert PIN_FIELDS and set(PIN_FIELDS) <= set(labels)
    for name in PIN_FIELDS:
        gpio = getattr(pins, name)
        assert labels[name].startswith(f"GPIO{gpio} (pin {HEADER[gpio]})"), (name, labels[name])
    assert labels["i2c-sda"].startswith("GPIO2 (pin 3)")
    assert labels["i2c-scl"].startswith("GPIO3 (pin 5)")


def test_the_readme_pinout_matches_the_default_map():
    table = readme_pinout()
    pins = PinMap()
    by_signal = {
        "door relay": pins.relay, "door contact": pins.door_contact,
        "exit button": pins.exit_button, "green LED": pins.led_green,
        "red LED": pins.led_red, "buzzer": pins.buzzer,
    }
    for signal, gpio in by_signal.items():
        assert table[signal] == (gpio, HEADER[gpio]), signal


def test_the_diagram_names_the_safety_parts():
    text = " ".join(svg_labels().values()) + (HARDWARE / "wiring.svg").read_text()
    for part in ("1N4007", "opto-isolated", "10 kΩ", "1.8 kΩ", "fail-secure", "Fire egress",
                 "dtoverlay=i2c-rtc,ds3231", "CSI", "DSI", "speaker"):
        assert part in text, part


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="librsvg2-bin not installed")
def test_the_diagram_renders(tmp_path):
    out = tmp_path / "wiring.png"
    done = subprocess.run(["rsvg-convert", "-o", str(out), str(HARDWARE / "wiring.svg")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
