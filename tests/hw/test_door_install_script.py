"""hardware/install.sh and hardware/gatekiosk.service, checked without touching this machine.

The script runs with bash against stand-ins for every command that changes a system (apt-get,
useradd, usermod, chgrp, systemctl, venv and pip), which record their calls in a log and keep
a little fake state, and with every path it writes moved into a temporary directory.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from firmware.hw.pins import PinMap

REPO = Path(__file__).resolve().parents[2]
HARDWARE = REPO / "hardware"
INSTALL = HARDWARE / "install.sh"

STUB = textwrap.dedent(
    r"""
    #!/usr/bin/env bash
    # Stand-in for a system command: log the call, keep fake state in $STUB_STATE.
    set -u
    name=$(basename "$0")
    printf '%s %s\n' "$name" "$*" >>"$STUB_STATE/calls"
    state=$STUB_STATE
    case $name in
        dpkg-query)
            grep -qx -- "${!#}" "$state/packages" 2>/dev/null || exit 1
            printf 'install ok installed' ;;
        apt-get)
            [ "$1" = install ] || exit 0
            for arg in "${@:2}"; do
                case $arg in -*) ;; *) echo "$arg" >>"$state/packages" ;; esac
            done ;;
        id)
            case "$*" in
                -u) echo 0 ;;
                "-u "*) grep -qx -- "$2" "$state/users" 2>/dev/null || exit 1; echo 999 ;;
                "-nG gatekiosk") echo "gatekiosk $(tr '\n' ' ' <"$state/groups" 2>/dev/null)" ;;
                *) exit 1 ;;
            esac ;;
        getent)
            case $2 in gpio | i2c | video | audio) echo "$2:x:900:" ;; *) exit 2 ;; esac ;;
        useradd) echo "${!#}" >>"$state/users" ;;
        usermod) echo "$3" >>"$state/groups" ;;
        systemctl)
            case $1 in
                is-enabled) [ -f "$state/enabled.${!#}" ] ;;
                enable) touch "$state/enabled.$2" ;;
            esac ;;
        chgrp) ;;
        python3 | python)
            if [ "$1" = -m ] && [ "$2" = venv ]; then
                venv=${!#}
                mkdir -p "$venv/bin"
                printf 'include-system-site-packages = true\n' >"$venv/pyvenv.cfg"
                ln -sf "$STUB_DIR/pip" "$venv/bin/pip"
                ln -sf "$STUB_DIR/python3" "$venv/bin/python"
                exit 0
            fi
            # The voice build is real only where a test asks for it (it takes seconds).
            if [ "$name ${1:-} ${2:-} ${3:-}" = "python -m firmware.cli voice" ] \
                && [ ! -f "$state/real-voice" ]; then
                exit 0
            fi
            exec "$REAL_PYTHON" "$@" ;;
        pip) ;;
    esac
    """
).lstrip()

STUBBED = (
    "dpkg-query",
    "apt-get",
    "id",
    "getent",
    "useradd",
    "usermod",
    "systemctl",
    "chgrp",
    "python3",
    "pip",
)
READ_ONLY_CALLS = ("dpkg-query ", "id ", "getent ", "systemctl is-enabled ", "python3 - ")

BOOKWORM_CONFIG_TXT = textwrap.dedent(
    """
    # For more options and information see http://rptl.io/configtxt
    #dtparam=i2c_arm=on
    dtparam=audio=on
    camera_auto_detect=1
    [cm4]
    otg_mode=1
    """
).lstrip()


class Machine:
    """A temporary stand-in for the Pi: fake command state and moved system paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stubs = root / "stubs"
        self.state = root / "state"
        self.stubs.mkdir()
        self.state.mkdir()
        for name in STUBBED:
            path = self.stubs / name
            path.write_text(STUB)
            path.chmod(0o755)
        self.boot_config = root / "boot" / "config.txt"
        self.boot_config.parent.mkdir()
        self.boot_config.write_text(BOOKWORM_CONFIG_TXT)
        self.os_release = root / "os-release"
        self.os_release.write_text(
            'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n'
        )
        (self.state / "packages").write_text("python3-venv\nlibzbar0\n")
        self.app_dir = root / "opt" / "gatekiosk"
        self.etc_dir = root / "etc" / "gatekiosk"
        self.unit_dir = root / "systemd"
        self.unit_dir.mkdir()
        self.system_conf_dir = root / "system.conf.d"

    def install(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{self.stubs}:{os.environ['PATH']}",
            "HOME": str(self.root),
            "STUB_STATE": str(self.state),
            "STUB_DIR": str(self.stubs),
            "REAL_PYTHON": sys.executable,
            "GATEKIOSK_APP_DIR": str(self.app_dir),
            "GATEKIOSK_ETC_DIR": str(self.etc_dir),
            "GATEKIOSK_UNIT_DIR": str(self.unit_dir),
            "GATEKIOSK_SYSTEM_CONF_DIR": str(self.system_conf_dir),
            "GATEKIOSK_BOOT_CONFIG": str(self.boot_config),
            "GATEKIOSK_OS_RELEASE": str(self.os_release),
        }
        return subprocess.run(
            ["bash", str(INSTALL), *args], env=env, capture_output=True, text=True, timeout=60
        )

    def calls(self) -> list[str]:
        path = self.state / "calls"
        lines = path.read_text().splitlines() if path.exists() else []
        path.write_text("")
        return lines

    def snapshot(self) -> dict[str, bytes]:
        """Every file under the machine's moved system paths, except the stub log."""
        files = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path.name != "calls":
                files[str(path.relative_to(self.root))] = path.read_bytes()
        return files


