"""The one wiring: configuration + hardware world + clock -> a gate ready to run.

`gatekiosk run`, `gatekiosk selftest` and the simulator's rig all build their gate here, so a
key read one way in one of them is read the same way in all. The order is the safe one: the
relay is created first and off, before the camera, the thermometer or the network exist; the
link is made before the gate and given to it, so no thread but the gate loop changes gate state.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from firmware import credentials, payloads
from firmware.clock import Clock
from firmware.commands.auth import JtiStoreDamaged, SqliteJtiStore
from firmware.commands.table import COMMANDS
from firmware.config import Config
from firmware.gate.inbox import Inbox
from firmware.gate.loop import Gate, GateParts
from firmware.hw.code_reader import Camera, CodeReader
from firmware.hw.door import Door
from firmware.hw.factory import Hardware, hardware_from_config
from firmware.hw.indicator import Indicator
from firmware.hw.qr_decode import make_decoder
from firmware.hw.smbus_pec import I2CBus
from firmware.hw.thermometer import Thermometer
from firmware.hw.thermometer_sampler import ThermometerSampler
from firmware.link import MqttLink
from firmware.screen.face import open_face
from firmware.store.damage import StoreDamage, open_or_replace
from firmware.store.outbox import Outbox, OutboxDamaged
from firmware.watchdog import DEVICE_STALL_S, LINK_STALL_S, Watchdog

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.db"
COMMAND_IDS_FILE = "commands.db"


def open_outbox(cfg: Config, data_dir: Path, clock: Clock) -> Outbox:
    """The gate's outbox in `data_dir`, with the configured retention and settling."""
    o = cfg.outbox
    return Outbox(
        Path(data_dir) / OUTBOX_FILE,
        clock=clock,
        retention_s=o.retention_days * 86400,
        max_rows=o.max_rows,
        high_water=o.high_water,
        settle_on=cfg.mqtt.settle_on,
    )


def configured_hardware(cfg: Config) -> Hardware:
    """The world `[thermometer] bus` and `[camera] source` name (the Pi's pins either way)."""
    return hardware_from_config(cfg.thermometer.bus, cfg.camera.source)


def open_thermometer_bus(cfg: Config, clock: Clock, hardware: Hardware | None = None) -> I2CBus:
    """The thermometer's I2C bus in `hardware` (by default the configured world)."""
    world = configured_hardware(cfg) if hardware is None else hardware
    return world.thermometer_bus(cfg.thermometer, clock)


def open_camera(cfg: Config, clock: Clock, hardware: Hardware | None = None) -> Camera:
    """The camera in `hardware` (by default the configured world)."""
    world = configured_hardware(cfg) if hardware is None else hardware
    return world.camera(cfg.camera, clock)


def state_record(cfg: Config, identity: payloads.Identity, clock: Clock, state: str) -> dict:
    """The retained birth (`online`) or last-will (`offline`) record of this gate."""
    return payloads.state_record(identity, state, clock.time(), clock.synced(), cfg.source_hash)


@dataclass
class AssembledGate:
    """A gate and every device and store it was built from; `close()` releases them all."""

    gate: Gate
    inbox: Inbox
    door: Door
    indicator: Indicator
    outbox: Outbox
    thermometer: Thermometer
    sampler: ThermometerSampler
    reader: CodeReader
    jti_store: SqliteJtiStore
    link: MqttLink | None
    stack: ExitStack = field(repr=False)

    def start(self) -> None:
        """Start the device threads and the link (the gate loop is the caller's to run)."""
        self.sampler.start()
        self.reader.start()
        if self.link is not None:
            self.link.start()

    def close(self) -> None:
        """Stop and release everything, in reverse order; the relay ends off."""
        self.stack.close()


