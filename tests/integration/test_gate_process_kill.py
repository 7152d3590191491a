"""The gate process itself SIGKILLed at random moments and started again on the same outbox.

Afterwards every record it reported committed is at the server, seq has no gap, and every
duplicate carries the same event_id. The broker publishes the retained last will when the
process dies.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from firmware.clock import SystemClock
from firmware.store.outbox import Outbox
from host_sim.community_server import CommunityServer
from host_sim.schemas import validate

pytestmark = pytest.mark.broker

REPO = Path(__file__).resolve().parents[2]
SEED = 20261122


class GateProcess:
    """`python -m host_sim.outbox_writer` with its output collected line by line."""

    def __init__(self, db: Path, broker: str, kit, *extra: str) -> None:
        self.committed: list[tuple[int, str]] = []
        self.boot_id: str | None = None
        self.drained = False
        self._cond = threading.Condition()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "host_sim.outbox_writer", "--db", str(db), "--broker", broker,
             "--community", kit.COMMUNITY, "--gate", kit.GATE, "--device", kit.DEVICE, *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            words = line.split()
            with self._cond:
                if words[:1] == ["committed"]:
                    self.committed.append((int(words[1]), words[2]))
                elif words[:1] == ["started"]:
                    self.boot_id = words[4]
                elif words[:1] == ["drained"]:
                    self.drained = True
                self._cond.notify_all()

    def wait_for(self, predicate, timeout_s: float = 20.0) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout_s)

    def kill(self) -> None:
        self._proc.kill()
        self._proc.wait(10)
        self._reader.join(10)

    def wait_exit(self, timeout_s: float = 30.0) -> int:
        code = self._proc.wait(timeout_s)
        self._reader.join(10)
        return code

    def stderr(self) -> str:
        assert self._proc.stderr is not None
        return self._proc.stderr.read()


def test_gate_process_killed_at_random_moments_loses_nothing(
        tmp_path, mosquitto, community_server, kit):
    rng = random.Random(SEED)
    db = tmp_path / "outbox.db"
    # A long ack timeout: what was in flight at a kill must come back through the restart's
    # re-sending of unsettled rows, not through the timeout.
    common = ("--count", "150", "--interval", "0.01", "--alarm-every", "6", "--ack-timeout", "60")
    reported: list[tuple[int, str]] = []
    for _ in range(4):
        gate = GateProcess(db, mosquitto.address, kit, *common)
        target = rng.randint(8, 30)
        assert gate.wait_for(lambda g=gate, t=target: len(g.committed) >= t), gate.stderr()
        gate.kill()
        reported += gate.committed
    final = GateProcess(db, mosquitto.address, kit, *common, "--exit-when-drained")
    assert final.wait_exit() == 0, final.stderr()
    assert final.drained
    reported += final.committed

    with Outbox(db, clock=SystemClock()) as outbox:
        stream, last = outbox.stream, outbox.last_seq()
        assert outbox.unsettled() == 0
    assert last == 150
    server = community_server
    assert server.through(kit.DEVICE, stream) == last
    assert server.seqs(kit.DEVICE, stream) == list(range(1, last + 1))
    assert server.streams(kit.DEVICE) == [stream]
    held = {r.seq: r.event_id for r in server.records(kit.DEVICE, stream)}
    assert all(held[seq] == event_id for seq, event_id in reported)
    assert len({seq for seq, _ in reported}) == len(reported)  # nothing numbered twice
    assert server.conflicts == [] and server.problems == []


def test_last_will_offline_is_retained_when_the_gate_process_is_killed(
        tmp_path, mosquitto, community_server, kit):
    gate = GateProcess(tmp_path / "outbox.db", mosquitto.address, kit, "--count", "3")
    assert gate.wait_for(lambda: gate.drained), gate.stderr()
    server = community_server
    assert server.wait_until(lambda: server.states.get(kit.GATE, {}).get("state") == "online", 10)
    assert server.states[kit.GATE]["boot_id"] == gate.boot_id
    gate.kill()
    assert server.wait_until(lambda: server.states[kit.GATE]["state"] == "offline", 10)
    assert server.states[kit.GATE]["boot_id"] == gate.boot_id
    with CommunityServer(mosquitto.host, mosquitto.port, kit.COMMUNITY, client_id="observer",
                         validate=validate, persistent_session=False) as late:
        assert late.wait_until(lambda: kit.GATE in late.states, 5)
        _gate, record, retained = late.state_history[0]
        assert retained and record["state"] == "offline" and record["boot_id"] == gate.boot_id
        assert late.problems == []