@pytest.fixture
def machine(tmp_path):
    return Machine(tmp_path)


def changing_calls(calls: list[str]) -> list[str]:
    return [c for c in calls if not c.startswith(READ_ONLY_CALLS)]


def test_dry_run_prints_every_step_and_changes_nothing(machine):
    before = machine.snapshot()
    result = machine.install("--dry-run")
    assert result.returncode == 0, result.stderr
    assert changing_calls(machine.calls()) == []
    assert machine.snapshot() == before
    assert not machine.app_dir.exists() and not machine.etc_dir.exists()
    out = result.stdout
    for expected in (
        "dry run: nothing will be changed",
        "would run: apt-get update",
        "apt-get install -y --no-install-recommends python3-picamera2 python3-lgpio i2c-tools",
        "would run: useradd --system --user-group",
        "would run: usermod -a -G gpio gatekiosk",
        "would run: usermod -a -G video gatekiosk",
        f"python3 -m venv --system-site-packages {machine.app_dir}/.venv",
        f"would run: {machine.app_dir}/.venv/bin/pip install --quiet --upgrade {REPO}",
        f"would write {machine.etc_dir}/relay.env",
        "| GATEKIOSK_RELAY_PIN=17",
        f"would append to {machine.boot_config}:",
        "| [all]",
        "| dtparam=i2c_arm=on",
        "| dtparam=i2c_arm_baudrate=50000",
        "| gpio=17=op,dl",
        f"would run: install -m 0644 {HARDWARE}/gatekiosk.service {machine.unit_dir}/",
        "would run: systemctl enable gatekiosk.service",
        # The screen and the voice.
        "i2c-tools cage chromium fonts-noto-cjk espeak-ng alsa-utils",
        "would run: usermod -a -G audio gatekiosk",
        f"would run: {machine.app_dir}/.venv/bin/python -m firmware.cli voice build --out "
        f"{machine.app_dir}/voice --languages zh,en,ko",
        "would run: useradd --system --user-group --create-home --home-dir "
        "/var/lib/gatekiosk-screen --shell /usr/sbin/nologin gatekiosk-screen",
        f"would write {machine.etc_dir}/screen.env",
        "| GATEKIOSK_SCREEN_PORT=8310",
        f"would run: install -m 0644 {HARDWARE}/gatekiosk-screen.service {machine.unit_dir}/",
        "would run: systemctl enable gatekiosk-screen.service",
        # The boot page and its server.
        "| GATEKIOSK_SCREEN_BOOT_PORT=8309",
        f"would run: {machine.app_dir}/.venv/bin/python -m firmware.screen.boot_page --out "
        f"{machine.app_dir}/screen-boot --screen-url http://127.0.0.1:8310/ "
        "--primary-language zh",
        f"would run: install -m 0644 {REPO}/firmware/screen/boot.py "
        f"{machine.app_dir}/screen-boot.py",
        f"would run: install -m 0644 {HARDWARE}/gatekiosk-screen-boot.service {machine.unit_dir}/",
        "would run: systemctl enable gatekiosk-screen-boot.service",
        f"would run: ln -s {machine.app_dir}/.venv {machine.app_dir}/current",
        f"would run: install -m 0644 {REPO}/firmware/update/layout.py "
        f"{machine.app_dir}/boot-check.py",
        f"would write {machine.system_conf_dir}/gatekiosk-watchdog.conf",
        "| RuntimeWatchdogSec=15",
        "would run: systemctl daemon-reexec",
    ):
        assert expected in out, expected


