"""`boot_site`: the boot page built and served as on the kiosk, pointed at a screen port that
nobody serves yet."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmware.screen import boot_page
from firmware.screen.settings import NOTO_CJK_DIR, ScreenSettings
from host_sim.broker import free_port
from host_sim.screen_browser import start_boot_server


@dataclass
class BootSite:
    url: str  # the boot page
    screen_url: str  # the firmware's page
    screen_port: int
    process: subprocess.Popen[str]


@pytest.fixture
def boot_site(tmp_path: Path) -> Iterator[BootSite]:
    screen_port = free_port()
    screen_url = f"http://127.0.0.1:{screen_port}/"
    site = tmp_path / "screen-boot"
    boot_page.write(site, boot_page.render(ScreenSettings(), screen_url))
    process, url = start_boot_server(site, screen_url, NOTO_CJK_DIR)
    yield BootSite(url, screen_url, screen_port, process)
    process.terminate()
    process.wait(timeout=5)
