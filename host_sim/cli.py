"""`gatekiosk-sim` (`make sim`): a whole compound on simulated hardware, with a live web view.

Starts a private Mosquitto on a free loopback port (or uses `--broker`), the community-server
stand-in, one firmware instance per gate of the scenario, and plays the scenario on simulated
time. The live view is a local web page (URL printed); `--headless` runs without it, exits when
the scenario ends and prints the server's summary as one JSON line, last on stdout. Exit status
0 only when every expectation held and nothing was lost.

    gatekiosk-sim [run] [--scenario FILE] [--speed N|max] [--seed N] [--gates N]
                  [--headless] [--broker HOST:PORT] [--workdir DIR]

    gatekiosk-sim fleet --help      (a district of gates on a NATS cluster: host_sim/fleet)

Other subcommands register in `SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from host_sim.scenario import DAY_SCENARIO, verdict
from host_sim.scenario.load import ScenarioError, load
from host_sim.scenario.model import Crowd, GateSpec, Scenario
from host_sim.scenario.runner import Runner

log = logging.getLogger("gatekiosk-sim")

DEFAULT_SPEED = -1.0  # not given: as fast as possible headless, VIEW_SPEED with the view
VIEW_SPEED = 60.0

# name -> main(argv); `run` is the default when the first argument is not a subcommand.
def _fleet(argv: list[str]) -> int:
    from host_sim.fleet.cli import main as fleet_main

    return fleet_main(argv)


SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {"fleet": _fleet}


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be above 0, or max")
    return value


def _broker(text: str) -> tuple[str, int]:
    address = text.split("://", 1)[-1].rstrip("/")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT or mqtt://HOST:PORT, not {text!r}")
    return host, int(port)


def with_gates(scenario: Scenario, count: int) -> Scenario:
    """The scenario on its first `count` gates; more than it has repeats its last gate's
    traffic on copies (`<id>-2`, `<id>-3`, ...)."""
    if count <= 0:
        return scenario
    gates = scenario.gates[:count]
    crowds = [c for c in scenario.crowds if c.gate in {g.id for g in gates}]
    last = scenario.gates[-1]
    for n in range(len(gates), count):
        copy = GateSpec(f"{last.id}-{n + 1}", last.direction, list(last.open_hours),
                        dict(last.config))
        gates.append(copy)
        crowds += [Crowd(copy.id, c.from_h, c.per_hour, c.mix, c.line)
                   for c in scenario.crowds if c.gate == last.id]
    kept = {g.id for g in gates}
    people = [p for p in scenario.people if all(v.gate in kept for v in p.visits)]
    events = [e for e in scenario.events if not e.gate or e.gate in kept]
    return dataclasses.replace(scenario, gates=gates, crowds=crowds, people=people,
                               events=events)


def run_main(argv: list[str]) -> int:
    """Play one scenario; see the module docstring."""
    parser = argparse.ArgumentParser(prog="gatekiosk-sim", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=DAY_SCENARIO,
                        help="scenario TOML (default: the built-in day at an old compound)")
    parser.add_argument("--speed", type=_speed, default=DEFAULT_SPEED,
                        help="simulated time N× faster than real, or max (default: max "
                             "headless, 60 with the view)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--gates", type=int, default=0, help="run on this many gates")
    parser.add_argument("--headless", action="store_true", help="no view; exit at the end")
    parser.add_argument("--broker", type=_broker, help="an external broker, HOST:PORT")
    parser.add_argument("--workdir", type=Path, help="keep data here (default: temporary)")
    parser.add_argument("--port", type=int, default=0, help="the view's port (default: free)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        scenario = load(args.scenario)
    except ScenarioError as exc:
        print(f"gatekiosk-sim: {exc}", file=sys.stderr)
        return 2
    if args.seed is not None:
        scenario = dataclasses.replace(scenario, seed=args.seed)
    scenario = with_gates(scenario, args.gates)
    speed = args.speed
    if speed == DEFAULT_SPEED:
        speed = None if args.headless else VIEW_SPEED
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gatekiosk-sim-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def progress(text: str) -> None:
        print(f"gatekiosk-sim: {text}", file=sys.stderr, flush=True)

    runner = Runner(scenario, workdir, broker=args.broker, speed=speed,
                    with_screens=not args.headless, progress=progress)
    view = None
    try:
        if not args.headless:
            from host_sim.view.server import ViewServer

            view = ViewServer(runner, port=args.port).start()
            print(f"gatekiosk-sim: live view at {view.url}", flush=True)
        interrupted = False
        try:
            runner.run()
        except KeyboardInterrupt:
            interrupted = True
            progress("interrupted")
        drained = runner.drain()
        problems = verdict.failures(runner, drained)
        summary = verdict.summary(runner, problems)
        for problem in problems:
            progress(f"FAILED {problem}")
        if view is not None and not interrupted:
            progress("scenario over; the view stays up until Ctrl-C")
            view.finished(summary)
            with contextlib.suppress(KeyboardInterrupt):
                view.wait()
    finally:
        # Shutting down: a second Ctrl-C must not cost the summary line or leave the broker.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if view is not None:
            view.stop()
        runner.close()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    return 0 if summary["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        return SUBCOMMANDS[args[0]](args[1:])
    if args and args[0] == "run":
        args = args[1:]
    return run_main(args)


if __name__ == "__main__":
    sys.exit(main())