def test_dry_run_works_for_any_user_but_a_real_run_needs_root(machine):
    stub_id = machine.stubs / "id"
    stub_id.write_text('#!/bin/sh\n[ "$1" = -u ] && [ $# = 1 ] && echo 1000 && exit 0\nexit 1\n')
    assert machine.install("--dry-run").returncode == 0
    result = machine.install()
    assert result.returncode == 1
    assert "run as root" in result.stderr
    assert changing_calls(machine.calls()) == []


def test_install_is_idempotent(machine):
    first = machine.install()
    assert first.returncode == 0, first.stderr
    calls = changing_calls(machine.calls())
    assert "apt-get update" in calls
    assert any(c.startswith("useradd --system") and c.endswith(" gatekiosk") for c in calls)
    assert {c for c in calls if c.startswith("usermod")} == {
        f"usermod -a -G {g} gatekiosk" for g in ("gpio", "i2c", "video", "audio")
    }
    assert f"python3 -m venv --system-site-packages {machine.app_dir}/.venv" in calls
    assert f"pip install --quiet --upgrade {REPO}" in calls
    assert "systemctl enable gatekiosk.service" in calls
    assert "systemctl restart gatekiosk.service" not in calls  # no config yet
    config_txt = machine.boot_config.read_text()
    assert config_txt.startswith(BOOKWORM_CONFIG_TXT)
    assert config_txt.endswith(
        "\n[all]\ndtparam=i2c_arm=on\ndtparam=i2c_arm_baudrate=50000\n"
        "gpio=17=op,dl\ngpio=23,24,25=op,dl\ngpio=22,27=ip,pu\n"
    )
    assert (machine.unit_dir / "gatekiosk.service").read_bytes() == (
        HARDWARE / "gatekiosk.service"
    ).read_bytes()
    assert "reboot to apply" in first.stdout
    assert (machine.app_dir / "current").readlink() == machine.app_dir / ".venv"
    assert (machine.app_dir / "boot-check.py").read_bytes() == (
        REPO / "firmware" / "update" / "layout.py"
    ).read_bytes()
    assert "systemctl daemon-reexec" in calls
    assert "systemctl enable gatekiosk-screen-boot.service" in calls
    assert (machine.app_dir / "screen-boot.py").read_bytes() == (
        REPO / "firmware" / "screen" / "boot.py"
    ).read_bytes()
    boot_site = machine.app_dir / "screen-boot"
    assert sorted(p.name for p in boot_site.iterdir()) == ["boot.js", "index.html", "style.css"]
    assert "暂停服务" in (boot_site / "index.html").read_text()

    before = machine.snapshot()
    second = machine.install()
    assert second.returncode == 0, second.stderr
    # Only the project itself is installed again (it may have changed), and its voice and
    # boot page built again (which redo only what changed); nothing else moves.
    assert changing_calls(machine.calls()) == [
        f"pip install --quiet --upgrade {REPO}",
        f"python -m firmware.cli voice build --out {machine.app_dir}/voice --languages zh,en,ko",
        f"python -m firmware.screen.boot_page --out {machine.app_dir}/screen-boot "
        "--screen-url http://127.0.0.1:8310/ --primary-language zh",
    ]
    assert machine.snapshot() == before
    assert "reboot" not in second.stdout


