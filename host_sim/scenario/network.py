"""What the compound's run does over the real network: status lists, commands, the drain.

The broker, the links and the server run on real time; these hold simulated time (the gates
still take their messages) until the network has done its part, with a real-time limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from host_sim.scenario import model
from host_sim.scenario.gate_run import GateRun
from host_sim.scenario.passes import Issuer
from host_sim.scenario.server import CompoundServer

REAL_WAIT_S = 20.0  # for the network to do something (list delivered, command answered)
DRAIN_S = 60.0


class CompoundNetwork:
    """The runner's network side (mixed into `Runner`, which sets these attributes)."""

    scenario: model.Scenario
    server: CompoundServer
    issuer: Issuer
    gates: dict[str, GateRun]
    failures: list[str]
    now: float
    _list_iat: int

    def _look(self) -> None:
        """Refresh what a view reads (the runner's own)."""

    def publish_list(self, iat: float | None = None) -> None:
        """Publish the status list as it stands, dated now (or `iat`)."""
        if iat is None:
            iat = self.scenario.start_epoch + self.now
        self._list_iat = int(iat)
        self.server.publish_status_list(self.issuer.status_list(iat))
        if self.gates:
            self._wait_for_list()

    def _wait_for_list(self) -> None:
        def held() -> bool:
            return all(not g.powered or _list_iat(g) >= self._list_iat
                       for g in self.gates.values())
        if not self._hold_until(held):
            self.failures.append(f"{self.scenario.source}: a gate never got the status list")

    def remote_open(self, gate_id: str, expect: str, line: int) -> None:
        gate = self.gates[gate_id]
        jti = self.server.send_open(gate_id, gate.clock.time())
        found: list[dict[str, Any]] = []

        def answered() -> bool:
            found[:] = [r for r in self.server.cmd_results if r.get("jti") == jti]
            return bool(found)
        if not self._hold_until(answered):
            self.failures.append(f"{self.scenario.source}:{line}: remote open: no answer")
            return
        result = found[0]
        got = "accepted" if result.get("ok") else str(result.get("reason"))
        if expect not in ("-", got):
            self.failures.append(f"{self.scenario.source}:{line}: remote open: expected "
                                 f"{expect}, got {got}")

    def _hold_until(self, done: Callable[[], bool], limit_s: float = REAL_WAIT_S) -> bool:
        """Hold simulated time while the network works; gates still take their messages."""
        deadline = time.monotonic() + limit_s
        while not done():
            if time.monotonic() > deadline:
                return False
            for g in self.gates.values():
                g.step(0.0, read_camera=False)
            self._look()
            time.sleep(0.01)
        return True

    def drain(self) -> bool:
        """Wait (real time) until the server holds every record each gate committed."""
        for gate in self.gates.values():
            gate.step_to(self.now)
        def delivered() -> bool:
            return all(self.server.through(g.cfg.device.id, g.rig.outbox.stream)
                       >= g.rig.outbox.last_seq() for g in self.gates.values() if g.powered)
        return self._hold_until(delivered, DRAIN_S)


def _list_iat(gate: GateRun) -> int:
    """The `iat` of the status list the gate holds (-1: none)."""
    held = gate.rig.gate.status.status_list
    return -1 if held is None else int(held.iat)