def build_gate(
    cfg: Config,
    hardware: Hardware,
    clock: Clock,
    *,
    with_link: bool = True,
    with_face: bool = False,
    watchdog: Watchdog | None = None,
    device_stall_s: float = DEVICE_STALL_S,
    boot_id: str | None = None,
    link_clock: Clock | None = None,
) -> AssembledGate:
    """Build the devices in a safe order and the gate over them (nothing started yet).

    `with_face` starts the screen server and the voice player on the indicator (`[screen]`,
    `[voice]`): side channels that the gate runs without if they cannot start. With `watchdog`,
    the sampler, the reader and the link each get a clock that tells it their thread is
    moving, and the gate loop feeds it every turn. `link_clock` times the MQTT link's back-off
    and keepalive apart from the gate (a simulator on fast time keeps the network on real time)."""

    def watched(name: str, stall_s: float) -> Clock:
        return clock if watchdog is None else watchdog.watch_thread(clock, name, stall_s)

    inbox = Inbox(clock.monotonic, COMMANDS)
    identity = payloads.Identity(
        device_id=cfg.device.id,
        community_id=cfg.device.community,
        gate_id=cfg.device.gate,
        direction=cfg.device.direction,
        boot_id=boot_id or str(uuid.uuid4()),
    )
    with ExitStack() as stack:
        hardware.claim_pins(cfg.pins)
        door = stack.enter_context(Door(
            cfg.pins, cfg.door, clock=clock, on_alarm=inbox.door_alarm,
            on_exit_request=inbox.exit_request, start_timer=hardware.start_timer,
            pin_factory=hardware.pin_factory,
        ))
        indicator = stack.enter_context(Indicator(
            cfg.pins, prompt_sink=hardware.prompt_sink, pin_factory=hardware.pin_factory
        ))
        if with_face:
            stack.enter_context(
                open_face(indicator, cfg.screen, cfg.voice, cfg.device.utc_offset_hours)
            )
        data_dir = Path(cfg.device.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        # A damaged store is kept aside and replaced; the gate tells the server (store.damage).
        damage: list[StoreDamage] = []
        outbox, outbox_damage = open_or_replace(
            "outbox", data_dir / OUTBOX_FILE, lambda: open_outbox(cfg, data_dir, clock),
            OutboxDamaged, clock.time(),
        )
        stack.callback(outbox.close)
        jti_store, ids_damage = open_or_replace(
            "command_ids", data_dir / COMMAND_IDS_FILE,
            lambda: SqliteJtiStore(data_dir / COMMAND_IDS_FILE), JtiStoreDamaged, clock.time(),
        )
        stack.callback(jti_store.close)
        damage += [d for d in (outbox_damage, ids_damage) if d is not None]
        bus = open_thermometer_bus(cfg, clock, hardware)
        thermometer = Thermometer(bus, cfg.thermometer, clock)
        sampler = ThermometerSampler(
            thermometer, watched("thermometer-sampler", device_stall_s),
            inbox.sample, inbox.sensor_fault, inbox.sensor_recovered,
        )
        reader = CodeReader(
            open_camera(cfg, clock, hardware), make_decoder(cfg.camera.decoder),
            watched("code-reader", device_stall_s),
            inbox.code, inbox.camera_fault, inbox.camera_recovered,
            absence_s=cfg.camera.absence_s,
        )
        # Stopping what was never started is harmless; whoever started it, close() stops it.
        stack.callback(sampler.stop)
        stack.callback(reader.stop)
        link = None
        if with_link:
            link = MqttLink(
                cfg.mqtt.link_settings(cfg.device.id),
                clock=link_clock or watched("mqtt-link", LINK_STALL_S),
                community_id=cfg.device.community, gate_id=cfg.device.gate,
                device_id=cfg.device.id, outbox=outbox,
                state_payload=lambda: state_record(cfg, identity, clock, "online"),
                will_payload=lambda: state_record(cfg, identity, clock, "offline"),
                on_message=inbox.mqtt_message, on_ack_refused=inbox.ack_refused,
            )
            stack.callback(link.stop)
        gate = Gate(cfg, clock, inbox, GateParts(
            identity=identity, door=door, indicator=indicator, outbox=outbox,
            issuer_keys=credentials.KeySet.load(cfg.keys.issuers),
            admin_keys=credentials.KeySet.load(cfg.keys.admins),
            jti_store=jti_store, data_dir=data_dir, link=link, reader_stats=reader.stats,
            heartbeat=watchdog.beat if watchdog is not None else None,
            store_damage=tuple(damage),
        ))
        built = AssembledGate(gate, inbox, door, indicator, outbox, thermometer, sampler,
                              reader, jti_store, link, stack.pop_all())
    return built
