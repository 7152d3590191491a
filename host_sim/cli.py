"""`gatekiosk-sim` (`make sim`): the gate on simulated hardware against an embedded broker.

Starts a private Mosquitto on a free loopback port, a community-server stand-in that stores and
acknowledges every event, publishes a signed status list, and runs the firmware's gate over
simulated sensor, camera and door while scripted people come and go. The live view shows what
the person at the gate is told, the relay, the last events and the delivery state.

    gatekiosk-sim [--duration SECONDS] [--no-view] [--seed N] [--workdir DIR]
    gatekiosk-sim fleet --help      (a district of gates on a NATS cluster: host_sim/fleet)
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from firmware import config, credentials
from firmware.clock import SystemClock
from firmware.core import status_list as sl
from host_sim import schemas
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer
from host_sim.publisher import publish_status_list
from host_sim.rig import SimRig, write_keys

log = logging.getLogger("gatekiosk-sim")

COMMUNITY = "sim-garden"
GATE = "east-in"
DEVICE = "gate-sim-01"
URI = "https://sim-garden.example/sl/1"
POPULATION = 200

CONFIG = """
[device]
id = "{device}"
community = "{community}"
gate = "{gate}"
direction = "in"
data_dir = "{data_dir}"

[camera]
source = "sim"
width = 640
height = 480

[thermometer]
bus = "sim"

[mqtt]
brokers = ["127.0.0.1:{port}"]
telemetry_period_s = 10.0

