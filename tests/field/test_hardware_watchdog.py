"""selftest's hardware-watchdog check, on fake /sys/class/watchdog/watchdog0 directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.cli import build_parser
from firmware.cli import selftest as selftest_cmd
from firmware.watchdog import hardware_watchdog_status
from host_sim.camera_sim import SimCamera
from host_sim.rig import write_keys


def fake_sysfs(tmp: Path, **files: str) -> Path:
    sysfs = tmp / "watchdog0"
    sysfs.mkdir()
    for name, text in files.items():
        (sysfs / name).write_text(text + "\n")
    return sysfs


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ({"identity": "bcm2835_wdt", "state": "active", "timeout": "15"}, "PASS", "after 15 s"),
        ({"identity": "bcm2835_wdt", "state": "inactive", "timeout": "15"}, "FAIL", "not armed"),
        ({"identity": "iTCO_wdt", "state": "inactive", "timeout": "30"}, "WARN", "not armed"),
        ({"identity": "bcm2835_wdt", "state": "active", "timeout": "60"}, "WARN", "timeout 60"),
        ({"identity": "bcm2835_wdt"}, "WARN", "state unreadable"),
    ],
    ids=["armed", "pi-unarmed", "other-board-unarmed", "too-long", "unreadable"],
)
def test_the_check_reads_state_and_timeout(tmp_path, files, status, words):
    got, detail, data = hardware_watchdog_status(fake_sysfs(tmp_path, **files))
    assert got == status and words in detail
    assert data["identity"] == files["identity"]


def test_no_watchdog_device_warns(tmp_path):
    status, detail, _ = hardware_watchdog_status(tmp_path / "absent")
    assert status == "WARN" and "no watchdog device" in detail


def test_selftest_fails_on_an_unarmed_pi_watchdog(tmp_path, capsys):
    keys = write_keys(tmp_path / "keys")
    cfg = tmp_path / "gatekiosk.toml"
    cfg.write_text(
        f'[device]\nid = "g-1"\ncommunity = "c-1"\ngate = "g-1"\n'
        f'data_dir = "{tmp_path / "data"}"\n[thermometer]\nbus = "sim"\n[camera]\n'
        f'source = "sim"\n[keys]\nissuers = "{keys["issuers_path"]}"\n'
        f'admins = "{keys["admins_path"]}"\n'
    )
    sysfs = fake_sysfs(tmp_path, identity="bcm2835_wdt", state="inactive", timeout="15")
    args = build_parser(["selftest"]).parse_args(
        ["selftest", "--config", str(cfg), "--samples", "2"]
    )
    probes = selftest_cmd.Probes(clock_synced=lambda: True, service_running=lambda: False,
                                 camera=SimCamera((320, 240)), hardware_watchdog=sysfs)
    assert selftest_cmd.main(args, probes) == 1
    out = capsys.readouterr().out
    [line] = [ln for ln in out.splitlines() if "hw watchdog" in ln]
    assert line.startswith("FAIL") and "RuntimeWatchdogSec=15" in line
    (sysfs / "state").write_text("active\n")
    selftest_cmd.main(args, probes)
    [line] = [ln for ln in capsys.readouterr().out.splitlines() if "hw watchdog" in ln]
    assert line.startswith("PASS")