def test_pins_from_the_config_file_drive_boot_lines_and_the_relay_env(machine):
    machine.install()
    machine.calls()
    config = machine.root / "gatekiosk.toml"
    config.write_text("[device]\nid = 'gate-1'\n[pins]\nrelay = 4\nrelay_active_high = false\n")
    result = machine.install("--config", str(config))
    assert result.returncode == 0, result.stderr
    assert (machine.etc_dir / "relay.env").read_text().splitlines()[1:] == [
        "GATEKIOSK_RELAY_PIN=4",
        "GATEKIOSK_RELAY_OFF=dh",
    ]
    assert "gpio=4=op,dh" in machine.boot_config.read_text().splitlines()
    assert "systemctl restart gatekiosk.service" in machine.calls()


def test_a_bad_pin_map_stops_the_install_before_any_change(machine):
    config = machine.root / "gatekiosk.toml"
    config.write_text("[pins]\nrelay = 5\n")
    before = machine.snapshot()
    result = machine.install("--config", str(config))
    assert result.returncode == 1
    assert "pins.relay: GPIO 5 is pulled up at power-on" in result.stderr
    assert changing_calls(machine.calls()) == []
    assert machine.snapshot() == before


def hardware_watchdog_seconds(conf: Path) -> float:
    lines = dict(line.split("=", 1) for line in conf.read_text().splitlines() if "=" in line)
    value = lines["RuntimeWatchdogSec"]
    return float(value[:-1]) if value.endswith("s") else float(value)


def test_install_arms_the_hardware_watchdog_below_the_bcm2835_limit(machine):
    result = machine.install()
    assert result.returncode == 0, result.stderr
    conf = machine.system_conf_dir / "gatekiosk-watchdog.conf"
    assert "[Manager]" in conf.read_text().splitlines()
    # bcm2835_wdt's longest period is 15.99 s; a longer setting leaves it unarmed (< 6.8).
    assert 0 < hardware_watchdog_seconds(conf) <= 15


def test_a_release_switched_by_update_is_not_moved_back_by_a_second_install(machine):
    machine.install()
    release = machine.app_dir / "releases" / "0.2.0"
    release.mkdir(parents=True)
    current = machine.app_dir / "current"
    current.unlink()
    current.symlink_to(release)
    machine.calls()
    assert machine.install().returncode == 0
    assert current.readlink() == release
    assert not any(c.startswith("ln ") for c in machine.calls())


def test_unknown_option_is_a_usage_error(machine):
    result = machine.install("--force")
    assert result.returncode == 2
    assert "unknown option --force" in result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_install_script_is_shellcheck_clean():
    result = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


