"""What the live view shows, read from the running compound: one JSON-able snapshot, and each
gate's camera view as a small PNG rendered on request (never stored)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
from PIL import Image

from host_sim import camera_sim
from host_sim.scenario.gate_run import GateRun
from host_sim.scenario.runner import Runner

PREVIEW_SIZE = (320, 240)


def gate_state(gate: GateRun) -> dict[str, Any]:
    """One gate's devices and delivery state, as the view shows them."""
    if not gate.powered:
        return {"id": gate.spec.id, "direction": gate.spec.direction, "powered": False}
    rig = gate.rig
    health = gate.health
    link = rig.link.status() if rig.link is not None else {}
    relay = rig.sim_door.relay_energised
    scene = rig.scene
    skin = scene.skin_c()
    return {
        "id": gate.spec.id,
        "direction": gate.spec.direction,
        "powered": True,
        "screen": f"http://127.0.0.1:{gate.screen_port}/" if gate.screen_port else None,
        "phase": health.get("phase"),
        "faults": health.get("faults", []),
        "relay": "energised" if relay else "off",
        "relay_changes": len(rig.sim_door.relay_pin.states),
        "door": "open" if rig.sim_door.is_open else "shut",
        "leds": rig.indicator.current,
        "temperature": {"ambient_c": round(scene.ambient_c(), 2),
                        "forehead_c": None if skin is None else round(skin, 2)},
        "online": bool(link.get("connected")),
        "reconnects": link.get("reconnects"),
        "outbox_depth": health.get("outbox_depth"),
        "outbox_unsettled": health.get("outbox_unsettled"),
        "clock": dt.datetime.fromtimestamp(gate.clock.time(), dt.UTC).isoformat(),
    }


def snapshot(runner: Runner, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole compound now."""
    scenario = runner.scenario
    local = dt.timezone(dt.timedelta(hours=8))
    when = dt.datetime.fromtimestamp(scenario.start_epoch + runner.now, local)
    return {
        "scenario": scenario.name,
        "sim_s": round(runner.now, 2),
        "sim_time": when.isoformat(timespec="seconds"),
        "duration_s": scenario.duration_s,
        "speed": "max" if runner.speed is None else runner.speed,
        "paused": runner.paused.is_set(),
        "gates": [gate_state(g) for g in runner.gates.values()],
        "server": {"records": runner.server.record_count(),
                   "duplicates": runner.server.duplicates,
                   "problems": len(runner.server.problems)},
        "visits": len(runner.outcomes),
        "decided": sum(1 for o in runner.outcomes if o.record is not None),
        "summary": summary,
    }


def camera_png(gate: GateRun) -> bytes:
    """The gate's camera view now, downscaled, as PNG bytes."""
    flat = gate.camera.current_frame()
    if flat is None:
        frame = camera_sim.render_scene(gate.rig.camera.scene, gate.rig.camera.size,
                                        np.random.default_rng(0))
    else:
        frame = flat
    image = Image.fromarray(np.asarray(frame, dtype=np.uint8)).resize(PREVIEW_SIZE)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
