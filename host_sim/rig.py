"""A whole gate on simulated hardware: the firmware's own `Gate` over simulated devices.

Everything below the ports is the real code: the Adafruit MLX90614 driver over a
register-level fake I2C bus, gpiozero devices on MockFactory pins under a door model, the real
QR decoder on rendered camera frames, the SQLite outbox. With a `ManualClock` a day of traffic
runs in seconds (`step()` moves time); with the system clock the devices run their own threads.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware import credentials
from firmware.assemble import build_gate
from firmware.config import Config
from firmware.watchdog import DEVICE_STALL_S, Watchdog
from host_sim import camera_sim
from host_sim.hardware import SimHardware

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
    """The firmware's gate wired to simulated devices in `workdir`, by the firmware's own
    `build_gate`: the configuration's keys and data dir are pointed into `workdir`."""

    def __init__(
        self,
        cfg: Config,
        workdir: Path,
        *,
        clock: Any,
        ambient_c: float = 22.0,
        seed: int = 0,
        with_link: bool = False,
        keys: dict[str, Any] | None = None,
        camera_size: tuple[int, int] = (640, 480),
        on_prompt: Callable[[dict[str, str]], None] | None = None,
        watchdog: Watchdog | None = None,
        device_stall_s: float = DEVICE_STALL_S,
        link_clock: Any = None,
        with_face: bool = False,
        camera_wrapper: Callable[[camera_sim.SimCamera], Any] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.clock = clock
        self.keys = keys or write_keys(self.workdir)
        self.cfg = dataclasses.replace(
            cfg,
            device=dataclasses.replace(cfg.device, data_dir=str(self.workdir / "data")),
            keys=dataclasses.replace(
                cfg.keys,
                issuers=str(self.keys["issuers_path"]),
                admins=str(self.keys["admins_path"]),
            ),
        )
        self.prompts = RecordingPrompts(on_prompt)
        self.hardware = SimHardware.rig(
            clock,
            prompt_sink=self.prompts,
            ambient_c=ambient_c,
            seed=seed,
            camera_size=camera_size,
            object_emissivity=SKIN_EMISSIVITY,
            camera_wrapper=camera_wrapper,
        )
        self.timers = self.hardware.timers
        self.built = build_gate(
            self.cfg, self.hardware, clock, with_link=with_link, watchdog=watchdog,
            device_stall_s=device_stall_s, link_clock=link_clock, with_face=with_face,
        )
        assert self.hardware.sim_door is not None and self.hardware.scene is not None
        assert self.hardware.sim_camera is not None
        self.sim_door = self.hardware.sim_door
        self.scene = self.hardware.scene
        self.camera = self.hardware.sim_camera
        self.factory = self.hardware.pin_factory
        self.gate = self.built.gate
        self.inbox = self.built.inbox
        self.door = self.built.door
        self.indicator = self.built.indicator
        self.outbox = self.built.outbox
        self.jti_store = self.built.jti_store
        self.thermometer = self.built.thermometer
        self.i2c = self.hardware.i2c
        self.sampler = self.built.sampler
        self.reader = self.built.reader
        self.link = self.built.link

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
        """Stop the link and the devices and release everything (the relay ends off)."""
        try:
            self.built.close()
        except Exception:
            log.exception("closing the simulated gate failed")
