"""A whole gate on simulated hardware: the firmware's own `Gate` over simulated devices.

Everything below the ports is the real code: the Adafruit MLX90614 driver over a
register-level fake I2C bus, gpiozero devices on MockFactory pins under a door model, the real
QR decoder on rendered camera frames, the SQLite outbox. With a `ManualClock` a day of traffic
runs in seconds (`step()` moves time); with the system clock the devices run their own threads.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from firmware import credentials
from firmware.cli.run import open_outbox
from firmware.clock import ManualClock
from firmware.commands.auth import SqliteJtiStore
from firmware.config import Config
from firmware.devices import door_config, thermometer_settings
from firmware.gate.gate import Gate, Inbox
from firmware.hw.code_reader import CodeReader
from firmware.hw.door import Door, start_thread_timer
from firmware.hw.indicator import Indicator
from firmware.hw.qr_decode import make_decoder
from firmware.hw.thermometer import Thermometer, ThermometerSampler
from host_sim import camera_sim, mlx90614_sim
from host_sim.door_sim import ManualTimers, SimDoor

log = logging.getLogger(__name__)

SKIN_EMISSIVITY = 0.98


class RecordingPrompts:
    """A prompt sink that keeps what the person was told (English line for logs)."""

    def __init__(self, on_prompt: Callable[[dict[str, str]], None] | None = None) -> None:
        self.history: list[dict[str, str]] = []
        self._on_prompt = on_prompt

    def prompt(self, text_by_lang: dict[str, str]) -> None:
        self.history.append(dict(text_by_lang))
        if self._on_prompt is not None:
            self._on_prompt(text_by_lang)

    @property
    def last(self) -> dict[str, str] | None:
        return self.history[-1] if self.history else None


def write_keys(workdir: Path, *, kid: str = "iss1", admin_kid: str = "adm1") -> dict[str, Any]:
    """Make issuer and admin key pairs; write the public JWKS files the gate trusts."""
    issuer = credentials.generate_keypair(kid, "EdDSA")
    admin = credentials.generate_keypair(admin_kid, "EdDSA")
    workdir.mkdir(parents=True, exist_ok=True)
    issuers_path = workdir / "issuers.jwks"
    admins_path = workdir / "admins.jwks"
    issuers_path.write_text(json.dumps({"keys": [credentials.public_jwk(issuer)]}))
    admins_path.write_text(json.dumps({"keys": [credentials.public_jwk(admin)]}))
    return {
        "issuer": issuer,
        "admin": admin,
        "issuers_path": issuers_path,
        "admins_path": admins_path,
    }


def skin_for_body(cfg: Config, body_c: float, ambient_c: float) -> float:
    """The forehead temperature that the configured model turns into `body_c`."""
    m = cfg.temperature.model
    return (body_c - m.ambient_slope * ambient_c - m.intercept) / m.gain


class SimRig:
    """The firmware's gate wired to simulated devices in `workdir`."""

    def __init__(
        self,
        cfg: Config,
        workdir: Path,
        *,
        clock: Any,
        ambient_c: float = 22.0,
        seed: int = 0,
        link: Any = None,
        keys: dict[str, Any] | None = None,
        camera_size: tuple[int, int] = (640, 480),
        on_prompt: Callable[[dict[str, str]], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.workdir = Path(workdir)
        self.clock = clock
        self.keys = keys or write_keys(self.workdir)
        self.manual = isinstance(clock, ManualClock)
        self.timers = ManualTimers(clock) if self.manual else None
        start_timer = self.timers.start if self.timers else start_thread_timer
        self.factory = MockFactory()
        self.inbox = Inbox()

        pins = cfg.pins
        # The simulated door claims its pins first so the real door code drives these pins.
        self.sim_door = SimDoor(self.factory, pins, start_timer=start_timer)
        self.door = Door(
            pins,
            door_config(cfg),
            clock=clock,
            on_alarm=self.inbox.door_alarm,
            on_exit_request=self.inbox.exit_request,
            start_timer=start_timer,
            pin_factory=self.factory,
        )
        self.prompts = RecordingPrompts(on_prompt)
        self.indicator = Indicator(pins, prompt_sink=self.prompts, pin_factory=self.factory)

        t = cfg.thermometer
        self.scene = mlx90614_sim.Scene(
            clock, ambient_c, object_emissivity=SKIN_EMISSIVITY, seed=seed
        )
        self.i2c = mlx90614_sim.FakeMLX90614Bus(self.scene, address=t.address)
        self.thermometer = Thermometer(self.i2c, thermometer_settings(cfg), clock)
        self.sampler = ThermometerSampler(
            self.thermometer,
            clock,
            self.inbox.sample,
            self.inbox.sensor_fault,
            self.inbox.sensor_recovered,
        )
        self.camera = camera_sim.SimCamera(camera_size, clock=clock, seed=seed)
        self.reader = CodeReader(
            self.camera,
            make_decoder(cfg.camera.decoder),
            clock,
            self.inbox.code,
            self.inbox.camera_fault,
            self.inbox.camera_recovered,
            absence_s=cfg.camera.absence_s,
        )
        data_dir = self.workdir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = open_outbox(cfg, data_dir, clock)
        self.jti_store = SqliteJtiStore(data_dir / "commands.db")
        self.gate = Gate(
            cfg,
            clock=clock,
            inbox=self.inbox,
            door=self.door,
            indicator=self.indicator,
            outbox=self.outbox,
            issuer_keys=credentials.KeySet.load(self.keys["issuers_path"]),
            admin_keys=credentials.KeySet.load(self.keys["admins_path"]),
            jti_store=self.jti_store,
            data_dir=data_dir,
            boot_id=str(uuid.uuid4()),
            link=link,
            reader_stats=self.reader.stats,
        )

    # -- people -----------------------------------------------------------------------------

    def present(self, code_text: str, *, distance_mm: float = 150.0, **card: Any) -> None:
        """Someone holds a phone with `code_text` in front of the camera."""
        self.camera.show(camera_sim.Card(code_text, distance_mm=distance_mm, **card))

    def face_sensor(self, body_c: float) -> None:
        """Their forehead comes into the thermometer's view with this core temperature."""
        ambient = self.scene.ambient_c()
        self.scene.arrive(skin_c=skin_for_body(self.cfg, body_c, ambient))

    def walk_away(self) -> None:
        self.camera.clear()
        self.scene.leave()

    # -- time -------------------------------------------------------------------------------

    def step(self, seconds: float = 0.125, *, read_camera: bool = True) -> None:
        """Move simulated time on by `seconds`: one sensor sample, one frame, one loop turn."""
        if self.timers is not None:
            self.timers.advance(seconds)
        else:
            self.clock.sleep(seconds)  # real time: device threads and timers run meanwhile
        self.sampler.step()
        if read_camera:
            self.reader.step()
        self.gate.process_pending()

    def run_for(self, seconds: float, dt: float = 0.125, *, read_camera: bool = True) -> None:
        steps = max(1, round(seconds / dt))
        for _ in range(steps):
            self.step(dt, read_camera=read_camera)

    def close(self) -> None:
        for closer in (self.reader.stop, self.sampler.stop, self.door.close, self.indicator.close):
            try:
                closer()
            except Exception:
                log.exception("closing %r failed", closer)
        self.outbox.close()
