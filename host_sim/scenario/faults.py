"""World events: what happens to the compound's infrastructure, applied and undone.

`begin(event, world)` applies an event and returns how to end it (or None for a one-off), with
the least real time it must last: the broker and the MQTT links run on real time, so an outage
shorter than a reconnect would test nothing, however fast simulated time runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from host_sim.broker import MosquittoBroker
from host_sim.scenario import model
from host_sim.scenario.gate_run import GateRun
from host_sim.scenario.passes import Issuer
from host_sim.scenario.server import CompoundServer

OUTAGE_MIN_REAL_S = 1.5  # longer than the link's first back-off: it really reconnects
# A half-open link is seen after ~1.5 keepalives (5 s in the simulator's gate config).
HALF_OPEN_MIN_REAL_S = 9.0


class World(Protocol):
    """What the events act on (the runner)."""

    broker: MosquittoBroker | None
    server: CompoundServer
    issuer: Issuer
    people_by_label: dict[str, model.Person]

    def gate(self, gate_id: str) -> GateRun: ...
    def publish_list(self) -> None: ...
    def remote_open(self, gate_id: str, expect: str, line: int) -> None: ...


@dataclass
class Ending:
    """How an event ends, and the least real time it must have lasted by then."""

    end: Callable[[], None]
    min_real_s: float = 0.0


def begin(event: model.WorldEvent, world: World) -> Ending | None:
    """Apply `event` now; return its ending when it lasts."""
    kind = event.kind
    if kind == "broker_outage":
        broker = world.broker
        if broker is None:
            raise RuntimeError("broker_outage needs the simulator's own broker (no --broker)")
        broker.stop()

        def restart() -> None:
            broker.start()
        return Ending(restart, OUTAGE_MIN_REAL_S)
    if kind == "status_list":
        for label, status in event.changes.items():
            world.issuer.set_status(world.people_by_label[label].idx, status)
        world.publish_list()
        return None
    gate = world.gate(event.gate)

    def resume() -> None:
        gate.proxy.resume()
    if kind == "network_cut":
        gate.proxy.refuse()
        return Ending(resume, OUTAGE_MIN_REAL_S)
    if kind == "half_open":
        gate.proxy.blackhole()
        return Ending(resume, HALF_OPEN_MIN_REAL_S)
    if kind == "sensor_fault":
        bus = gate.rig.i2c
        assert bus is not None
        bus.disconnect()
        return Ending(bus.reconnect)
    if kind == "camera_stall":
        gate.camera.stall()
        return Ending(lambda: gate.camera.heal())
    if kind == "clock_jump":
        gate.clock.jump(event.seconds)
        return None
    if kind == "power_cut":
        gate.power_cut()
        return Ending(gate.power_restored)
    if kind == "remote_open":
        world.remote_open(event.gate, event.expect, event.line)
        return None
    raise ValueError(f"unknown world event {kind!r}")
