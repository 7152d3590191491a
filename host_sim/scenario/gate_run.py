"""One gate of a simulated compound: the firmware on its own simulated hardware and data dir.

Each gate has its own `SimClock` (a ManualClock that can also jump), its own TCP proxy in front
of the broker (so its network can be cut or half-opened alone), its own SimRig built by the
firmware's `build_gate`, and a queue of people waiting in front of it. A power cut drops the
rig — devices, timers, process state — and builds a new one on the same data dir.
"""

from __future__ import annotations

import logging
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

from firmware import config
from firmware.clock import ManualClock, SystemClock
from host_sim.camera_sim import SimCamera
from host_sim.mlx90614_filter import SettlingFilter, settle_s_for
from host_sim.rig import SimRig
from host_sim.scenario import model
from host_sim.scenario.flat_camera import FlatCardCamera
from host_sim.tcp_proxy import TcpProxy

log = logging.getLogger(__name__)

GATE_CONFIG = """
[device]
id = "{device}"
community = "{community}"
gate = "{gate}"
direction = "{direction}"
[policy]
open_hours = {open_hours}
[camera]
source = "sim"
width = 640
height = 480
[thermometer]
bus = "sim"
[mqtt]
brokers = ["127.0.0.1:{port}"]
keepalive = 5
backoff_initial_s = 0.2
backoff_max_s = 1.0
telemetry_period_s = 300.0
[screen]
enabled = {screen}
port = {screen_port}
[voice]
enabled = false
"""


QUIET_JUMP_S = 1.0  # a step longer than this skips sensor reads
# Below the thermometer's stuck_after_s (30 s): one chance repeat of a noisy word across a
# jump must not look like a stuck sensor (a few more reads per jump, below).
MAX_JUMP_S = 25.0
EXTRA_READS_PER_JUMP = 1  # with MAX_JUMP_S, a false "stuck" needs ~9 equal noisy words in a row


class SimClock(ManualClock):
    """A ManualClock whose wall time can also jump (NTP stepping it, a mis-set RTC)."""

    def jump(self, seconds: float) -> None:
        """Move wall time by `seconds` (either way); monotonic time does not move."""
        with self._lock:
            self._wall += seconds


def _tables_text(tables: dict[str, Any]) -> str:
    """TOML text for a dict of tables of plain values."""
    out = []
    for table, values in tables.items():
        if not isinstance(values, dict):
            continue
        out.append(f"[{table}]")
        out += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def gate_config_text(scenario: model.Scenario, spec: model.GateSpec, broker_port: int,
                     screen_port: int) -> str:
    """The gate's TOML: generated defaults, then the scenario's and the gate's own tables."""
    extra = _deep_merge(scenario.config, spec.config)
    text = GATE_CONFIG.format(
        device=f"dev-{spec.id}", community=scenario.community, gate=spec.id,
        direction=spec.direction, open_hours=_toml_value(spec.open_hours), port=broker_port,
        screen="true" if screen_port else "false", screen_port=screen_port or 8310)
    # The scenario's tables override the generated ones key by key.
    return _tables_text(_deep_merge(tomllib.loads(text), extra))


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in a.items()}
    for key, value in b.items():
        if isinstance(value, dict):
            merged.setdefault(key, {}).update(value)
        else:
            merged[key] = value
    return merged