UNITS = ("gatekiosk.service", "gatekiosk-screen.service", "gatekiosk-screen-boot.service")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd not installed")
@pytest.mark.parametrize("name", UNITS)
def test_service_unit_passes_systemd_analyze_verify(tmp_path, name):
    # verify checks that the commands exist: point the unit's /opt/gatekiosk, and the screen's
    # cage and chromium (not on every build host), at stand-ins.
    app = tmp_path / "opt" / "gatekiosk"
    (app / "current" / "bin").mkdir(parents=True)
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    for program in (app / "current" / "bin" / "gatekiosk", stand_ins / "cage"):
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    (app / "boot-check.py").write_text("")
    text = (
        (HARDWARE / name)
        .read_text()
        .replace("/opt/gatekiosk/", f"{app}/")
        .replace("/usr/bin/cage", f"{stand_ins}/cage")
    )
    # The units that the screen's units name, so that verify can load them too.
    for other in UNITS:
        (tmp_path / other).write_text(
            (HARDWARE / other)
            .read_text()
            .replace("/usr/bin/cage", f"{stand_ins}/cage")
            .replace("/opt/gatekiosk/", f"{app}/")
        )
    unit = tmp_path / name
    unit.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    # A directive systemd cannot parse is only a warning, with exit 0: any output fails.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )


