"""`gatekiosk selftest --config FILE [--json] [--door] [--samples N]`: check a kiosk on site.

Each check prints one line, `PASS|WARN|FAIL  name  detail`, as soon as it is done, then a
summary. Exit 0 when nothing failed (warnings allowed), 1 when a check failed, 2 when the
configuration (or the command line) is unusable. `--json` prints one JSON document instead.

It is safe next to a running kiosk: it opens no MQTT session and publishes nothing (brokers get
a bare TCP connect), only reads the outbox, and claims GPIO only for the indicator (shown idle)
and, with `--door` alone, the relay, which it pulses for one second (the door opens!) and always
drives off again. The running service holds the camera and the GPIO lines, so those checks fail
while it runs: `sudo systemctl stop gatekiosk` first for a full test. Run it as the service user
(`sudo -u gatekiosk ...`) to check file access as the service sees it.

Devices come from the configuration as `gatekiosk run` builds them: `[thermometer] bus = "pi"`
is the MLX90614 on the Pi's I2C through Blinka, `"sim"` the simulated sensor of `host_sim`;
`[camera] source = "pi"` is picamera2, `"sim"` rendered frames. Both are imported only when used.
The checks themselves are in `firmware.cli.checks`; this module runs them and reports.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from firmware import __version__, payloads, timesync, watchdog
from firmware.cli.checks import FAIL, PASS, WARN, Check
from firmware.cli.checks.devices import (
    RELAY_TEST_PULSE_S,
    check_camera,
    check_indicator,
    check_relay,
    check_thermometer,
)
from firmware.cli.checks.face import Runner, check_screen, check_voice, run_quietly
from firmware.cli.checks.network import check_broker, check_mqtt_credentials
from firmware.cli.checks.storage import check_outbox, check_stores
from firmware.cli.checks.system import (
    check_clock,
    check_config,
    check_data_dir,
    check_disk_space,
    check_keys,
    check_service,
    check_user,
    service_running,
)
from firmware.cli.errors import ERROR_CHARS
from firmware.cli.technician import count_in, quiet_logging
from firmware.clock import Clock, SystemClock
from firmware.config import Config
from firmware.errors import one_line

if TYPE_CHECKING:
    from firmware.hw.code_reader import Camera
    from firmware.hw.smbus_pec import I2CBus

log = logging.getLogger(__name__)

DEFAULT_SAMPLES = 8
MAX_SAMPLES = 100
NAME_WIDTH = 12


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Probes:
    """What the checks ask of the system besides the configured devices (tests replace it)."""

    clock_synced: Callable[[], bool] = timesync.system_clock_synced
    service_running: Callable[[], bool | None] = service_running
    thermometer_bus: I2CBus | None = None
    camera: Camera | None = None
    hardware_watchdog: Path = watchdog.HW_WATCHDOG_SYSFS
    run: Runner = run_quietly  # listing commands (`aplay -L`, `aplay -l`)


def run_checks(
    cfg: Config,
    *,
    samples: int = DEFAULT_SAMPLES,
    door: bool = False,
    clock: Clock | None = None,
    probes: Probes | None = None,
) -> Iterator[Check]:
    """Every check after the configuration's, in checklist order, each as soon as it is done.

    A check that raises unexpectedly becomes a FAIL line: the list always completes.
    """
    probes = probes or Probes()
    clock = clock or SystemClock(probes.clock_synced)
    steps: list[tuple[str, Callable[[], Check | None]]] = [
        ("user", check_user),
        ("service", lambda: check_service(probes.service_running)),
        ("issuer keys", lambda: check_keys("issuer keys", cfg.keys.issuers)),
        ("admin keys", lambda: check_keys("admin keys", cfg.keys.admins)),
        ("data dir", lambda: check_data_dir(cfg)),
        ("outbox", lambda: check_outbox(cfg, clock)),
        ("stores", lambda: check_stores(cfg)),
        ("disk space", lambda: check_disk_space(cfg)),
        ("clock", lambda: check_clock(clock, probes.clock_synced)),
        ("hw watchdog", lambda: Check("hw watchdog",
                                      *watchdog.hardware_watchdog_status(probes.hardware_watchdog))),
        ("thermometer", lambda: check_thermometer(cfg, clock, samples, probes.thermometer_bus)),
        ("camera", lambda: check_camera(cfg, clock, camera=probes.camera)),
        ("mqtt auth", lambda: check_mqtt_credentials(cfg)),
    ]
    for address in cfg.mqtt.brokers:
        steps.append(("broker", functools.partial(check_broker, address)))
    if door:
        steps.append(("relay", lambda: check_relay(cfg)))
    steps.append(("indicator", lambda: check_indicator(cfg)))
    steps.append(("screen", lambda: check_screen(cfg)))
    steps.append(("voice", lambda: check_voice(cfg, probes.run)))
    for name, step in steps:
        try:
            check = step()
        except Exception as exc:  # a bug in one check must not hide the others
            log.debug("check %s raised", name, exc_info=True)
            reason = one_line(exc, ERROR_CHARS)
            check = Check(name, FAIL, f"check failed unexpectedly: {reason}")
        if check is not None:
            yield check


def summarise(checks: list[Check]) -> dict[str, int]:
    """Counts per status."""
    return {status: sum(1 for c in checks if c.status == status) for status in (PASS, WARN, FAIL)}


def format_line(check: Check) -> str:
    """`PASS  name        detail`."""
    return f"{check.status}  {check.name:<{NAME_WIDTH}}  {check.detail}"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the selftest's arguments."""
    parser.add_argument("--config", required=True, help="configuration file (TOML)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--door",
        action="store_true",
        help=f"also pulse the door relay for {RELAY_TEST_PULSE_S:g} s (the door opens!)",
    )
    parser.add_argument(
        "--samples",
        type=count_in(1, MAX_SAMPLES),
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"thermometer reads (default {DEFAULT_SAMPLES})",
    )
    parser.add_argument("--verbose", action="store_true", help="log what the drivers do")