[door]
pulse_s = 2.0
cooldown_s = 1.0
"""

# Who walks up, and how often (weights): what a night at an old compound's gate looks like.
VISITORS = (
    ("resident, normal", 60),
    ("resident, fever", 4),
    ("resident, high first reading", 4),
    ("resident, home observation", 4),
    ("resident, walks off before measuring", 3),
    ("visitor pass", 8),
    ("expired pass", 4),
    ("screenshot of someone else's code", 4),
    ("exit button", 8),
    ("door forced", 1),
)


class Script:
    """Scripted people in front of the simulated gate."""

    def __init__(self, rig: SimRig, issuer: dict[str, Any], statuses: list[int], seed: int) -> None:
        self.rig = rig
        self.issuer = issuer
        self.statuses = statuses
        self.rng = random.Random(seed)
        self.visitors = 0
        self.current = "nobody"

    def _pass(self, idx: int, pt: str = "resident", **extra: Any) -> str:
        now = int(self.rig.clock.time())
        claims: dict[str, Any] = {
            "iss": COMMUNITY,
            "sub": f"r-{idx:05d}",
            "pt": pt,
            "iat": now - 86400,
            "exp": now + 30 * 86400,
        }
        if pt != "visitor":
            claims["status"] = {"status_list": {"idx": idx, "uri": URI}}
        claims.update(extra)
        return credentials.sign_token(claims, self.issuer, "gatepass+jwt")

    def one(self, stop: threading.Event) -> None:
        names = [n for n, _ in VISITORS]
        weights = [w for _, w in VISITORS]
        who = self.rng.choices(names, weights)[0]
        self.current = who
        self.visitors += 1
        idx = self.rng.randrange(POPULATION)
        rig = self.rig
        if who == "exit button":
            rig.sim_door.press_exit_button()
            stop.wait(3.0)
            return
        if who == "door forced":
            rig.sim_door.force_open()
            stop.wait(3.0)
            return
        body = 36.2 + self.rng.random() * 0.8
        if who == "resident, home observation":
            idx = next(i for i, s in enumerate(self.statuses) if s == 2)
        elif who == "resident, normal":
            idx = next(
                i for i in range(idx, idx + POPULATION) if self.statuses[i % POPULATION] == 0
            )
            idx %= POPULATION
        if who == "resident, fever":
            body = 38.0 + self.rng.random()
        token = {
            "visitor pass": lambda: self._pass(
                idx, "visitor", jti=f"v-{self.visitors}", exp=int(time.time()) + 7200
            ),
            "expired pass": lambda: self._pass(idx, exp=int(time.time()) - 86400),
            "screenshot of someone else's code": lambda: "WEIXIN-PAY-" + "7" * 40,
        }.get(who, lambda: self._pass(idx))()
        rig.present(token, distance_mm=self.rng.uniform(110, 150))
        if who == "resident, walks off before measuring":
            stop.wait(1.0)
            rig.walk_away()
            stop.wait(8.0)
            return
        stop.wait(0.8)
        if who == "resident, high first reading":
            rig.face_sensor(37.6)
            stop.wait(2.0)
            rig.face_sensor(36.7)
        else:
            rig.face_sensor(body)
        stop.wait(3.5)
        rig.walk_away()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.one(stop)
            except Exception:
                log.exception("scenario step failed")
            self.current = "nobody"
            stop.wait(self.rng.uniform(1.0, 3.0))


class View:
    """The live view: redrawn in place on a terminal, one line per event otherwise."""

    def __init__(self, rig: SimRig, server: CommunityServer, script: Script, live: bool) -> None:
        self.rig = rig
        self.server = server
        self.script = script
        self.live = live
        self.lines: deque[str] = deque(maxlen=10)
        self.lock = threading.Lock()
        self.pending: list[tuple[str, dict[str, Any]]] = []
        rig.gate.record_listeners.append(self.record)

    def record(self, kind: str, p: dict[str, Any]) -> None:
        """Called by the gate after each committed record (on the gate's loop)."""
        with self.lock:
            self.pending.append((kind, p))

    def collect(self) -> None:
        with self.lock:
            taken, self.pending = self.pending, []
        for kind, p in taken:
            row_seq = p["seq"]
            if kind == "event":
                who = p["pass"]["id"] if p.get("pass") else "-"
                temp = p["temperature"]["body_c"] if p.get("temperature") else "-"
                reasons = ",".join(p["reasons"])
                text = f"#{row_seq:<4} {p['kind']:<12} {p['decision']:<8} {who:<8} {temp!s:<6} "
                text += reasons
            else:
                text = f"#{row_seq:<4} ALARM {p['alarm']} {p['state']}"
            self.lines.append(text)
            if not self.live:
                print(text, flush=True)

    def draw(self) -> None:
        if not self.live:
            return
        rig = self.rig
        prompt = rig.prompts.last or {}
        h = rig.gate.health()
        relay = "OPEN" if rig.sim_door.relay_energised else "locked"
        door = "open" if rig.sim_door.is_open else "shut"
        broker = "connected" if rig.gate.link and rig.gate.link.connected else "offline"
        stored = f"{self.server.record_count()} records stored, {self.server.duplicates} duplicates"
        out = [
            "\x1b[H\x1b[2J",
            f"gatekiosk simulator — {COMMUNITY}/{GATE}   (Ctrl-C to stop)",
            "",
            f"  at the gate : {self.script.current}",
            f"  screen      : {prompt.get('zh', '')}  /  {prompt.get('en', '')}",
            f"  phase       : {h['phase']:<10} relay: {relay:<7} door: {door:<5}"
            f" lights: {rig.indicator.current}",
            f"  faults      : {', '.join(h['faults']) or 'none'}",
            f"  outbox      : {h['outbox_depth']} rows, {h['outbox_unsettled']} unsettled"
            f"   broker: {broker}",
            f"  server      : {stored}",
            "",
            "  seq   kind         decision pass     body   reasons",
            *[f"  {line}" for line in self.lines],
        ]
        sys.stdout.write("\n".join(out) + "\n")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["fleet"]:
        from host_sim.fleet.cli import main as fleet_main

        return fleet_main(args_in[1:])
    parser = argparse.ArgumentParser(prog="gatekiosk-sim", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=0.0, help="seconds to run (0: until Ctrl-C)"
    )
    parser.add_argument("--no-view", action="store_true", help="print events as lines instead")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", help="keep keys, config and outbox here (default: temporary)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    workdir = (
        Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="gatekiosk-sim-"))
    )
    workdir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    with MosquittoBroker(workdir / "broker") as broker:
        keys = write_keys(workdir / "keys")
        cfg_text = CONFIG.format(
            device=DEVICE,
            community=COMMUNITY,
            gate=GATE,
            data_dir=workdir / "data",
            port=broker.port,
        )
        (workdir / "gatekiosk.toml").write_text(cfg_text)
        cfg = config.parse(cfg_text, str(workdir / "gatekiosk.toml"))
        server = CommunityServer(
            broker.host, broker.port, COMMUNITY, validate=schemas.validate
        ).start()
        rng = random.Random(args.seed)
        statuses = [rng.choices([0, 1, 2, 3], [90, 3, 5, 2])[0] for _ in range(POPULATION)]
        statuses[0] = 2  # at least one person in home observation
        now = int(time.time())
        list_token = credentials.sign_token(
            {
                "sub": URI,
                "iat": now,
                "exp": now + 86400,
                "status_list": {"bits": 2, "lst": sl.encode_lst(statuses)},
            },
            keys["issuer"],
            "statuslist+jwt",
        )
        publish_status_list(broker.host, broker.port, COMMUNITY, list_token)
        clock = SystemClock(lambda: True)
        rig = SimRig(cfg, workdir, clock=clock, keys=keys, seed=args.seed, with_link=True)
        link = rig.link
        assert link is not None
        link.start()
        script = Script(rig, keys["issuer"], statuses, args.seed)
        view = View(rig, server, script, live=sys.stdout.isatty() and not args.no_view)
        people = threading.Thread(target=script.run, args=(stop,), name="people", daemon=True)
        people.start()
        started = time.monotonic()
        next_draw = 0.0
        try:
            while not args.duration or time.monotonic() - started < args.duration:
                rig.step(0.1)
                now_m = time.monotonic()
                if now_m >= next_draw:
                    view.collect()
                    view.draw()
                    next_draw = now_m + 0.5
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            people.join(10)
            # Let the last events reach the server before closing the link.
            last = rig.outbox.last_seq()
            server.wait_until(lambda: server.through(DEVICE, rig.outbox.stream) >= last, 10.0)
            view.collect()
            link.stop()
            summary = {
                "visitors": script.visitors,
                "events_committed": last,
                "server_through_seq": server.through(DEVICE, rig.outbox.stream),
                "gaps": server.gaps(DEVICE, rig.outbox.stream),
                "schema_problems": server.problems[:5],
                "workdir": str(workdir),
            }
            rig.close()
            server.stop()
    print(json.dumps(summary, indent=2))
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    ok = summary["server_through_seq"] == summary["events_committed"] and not summary["gaps"]
    return 0 if ok and not summary["schema_problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