def test_config_txt_snippet_matches_the_default_pin_map():
    lines = [
        line
        for line in (HARDWARE / "config.txt.snippet").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[:2] == ["dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=50000"]
    assert lines[2:] == PinMap().boot_gpio_lines()


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


def test_service_unit_restarts_forever_as_an_unprivileged_user_with_device_groups():
    unit = unit_settings(HARDWARE / "gatekiosk.service")
    assert unit["Service.Type"] == ["notify"]
    assert unit["Service.NotifyAccess"] == ["main"]
    [watchdog] = unit["Service.WatchdogSec"]
    assert watchdog.endswith("s") and 0 < float(watchdog[:-1]) <= 10
    assert unit["Service.Restart"] == ["always"]
    assert unit["Service.RestartSec"] == ["2"]
    assert unit["Unit.StartLimitIntervalSec"] == ["0"]
    assert unit["Service.ExecStart"] == [
        "/opt/gatekiosk/current/bin/gatekiosk run --config /etc/gatekiosk/gatekiosk.toml"
    ]
    assert unit["Service.ExecStartPre"] == ["-+/usr/bin/python3 /opt/gatekiosk/boot-check.py"]
    assert unit["Service.User"] == ["gatekiosk"]
    assert unit["Service.SupplementaryGroups"] == ["gpio i2c video audio"]
    assert unit["Service.StateDirectory"] == ["gatekiosk"]
    assert unit["Service.WorkingDirectory"] == ["/var/lib/gatekiosk"]
    [stop_post] = unit["Service.ExecStopPost"]
    assert "pinctrl set ${GATEKIOSK_RELAY_PIN} op ${GATEKIOSK_RELAY_OFF}" in stop_post
    # These would hide /dev/gpiochip*, /dev/i2c-1 or the camera from the service.
    for breaks_devices in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock"):
        assert f"Service.{breaks_devices}" not in unit
    assert unit["Install.WantedBy"] == ["multi-user.target"]


def test_install_builds_the_voice_and_points_the_screen_at_the_configured_port(machine):
    config = machine.root / "gatekiosk.toml"
    (machine.state / "real-voice").touch()
    config.write_text(
        "[screen]\nport = 9000\nboot_port = 9001\nprimary_language = 'en'\n"
        "[voice]\nlanguages = ['en']\n"
    )
    result = machine.install("--config", str(config))
    assert result.returncode == 0, result.stderr
    assert (machine.etc_dir / "screen.env").read_text().splitlines()[1:] == [
        "GATEKIOSK_SCREEN_HOST=127.0.0.1",
        "GATEKIOSK_SCREEN_PORT=9000",
        "GATEKIOSK_SCREEN_BOOT_PORT=9001",
    ]
    boot_index = (machine.app_dir / "screen-boot" / "index.html").read_text()
    assert '"screen_url": "http://127.0.0.1:9000/"' in boot_index
    assert '<html lang="en">' in boot_index
    voice = machine.app_dir / "voice"
    assert (voice / "step.granted.en.wav").is_file() and (voice / "earcon.fever.wav").is_file()
    assert not (voice / "step.granted.zh.wav").exists()
    calls = machine.calls()
    assert "systemctl enable gatekiosk-screen.service" in calls
    assert "systemctl restart gatekiosk-screen.service" in calls
    config.write_text("[screen]\nport = 80\n")
    refused = machine.install("--config", str(config))
    assert refused.returncode == 1
    assert "screen.port: 80 is outside 1024..65535" in refused.stderr
    config.write_text("[screen]\nboot_port = 8310\n")
    refused = machine.install("--config", str(config))
    assert refused.returncode == 1
    assert "screen.boot_port: 8310 is screen.port too" in refused.stderr


def test_screen_unit_runs_chromium_in_kiosk_mode_under_cage_and_comes_back():
    unit = unit_settings(HARDWARE / "gatekiosk-screen.service")
    assert unit["Service.Restart"] == ["always"]
    assert unit["Unit.StartLimitIntervalSec"] == ["0"]
    assert unit["Service.User"] == ["gatekiosk-screen"]
    [start] = unit["Service.ExecStart"]
    command = start.split()
    assert command[:3] == ["/usr/bin/cage", "-d", "--"] and command[3] == "/usr/bin/chromium"
    for flag in ("--kiosk", "--noerrdialogs", "--disable-infobars", "--incognito"):
        assert flag in command, flag
    # It opens the boot page, which needs no firmware.
    assert command[-1] == "http://127.0.0.1:${GATEKIOSK_SCREEN_BOOT_PORT}/"
    assert unit["Service.EnvironmentFile"] == ["-/etc/gatekiosk/screen.env"]
    assert unit["Install.WantedBy"] == ["multi-user.target"]


def test_screen_unit_never_waits_for_the_firmware():
    unit = unit_settings(HARDWARE / "gatekiosk-screen.service")
    # Nothing runs before the browser (the display would stay dark while it waited) ...
    assert not [
        key for key in unit if key.startswith("Service.ExecStart") and key != ("Service.ExecStart")
    ], unit
    assert "Service.TimeoutStartSec" not in unit
    body = [v for key, values in unit.items() if key.startswith("Service.") for v in values]
    assert not any("GATEKIOSK_SCREEN_PORT" in value for value in body)
    # ... and it is not ordered after the firmware (Type=notify: After= would wait for READY).
    after = " ".join(unit["Unit.After"]).split()
    wants = " ".join(unit["Unit.Wants"]).split()
    assert "gatekiosk.service" not in after and "gatekiosk.service" in wants
    # It is ordered after the boot page's server, which says when it listens.
    assert "gatekiosk-screen-boot.service" in after and "gatekiosk-screen-boot.service" in wants


def test_boot_page_unit_serves_on_loopback_with_the_system_python_and_comes_back():
    unit = unit_settings(HARDWARE / "gatekiosk-screen-boot.service")
    assert unit["Service.Type"] == ["notify"]
    assert unit["Service.Restart"] == ["always"]
    assert unit["Unit.StartLimitIntervalSec"] == ["0"]
    assert unit["Unit.Before"] == ["gatekiosk-screen.service"]
    assert unit["Service.User"] == ["gatekiosk-screen"]
    assert unit["Service.EnvironmentFile"] == ["-/etc/gatekiosk/screen.env"]
    [start] = unit["Service.ExecStart"]
    assert start.split() == [
        "/usr/bin/python3",
        "-I",
        "/opt/gatekiosk/screen-boot.py",
        "--bind",
        "127.0.0.1",
        "--port",
        "${GATEKIOSK_SCREEN_BOOT_PORT}",
        "--dir",
        "/opt/gatekiosk/screen-boot",
        "--screen-url",
        "http://${GATEKIOSK_SCREEN_HOST}:${GATEKIOSK_SCREEN_PORT}/",
    ]
    assert unit["Install.WantedBy"] == ["multi-user.target"]
