"""`gatekiosk selftest`'s screen and voice lines: what the person at the gate will see and hear."""

from __future__ import annotations

import socket

import pytest

from firmware.cli.checks import FAIL, PASS, WARN
from firmware.cli.checks.face import check_screen, check_voice
from firmware.config import load
from firmware.screen.server import ScreenServer

CARD_LIST = """**** List of PLAYBACK Hardware Devices ****
card 0: Headphones [bcm2835 Headphones], device 0: bcm2835 Headphones [bcm2835 Headphones]
  Subdevices: 8/8
"""
PCM_LIST = """null
    Discard all samples (playback) or generate zero samples (capture)
default
    Default Audio Device
hw:CARD=Headphones,DEV=0
    bcm2835 Headphones, bcm2835 Headphones
"""


def alsa(cards: str = CARD_LIST, pcms: str = PCM_LIST):
    """What `aplay -l` and `aplay -L` print on a machine with these cards and PCMs."""
    return lambda argv: (0, cards if argv[1] == "-l" else pcms)


def with_key(site, section: str, line: str):
    """The site's config with `line` added to its `[section]`."""
    text = site.config().read_text().replace(f"[{section}]\n", f"[{section}]\n{line}\n")
    path = site.root / "edited.toml"
    path.write_text(text)
    return load(path)


def test_complete_clips_and_a_sound_card_pass(site):
    check = check_voice(load(site.config()), alsa())
    assert (check.status, check.data["clips_missing"]) == (PASS, 0), check


def test_no_sound_card_warns_that_the_kiosk_is_silent(site):
    check = check_voice(load(site.config()), alsa(cards="aplay: no soundcards found...\n"))
    assert check.status == WARN and "silent" in check.detail, check


def test_missing_clips_fail_and_name_the_build_command(site, tmp_path):
    site.voice_dir = tmp_path / "empty"
    check = check_voice(load(site.config()), alsa())
    assert check.status == FAIL, check
    assert "gatekiosk voice build" in check.detail and check.data["clips_missing"] > 0


def test_an_alsa_device_that_does_not_exist_fails_naming_it(site):
    cfg = load(site.config(extra='device = "hw:CARD=Speaker,DEV=0"'))
    check = check_voice(cfg, alsa())
    assert check.status == FAIL and "hw:CARD=Speaker,DEV=0" in check.detail, check
    listed = load(site.config(extra='device = "hw:CARD=Headphones,DEV=0"'))
    assert check_voice(listed, alsa()).status == PASS


def test_a_player_that_is_not_installed_fails(site):
    check = check_voice(load(site.config(extra='player = "no-such-player"')), alsa())
    assert check.status == FAIL and "no-such-player" in check.detail, check


def test_a_free_screen_port_passes(site):
    check = check_screen(load(site.config()))
    assert check.status in (PASS, WARN), check  # WARN only where fonts-noto-cjk is missing
    assert "free for the page" in check.detail


def test_missing_fonts_warn(site, tmp_path):
    check = check_screen(with_key(site, "screen", f'font_dir = "{tmp_path}"'))
    assert check.status == WARN and "fonts-noto-cjk" in check.detail, check


def test_the_running_kiosks_page_on_the_port_passes(site):
    cfg = load(site.config())
    with ScreenServer(cfg.screen):
        check = check_screen(cfg)
    assert "served by the running kiosk" in check.detail, check
    assert check.status != FAIL


def test_another_program_on_the_screen_port_fails(site):
    cfg = load(site.config())
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        squatter.bind(("127.0.0.1", site.screen_port))
        squatter.listen(1)
        check = check_screen(cfg)
    finally:
        squatter.close()
    assert check.status == FAIL and "another program" in check.detail, check


@pytest.mark.parametrize("section", ["screen", "voice"])
def test_switched_off_is_a_pass_that_says_so(site, section):
    cfg = with_key(site, section, "enabled = false")
    check = check_screen(cfg) if section == "screen" else check_voice(cfg, alsa())
    assert (check.status, check.detail) == (PASS, f"off ({section}.enabled = false)")