class GateRun:
    """A gate in the compound, with what happened to it."""

    def __init__(self, scenario: model.Scenario, spec: model.GateSpec, workdir: Path,
                 broker: tuple[str, int], keys: dict[str, Any], *, screen_port: int = 0) -> None:
        self.spec = spec
        self.workdir = workdir
        self.keys = keys
        self.seed = scenario.seed
        self.ambient_c = scenario.ambient_c
        self.settle_s = settle_s_for(scenario.thermometer_part)
        self.clock = SimClock(start=scenario.start_epoch)
        self.proxy = TcpProxy(*broker).start()
        self.screen_port = screen_port
        text = gate_config_text(scenario, spec, self.proxy.port, screen_port)
        self.cfg = config.parse(text, f"{spec.id}.toml")
        self.lock = threading.RLock()  # held while the rig is stepped or rebuilt
        self.rigs: list[SimRig] = []
        self.powered = False
        self.records: list[tuple[str, dict[str, Any]]] = []  # everything this gate committed
        self.listeners: list[Any] = []
        self.health: dict[str, Any] = {}  # the gate's health, as of the runner's last look
        self.sim_t = 0.0  # the scenario second this gate's time has reached
        self.next_frame_at = 0.0  # scenario seconds of the next camera frame to read
        self.relay_high: list[tuple[float, float]] = []  # (gate monotonic, perf_counter)
        self.power_on()

    @property
    def rig(self) -> SimRig:
        return self.rigs[-1]

    def power_on(self) -> None:
        """Boot the firmware on this gate's data dir (a new process, new devices)."""
        with self.lock:
            rig = SimRig(self.cfg, self.workdir, clock=self.clock, keys=self.keys,
                         ambient_c=self.ambient_c, seed=self.seed + len(self.rigs),
                         with_link=True, link_clock=SystemClock(lambda: True),
                         with_face=bool(self.screen_port), camera_wrapper=self._wrap_camera)
            # The runner paces frames itself; the camera must not move this gate's clock.
            rig.camera._clock = None
            rig.scene.filter = SettlingFilter(self.settle_s)
            rig.gate.record_listeners.append(self._recorded)
            self._watch_relay(rig)
            self.rigs.append(rig)
            self.powered = True
            assert rig.link is not None
            rig.link.start()

    def _watch_relay(self, rig: SimRig) -> None:
        """Note when the relay pin goes to its active level (gate time and real time)."""
        door = rig.sim_door
        model_listener = door.relay_pin.listener
        active = rig.cfg.pins.relay_active_high

        def changed(level: bool) -> None:
            if model_listener is not None:
                model_listener(level)
            if level == active:
                self.relay_high.append((self.clock.monotonic(), time.perf_counter()))
        door.relay_pin.listener = changed

    def _wrap_camera(self, sim: SimCamera) -> FlatCardCamera:
        self.camera = FlatCardCamera(sim)
        return self.camera

    def power_cut(self) -> None:
        """Power fails: the network goes first, then every device and the process state."""
        with self.lock:
            if not self.powered:
                return
            self.proxy.refuse()
            self.powered = False
            self.rig.close()

    def power_restored(self) -> None:
        with self.lock:
            self.proxy.resume()
            self.power_on()

    def _recorded(self, kind: str, payload: dict[str, Any]) -> None:
        self.records.append((kind, payload))
        for listener in list(self.listeners):
            listener(self.spec.id, kind, payload)

    def step_to(self, t: float, read_camera: bool = False) -> None:
        """Bring this gate's time up to scenario second `t`, in jumps of at most MAX_JUMP_S."""
        while t - self.sim_t > MAX_JUMP_S:
            self.sim_t += MAX_JUMP_S
            self.step(MAX_JUMP_S, read_camera=False)
        dt = max(0.0, t - self.sim_t)
        self.sim_t += dt
        self.step(dt, read_camera)

    def step(self, dt: float, read_camera: bool) -> None:
        """Move this gate's time by `dt` (nothing runs while its power is off)."""
        with self.lock:
            if not self.powered:
                self.clock.advance(dt)
                return
            self.rig.step(dt, read_camera=read_camera)
            if dt > QUIET_JUMP_S:
                # A jump stands for many 8 Hz reads: a few more at its end keep the sensor's
                # noise visible to the firmware's stuck-sensor check, as the reads it skipped
                # would have.
                for _ in range(EXTRA_READS_PER_JUMP):
                    self.rig.sampler.step()

    def look(self) -> None:
        """Take the gate's health (on the runner's thread: the outbox is not shared)."""
        with self.lock:
            if self.powered:
                self.health = self.rig.gate.health()

    def busy(self) -> bool:
        """Something is going on that needs fine time steps."""
        if not self.powered:
            return False
        rig = self.rig
        return rig.gate.phase != "idle" or (rig.timers is not None and rig.timers.pending() > 0)

    def relay_history(self) -> list[list[tuple[float, bool]]]:
        """Each boot's relay pin history: (time, level) as MockPin recorded it."""
        return [[(s.timestamp, bool(s.state)) for s in rig.sim_door.relay_pin.states]
                for rig in self.rigs]

    def close(self) -> None:
        with self.lock:
            if self.powered:
                self.powered = False
                self.rig.close()
        self.proxy.stop()