def main(args: argparse.Namespace, probes: Probes | None = None) -> int:
    """Run the checklist; 0 nothing failed, 1 something failed, 2 unusable configuration."""
    with quiet_logging(args.verbose):
        try:
            return _run(args, probes)
        except Exception as exc:  # a bug still ends in one line, never a traceback
            log.debug("selftest failed", exc_info=True)
            reason = one_line(exc, ERROR_CHARS)
            sys.stderr.write(f"gatekiosk selftest: internal error: {reason}\n")
            return 1


def _run(args: argparse.Namespace, probes: Probes | None) -> int:
    out = sys.stdout
    first, cfg = check_config(args.config)
    checks = [first]
    if not args.json:
        out.write(format_line(first) + "\n")
        out.flush()
    if cfg is not None:
        # Driver libraries print warnings of their own (Blinka on an unknown board): to
        # stderr with them, so that stdout holds the checklist or the JSON and nothing else.
        with contextlib.redirect_stdout(sys.stderr):
            for check in run_checks(cfg, samples=args.samples, door=args.door, probes=probes):
                checks.append(check)
                if not args.json:
                    out.write(format_line(check) + "\n")
                    out.flush()
    counts = summarise(checks)
    code = 2 if cfg is None else (1 if counts[FAIL] else 0)
    if args.json:
        document = {
            "config": args.config,
            "device_id": None if cfg is None else cfg.device.id,
            "firmware": __version__,
            "time": payloads.iso_time(time.time()),
            "checks": [c.as_dict() for c in checks],
            "passed": counts[PASS],
            "warnings": counts[WARN],
            "failed": counts[FAIL],
            "exit_code": code,
        }
        out.write(json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n")
        return code
    if cfg is None:
        sys.stderr.write("gatekiosk selftest: fix the configuration first\n")
        return code
    verdict = "ready" if code == 0 else "not ready: fix what FAILed and run it again"
    out.write(
        f"selftest: {counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed"
        f" — {verdict}\n"
    )
    if not args.door:
        out.write("(relay not tested: --door pulses it, and the door opens)\n")
    return code
