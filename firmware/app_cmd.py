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
import uuid
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

from firmware import __version__, credentials, events, timesync, watchdog
from firmware.app import Gate, Inbox
from firmware.clock import Clock, SystemClock
from firmware.command_auth import SqliteJtiStore
from firmware.config import Config, ConfigError, load
from firmware.mqtt_link import MqttLink, MqttSettings, TlsSettings
from firmware.outbox import Outbox, OutboxError

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


def state_record(gate: Gate, cfg: Config, state: str) -> dict[str, Any]:
    """The retained birth (`online`) or last-will (`offline`) record."""
    return {
        "schema": "gatekiosk/state/v1",
        "state": state,
        "device_id": cfg.device.id,
        "community_id": cfg.device.community,
        "gate_id": cfg.device.gate,
        "firmware": __version__,
        "boot_id": gate.identity.boot_id,
        "time": events.iso_time(gate.clock.time()),
        "clock_synced": gate.clock.synced(),
        "config_hash": cfg.source_hash or "0" * 64,
    }


def mqtt_settings(cfg: Config) -> MqttSettings:
    m = cfg.mqtt
    tls = None
    if m.tls.ca:
        tls = TlsSettings(m.tls.ca, m.tls.cert or None, m.tls.key or None)
    password = None
    if m.password_file:
        password = Path(m.password_file).read_text(encoding="utf-8").strip()
    return MqttSettings(
        brokers=list(m.brokers),
        client_id=cfg.device.id,
        protocol=m.protocol,
        keepalive=m.keepalive,
        tls=tls,
        username=m.username or None,
        password=password,
        window=m.window,
        backoff_initial_s=m.backoff_initial_s,
        backoff_max_s=m.backoff_max_s,
    )


def attach_link(cfg: Config, gate: Gate, outbox: Outbox, inbox: Inbox, clock: Clock) -> MqttLink:
    """The MQTT link for `gate`: birth/will records, telemetry, messages into the gate's inbox."""
    link = MqttLink(
        mqtt_settings(cfg),
        clock=clock,
        community_id=cfg.device.community,
        gate_id=cfg.device.gate,
        device_id=cfg.device.id,
        outbox=outbox,
        state_payload=lambda: state_record(gate, cfg, "online"),
        will_payload=lambda: state_record(gate, cfg, "offline"),
        on_message=inbox.mqtt_message,
        telemetry=gate.telemetry,
        telemetry_period_s=cfg.mqtt.telemetry_period_s,
    )
    gate.link = link
    return link


def open_outbox(cfg: Config, data_dir: Path, clock: Clock) -> Outbox:
    o = cfg.outbox
    return Outbox(
        data_dir / "outbox.db",
        clock=clock,
        retention_s=o.retention_days * 86400,
        max_rows=o.max_rows,
        high_water=o.high_water,
        settle_on=cfg.mqtt.settle_on,
    )


def run(cfg: Config, stop: threading.Event) -> int:
    """Build the real devices in a safe order and run the gate until `stop` is set."""
    from firmware.devices import door_config, open_camera, open_thermometer
    from firmware.hw.code_reader import CodeReader
    from firmware.hw.door import Door
    from firmware.hw.indicator import Indicator
    from firmware.hw.qr_decode import make_decoder
    from firmware.hw.thermometer import ThermometerSampler

    clock = SystemClock(timesync.system_clock_synced)
    dog = watchdog.Watchdog.from_environ()
    inbox = Inbox()
    pins = cfg.pins
    with ExitStack() as stack:
        door = stack.enter_context(
            Door(
                pins,
                door_config(cfg),
                clock=clock,
                on_alarm=inbox.door_alarm,
                on_exit_request=inbox.exit_request,
            )
        )
        indicator = stack.enter_context(Indicator(pins))
        data_dir = Path(cfg.device.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        outbox = open_outbox(cfg, data_dir, clock)
        stack.callback(outbox.close)
        thermometer = open_thermometer(cfg, clock)
        sampler = ThermometerSampler(
            thermometer,
            dog.watch_thread(clock, "thermometer-sampler", watchdog.DEVICE_STALL_S),
            inbox.sample, inbox.sensor_fault, inbox.sensor_recovered
        )
        reader = CodeReader(
            open_camera(cfg, clock),
            make_decoder(cfg.camera.decoder),
            dog.watch_thread(clock, "code-reader", watchdog.DEVICE_STALL_S),
            inbox.code,
            inbox.camera_fault,
            inbox.camera_recovered,
            absence_s=cfg.camera.absence_s,
        )
        gate = Gate(
            cfg,
            clock=clock,
            inbox=inbox,
            door=door,
            indicator=indicator,
            outbox=outbox,
            issuer_keys=credentials.KeySet.load(cfg.keys.issuers),
            admin_keys=credentials.KeySet.load(cfg.keys.admins),
            jti_store=SqliteJtiStore(data_dir / "commands.db"),
            data_dir=data_dir,
            boot_id=str(uuid.uuid4()),
            reader_stats=reader.stats,
        )
        link_clock = dog.watch_thread(clock, "mqtt-link", watchdog.LINK_STALL_S)
        link = attach_link(cfg, gate, outbox, inbox, link_clock)
        for start, halt in ((sampler.start, sampler.stop), (reader.start, reader.stop)):
            start()
            stack.callback(halt)
        link.start()
        stack.callback(link.stop)
        log.info(
            "gatekiosk %s running: %s/%s (%s)",
            __version__,
            cfg.device.community,
            cfg.device.gate,
            cfg.device.direction,
        )
        gate.heartbeat = dog.beat
        dog.ready(clock.monotonic(), f"running {cfg.device.community}/{cfg.device.gate}")
        gate.run(stop)
        dog.stopping()
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
    stop = threading.Event()
    install_stop_signals(stop)
    try:
        return run(cfg, stop)
    except (credentials.KeySetError, OutboxError, OSError, ValueError) as exc:
        # Start-up failures: one line for the journal; systemd restarts with back-off.
        log.error("cannot start: %s", exc)
        sys.stderr.write(f"gatekiosk run: cannot start: {exc}\n")
        return 1
