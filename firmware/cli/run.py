"""`gatekiosk run --config FILE`: the kiosk itself, on the Pi under systemd.

With `[thermometer] bus = "sim"` and `[camera] source = "sim"` the same command runs on a host
over the simulated sensor and camera (GPIO then needs GPIOZERO_PIN_FACTORY=mock).

Start-up order matters: the door (relay) is created first and off, before the camera, the
thermometer or the network exist; a configuration that does not validate never reaches a pin.
SIGTERM (systemctl stop) ends the loop normally, so every device is released and the relay is
driven off; after a SIGKILL the service's ExecStopPost and the boot-time pull-down hold it off.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from firmware import __version__, credentials, timesync, watchdog
from firmware.assemble import build_gate
from firmware.cli.provision import ProvisionError, check_jwks
from firmware.clock import SystemClock
from firmware.commands.auth import JtiStoreError
from firmware.config import Config, ConfigError, load
from firmware.hw.factory import HardwareNotFound, hardware_from_config
from firmware.hw.qr_decode import DecoderUnavailable
from firmware.store.outbox import OutboxError

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="configuration file (TOML)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING"))


def setup_logging(level: str) -> None:
    """The one logging set-up: one line per record, to stderr (journald keeps it)."""
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run(cfg: Config, stop: threading.Event) -> int:
    """Build the real devices in a safe order and run the gate until `stop` is set."""
    clock = SystemClock(timesync.system_clock_synced)
    hardware = hardware_from_config(cfg.thermometer.bus, cfg.camera.source)
    dog = watchdog.Watchdog.from_environ()
    built = build_gate(cfg, hardware, clock, with_face=True, watchdog=dog)
    try:
        built.start()
        # Relay off, outbox open, devices up: tell systemd (Type=notify) once.
        dog.ready(clock.monotonic(), f"running {cfg.device.community}/{cfg.device.gate}")
        log.info(
            "gatekiosk %s running: %s/%s (%s)",
            __version__,
            cfg.device.community,
            cfg.device.gate,
            cfg.device.direction,
        )
        built.gate.run(stop)
    finally:
        dog.stopping()
        built.close()
    return 0


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT end the loop normally, so cleanup (relay off) runs."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    try:
        cfg = load(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"gatekiosk run: {exc}\n")
        return 2
    try:
        # The same check provision makes: a gate verifies and never holds a private key.
        check_jwks("keys.issuers", cfg.keys.issuers)
        check_jwks("keys.admins", cfg.keys.admins)
    except ProvisionError as exc:
        sys.stderr.write(f"gatekiosk run: {exc}\n")
        return 2
    stop = threading.Event()
    install_stop_signals(stop)
    try:
        return run(cfg, stop)
    except (
        credentials.KeySetError, DecoderUnavailable, HardwareNotFound, OutboxError,
        JtiStoreError, OSError, ValueError,
    ) as exc:
        # Start-up failures: one line for the journal; systemd restarts with back-off.
        log.error("cannot start: %s", exc)
        sys.stderr.write(f"gatekiosk run: cannot start: {exc}\n")
        return 1
