"""`gatekiosk selftest` on simulated hardware: every check, its verdict, and the exit code."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess

import pytest
from gpiozero import Device

from firmware import assemble
from firmware.cli import build_parser, selftest
from firmware.clock import SystemClock
from firmware.config import load
from firmware.store.outbox import Outbox
from host_sim.camera_sim import Card, SimCamera


def run_selftest(capsys, *argv, configured_camera=False, **probe_overrides):
    """Run the command with the system probes pinned (no NTP or systemd on a test host).

    Unless `configured_camera`, the camera is a simulated one that is not paced at 15 fps
    (the same frames, sooner): only the tests about the config's own camera wait for it.
    """
    if not configured_camera:
        probe_overrides.setdefault("camera", SimCamera((320, 240)))
    args = build_parser(["selftest"]).parse_args(["selftest", *argv])
    probes = selftest.Probes(
        **{"clock_synced": lambda: True, "service_running": lambda: False, **probe_overrides}
    )
    code = selftest.main(args, probes)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lines_by_name(out):
    """{check name: [status, ...]} from the text checklist."""
    found = {}
    for line in out.splitlines():
        status, _, rest = line.partition("  ")
        if status in ("PASS", "WARN", "FAIL"):
            found.setdefault(rest.split("  ")[0].strip(), []).append(status)
    return found


def test_a_good_site_passes_with_exit_0(site, listening_broker, capsys):
    cfg = site.config(brokers=[listening_broker])
    code, out, err = run_selftest(
        capsys, "--config", str(cfg), "--samples", "4", configured_camera=True
    )
    assert code == 0, out + err
    checks = lines_by_name(out)
    for name in ("config", "issuer keys", "admin keys", "data dir", "stores", "disk space",
                 "clock", "thermometer", "broker", "indicator"):
        assert checks[name] == ["PASS"], (name, out)
    # Where the host has no sound card or no CJK fonts these warn; they never fail here.
    assert checks["screen"] in (["PASS"], ["WARN"]) and checks["voice"] in (["PASS"], ["WARN"])
    assert checks["camera"] == ["WARN"]  # nobody holds a code up to the simulated camera
    assert "no code in view" in out
    assert checks["outbox"] == ["WARN"]  # not created yet: selftest never creates it
    assert not (site.data_dir / "outbox.db").exists()
    assert re.search(r"4/4 reads: ambient 2[12]\.\d\d °C, object 2[12]\.\d\d °C", out)
    assert "nobody in view" in out
    assert "0 failed — ready" in out
    assert "relay not tested" in out and "relay" not in checks
    assert err == ""


def test_json_holds_the_same_checks_as_the_text(site, listening_broker, dead_broker, capsys):
    cfg = site.config(brokers=[listening_broker, dead_broker])
    code_text, out, _ = run_selftest(
        capsys, "--config", str(cfg), "--samples", "3", configured_camera=True
    )
    code_json, js, _ = run_selftest(
        capsys, "--config", str(cfg), "--samples", "3", "--json", configured_camera=True
    )
    document = json.loads(js)
    assert code_text == code_json == document["exit_code"] == 1
    text_checks = [
        (line[:4], line[6:].split("  ")[0].strip())
        for line in out.splitlines()
        if line[:4] in ("PASS", "WARN", "FAIL")
    ]
    assert [(c["status"], c["name"]) for c in document["checks"]] == text_checks
    assert document["failed"] == 1 and document["device_id"] == "gate-0042"
    brokers = [c for c in document["checks"] if c["name"] == "broker"]
    assert [b["address"] for b in brokers] == [listening_broker, dead_broker]
    assert [b["status"] for b in brokers] == ["PASS", "FAIL"]
    thermometer = next(c for c in document["checks"] if c["name"] == "thermometer")
    assert thermometer["good"] == 3 and thermometer["ambient_c"] == pytest.approx(22.0, abs=0.02)


def test_an_unreachable_broker_fails_without_a_session(site, dead_broker, capsys):
    code, out, _ = run_selftest(capsys, "--config", str(site.config(brokers=[dead_broker])))
    assert code == 1
    line = next(line for line in out.splitlines() if "broker" in line and "FAIL" in line)
    assert f"{dead_broker}: Connection refused" in line


def test_a_missing_key_file_fails(site, listening_broker, capsys):
    missing = site.root / "keys" / "nowhere.jwks"
    cfg = site.config(brokers=[listening_broker], admins=missing)
    code, out, _ = run_selftest(capsys, "--config", str(cfg), "--samples", "1")
    assert code == 1
    checks = lines_by_name(out)
    assert checks["admin keys"] == ["FAIL"] and checks["issuer keys"] == ["PASS"]
    assert f"cannot read {missing}" in out
    assert "1 failed — not ready" in out


def test_a_private_key_on_the_gate_fails(site, listening_broker, capsys):
    from firmware import credentials

    private = site.root / "keys" / "private.jwks"
    private.write_text(json.dumps({"keys": [credentials.generate_keypair("iss1")]}))
    cfg = site.config(brokers=[listening_broker], issuers=private)
    code, out, _ = run_selftest(capsys, "--config", str(cfg), "--samples", "1")
    assert code == 1 and lines_by_name(out)["issuer keys"] == ["FAIL"]
    assert "holds private key material (d)" in out


def test_a_data_dir_that_is_a_file_fails(site, listening_broker, capsys):
    not_a_dir = site.root / "data-file"
    not_a_dir.write_text("")
    cfg = site.config(brokers=[listening_broker], data_dir=not_a_dir)
    code, out, _ = run_selftest(capsys, "--config", str(cfg), "--samples", "1")
    assert code == 1 and lines_by_name(out)["data dir"] == ["FAIL"]
    assert "is not a directory" in out


@contextlib.contextmanager
def unwritable(directory):
    """Make `directory` refuse new files, even to root (chattr +i); skip where impossible."""
    directory.chmod(0o555)
    immutable = False
    if os.geteuid() == 0 and shutil.which("chattr"):
        immutable = (
            subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode == 0
        )
    try:
        try:
            (directory / "probe").write_text("")
        except OSError:
            pass
        else:
            (directory / "probe").unlink()
            pytest.skip("cannot make a directory unwritable here (root without chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        directory.chmod(0o755)


def test_an_unwritable_data_dir_fails(site, listening_broker, capsys):
    cfg = site.config(brokers=[listening_broker])
    with unwritable(site.data_dir):
        code, out, _ = run_selftest(capsys, "--config", str(cfg), "--samples", "1")
    assert code == 1 and lines_by_name(out)["data dir"] == ["FAIL"]
    assert "is not writable" in out


def test_an_existing_outbox_is_checked_and_counted(site, listening_broker, capsys):
    cfg_path = site.config(brokers=[listening_broker])
    with Outbox(site.data_dir / "outbox.db", clock=SystemClock()) as outbox:
        outbox.append("event", {"schema": "test", "n": 1})
        outbox.append("alarm", {"schema": "test", "n": 2})
        outbox.mark_published(1)
        outbox.settle_through(outbox.stream, 1)
        stream = outbox.stream
    code, js, _ = run_selftest(capsys, "--config", str(cfg_path), "--samples", "1", "--json")
    check = next(c for c in json.loads(js)["checks"] if c["name"] == "outbox")
    assert code == 0 and check["status"] == "PASS"
    assert (check["depth"], check["unsettled"], check["stream"]) == (2, 1, stream)
    assert "integrity ok, 2 rows, 1 unsettled" in check["detail"]


def test_a_corrupt_outbox_fails(site, listening_broker, capsys):
    (site.data_dir / "outbox.db").write_bytes(b"this is not a database" * 100)
    code, out, _ = run_selftest(
        capsys, "--config", str(site.config(brokers=[listening_broker])), "--samples", "1"
    )
    assert code == 1 and lines_by_name(out)["outbox"] == ["FAIL"]


def test_a_dead_thermometer_fails_with_its_fault_code(site, listening_broker, capsys):
    cfg_path = site.config(brokers=[listening_broker])
    clock = SystemClock()
    bus = assemble.open_thermometer_bus(load(cfg_path), clock)
    bus.disconnect()
    code, out, _ = run_selftest(
        capsys, "--config", str(cfg_path), "--samples", "2", thermometer_bus=bus
    )
    assert code == 1
    line = next(line for line in out.splitlines() if line[6:].startswith("thermometer"))
    assert line.startswith("FAIL") and "no reading in 2 tries: no_device" in line


def test_a_cold_room_warns(site, listening_broker, capsys):
    cfg_path = site.config(brokers=[listening_broker])
    bus = assemble.open_thermometer_bus(load(cfg_path), SystemClock())
    bus.scene.set_ambient(9.5)
    code, out, _ = run_selftest(
        capsys, "--config", str(cfg_path), "--samples", "2", thermometer_bus=bus
    )
    assert code == 0 and lines_by_name(out)["thermometer"] == ["WARN"]
    assert "outside 16–32 °C" in out


def test_a_code_in_view_is_read_but_never_shown(site, listening_broker, capsys):
    cfg_path = site.config(brokers=[listening_broker])
    camera = SimCamera((320, 240), clock=SystemClock())
    camera.show(Card("SECRET-PASS-ID-0001", distance_mm=100.0))
    code, out, _ = run_selftest(
        capsys, "--config", str(cfg_path), "--samples", "1", camera=camera
    )
    assert code == 0 and lines_by_name(out)["camera"] == ["PASS"]
    assert "read a code (19 bytes)" in out and "SECRET" not in out


def test_a_camera_that_will_not_start_fails(site, listening_broker, capsys):
    camera = SimCamera((320, 240))
    camera.fail_starts(10)
    code, out, _ = run_selftest(
        capsys,
        "--config", str(site.config(brokers=[listening_broker])),
        "--samples", "1",
        camera=camera,
    )
    assert code == 1
    assert "FAIL  camera        camera start failed: simulated camera: no camera detected" in out


def test_door_pulses_the_relay_once_for_a_second_and_leaves_it_off(
    site, listening_broker, capsys
):
    cfg = site.config(brokers=[listening_broker])
    code, out, _ = run_selftest(capsys, "--config", str(cfg), "--samples", "1", "--door")
    assert code == 0, out
    assert lines_by_name(out)["relay"] == ["PASS"]
    relay_pin = Device.pin_factory.pin(17)
    levels = [state.state for state in relay_pin.states]
    assert levels[0] is False and levels[-1] is False
    assert levels.count(True) == 1  # one pulse
    on_at = relay_pin.states[levels.index(True)].timestamp
    off_at = relay_pin.states[levels.index(True) + 1].timestamp
    assert 0.9 <= off_at - on_at <= 1.6
    assert relay_pin.state is False


def test_without_door_the_relay_pin_is_never_touched(site, listening_broker, capsys):
    run_selftest(capsys, "--config", str(site.config(brokers=[listening_broker])),
                 "--samples", "1")
    assert 17 not in Device.pin_factory.pins
    # The indicator was claimed, shown idle (all off) and released.
    for gpio in (23, 24, 25):
        assert Device.pin_factory.pin(gpio).state is False


def test_a_running_service_is_pointed_out(site, listening_broker, capsys):
    code, out, _ = run_selftest(
        capsys,
        "--config", str(site.config(brokers=[listening_broker])),
        "--samples", "1",
        service_running=lambda: True,
    )
    assert code == 0 and lines_by_name(out)["service"] == ["WARN"]
    assert "sudo systemctl stop gatekiosk" in out


def test_an_unsynchronised_clock_warns(site, listening_broker, capsys):
    code, out, _ = run_selftest(
        capsys,
        "--config", str(site.config(brokers=[listening_broker])),
        "--samples", "1",
        clock_synced=lambda: False,
    )
    assert code == 0 and lines_by_name(out)["clock"] == ["WARN"]


def test_an_invalid_config_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[device]\ngate = "North/1"\n')
    code, out, err = run_selftest(capsys, "--config", str(bad))
    assert code == 2
    assert out.startswith("FAIL  config        device.gate must match")
    assert len(out.splitlines()) == 1 and err.count("\n") == 1
    code, js, _ = run_selftest(capsys, "--config", str(bad), "--json")
    document = json.loads(js)
    assert code == 2 and document["exit_code"] == 2
    assert [c["status"] for c in document["checks"]] == ["FAIL"]


def test_through_the_cli_missing_config_and_bad_samples_exit_2(tmp_path, gatekiosk):
    code, out, _err = gatekiosk("selftest", "--config", str(tmp_path / "none.toml"))
    assert code == 2 and "none.toml: no such file" in out
    code, _out, err = gatekiosk("selftest", "--config", "x.toml", "--samples", "0")
    assert code == 2 and "not a whole number in 1..100" in err and err.count("\n") == 1


def test_a_bug_in_one_check_is_a_fail_line_not_a_traceback(
    site, listening_broker, capsys, monkeypatch
):
    def broken(cfg):
        raise RuntimeError("boom\nwith a second line")

    monkeypatch.setattr(selftest, "check_disk_space", broken)
    code, out, err = run_selftest(
        capsys, "--config", str(site.config(brokers=[listening_broker])), "--samples", "1"
    )
    assert code == 1
    assert "FAIL  disk space    check failed unexpectedly: boom with a second line" in out
    assert "Traceback" not in out + err
    assert lines_by_name(out)["indicator"] == ["PASS"]  # the list still completes


def test_an_interrupted_pulse_still_drops_the_relay(site, listening_broker, monkeypatch):
    cfg = load(site.config(brokers=[listening_broker]))

    def interrupt(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(selftest.time, "sleep", interrupt)
    with pytest.raises(KeyboardInterrupt):
        selftest.check_relay(cfg)
    relay_pin = Device.pin_factory.pin(17)
    assert True in [state.state for state in relay_pin.states]  # it was pulsed ...
    assert relay_pin.state is False  # ... and is off again


def test_a_relay_line_held_by_another_process_fails_the_check(site, listening_broker):
    from gpiozero import OutputDevice

    cfg = load(site.config(brokers=[listening_broker]))
    holder = OutputDevice(17, initial_value=False)  # the running kiosk, say
    try:
        check = selftest.check_relay(cfg)
    finally:
        holder.close()
    assert check.status == "FAIL" and check.detail.startswith("GPIO17: ")
    assert True not in [state.state for state in Device.pin_factory.pin(17).states]
