"""The disk under the outbox fills up while signed-command traffic flows through `gatekiosk run`,
then space comes back; nothing uncommitted opens the door, nothing committed is lost.

The gate's data directory is a real small file system: a tmpfs mounted in the gate's own mount
namespace (`unshare -Urm`, no root needed where user namespaces are allowed), so every write
the outbox (and the rest of the data directory) makes meets the kernel's ENOSPC, as on a full
SD card; the gate's code is untouched. The test reaches the file system through
/proc/<pid>/root, fills it with a ballast file, and deletes the ballast to give space back.
(An `RLIMIT_FSIZE` would fail every file the process writes, the pin log and the log among them,
with EFBIG; SQLite's `max_page_count` would need a hook in the firmware and leave the WAL free.)

Checks (DESIGN 2.4: an event is committed before the door moves): while the disk is full, the
relay never goes high from the first `storage_fault` (sent directly, seq 0) until space is back;
commands are refused `busy` but answered (the loop is alive); after space is back the
gate records again in the same stream, every record reaches the server with no gap, and the
pin history holds no opening beyond `door.max_pulse_s`.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from firmware.gate.alarms import UNNUMBERED_STREAM
from host_sim import schemas
from host_sim.broker import MosquittoBroker
from host_sim.community_server import CommunityServer
from host_sim.pin_log import read_pin_log
from host_sim.rig import write_keys

from .gate_process import (
    COMMUNITY,
    DEVICE,
    GATE,
    MAX_PULSE_S,
    Traffic,
    outbox_head,
    outbox_rows,
    pin_log,
    start_gate,
    write_config,
)
from .relay_history import RELAY_PIN, Life, check_relay
from .soak_report import record

pytestmark = pytest.mark.broker

# Room for the outbox's database and its WAL before the ballast takes the rest.
TMPFS = "size=8m"
MOUNT = 'mount -t tmpfs -o {opts} gatekiosk-data "$0" && exec "$@"'


def namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "-Urm", "sh", "-c", MOUNT.format(opts=TMPFS), "/mnt", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def fill(path: Path) -> int:
    """Write `path` until the file system refuses; the bytes written."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    written += os.write(fd, b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return written


def snapshot(inside: Path, dest: Path) -> Path:
    """A copy of the outbox as it stands (database and WAL), for reading from this side.

    SQLite resolves /proc/<pid>/root to this side's `/`, so it cannot open the file in place."""
    dest.mkdir()
    for name in ("outbox.db-wal", "outbox.db"):
        if (inside / name).exists():
            shutil.copyfile(inside / name, dest / name)
    return dest / "outbox.db"


def results(server: CommunityServer, cmd: str, ok: bool | None, since: int) -> list[dict]:
    """The results of `cmd` since the `since`-th, those with `ok` (any when None)."""
    return [r for r in server.cmd_results[since:]
            if r["cmd"] == cmd and ok in (None, r["ok"])]


def wall(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@pytest.mark.skipif(not namespaces_work(), reason="needs unshare -Urm and a tmpfs mount")
@pytest.mark.timeout(300)
def test_a_full_disk_under_traffic_keeps_the_door_locked_and_loses_nothing(tmp_path):
    keys = write_keys(tmp_path / "keys")
    log = tmp_path / "run.log"
    data = tmp_path / "data"
    data.mkdir()
    started = time.monotonic()
    with MosquittoBroker(tmp_path / "broker") as broker:
        server = CommunityServer(broker.host, broker.port, COMMUNITY,
                                 validate=schemas.validate).start()
        config = write_config(tmp_path, broker, keys)
        wrapper = ["unshare", "-Urm", "sh", "-c", MOUNT.format(opts=TMPFS), str(data)]
        gate = start_gate(config, log, wrapper)
        traffic = Traffic(broker, keys["admin"], random.Random(20261203))
        inside = Path(f"/proc/{gate.pid}/root") / data.relative_to("/")
        try:
            assert server.wait_until(lambda: server.states.get(GATE, {}).get("state")
                                     == "online", 120), log.read_text()[-2000:]
            traffic.start()
            assert server.wait_until(lambda: len(results(server, "open", True, 0)) >= 3, 60)
            stream = outbox_head(snapshot(inside, tmp_path / "before"))[0]

            seen = len(server.cmd_results)
            ballast = fill(inside / "ballast")
            assert server.wait_until(lambda: storage_faults(server), 60), "no storage_fault"
            assert server.wait_until(lambda: len(results(server, "open", False, seen)) >= 3, 60)
            # Commands are refused `busy` (their ids cannot be saved against replay), answered.
            assert server.wait_until(lambda: len(results(server, "ping", None, seen)) >= 1, 60)
            refused = len(results(server, "open", False, seen))
            back_at = time.time()
            (inside / "ballast").unlink()

            seen = len(server.cmd_results)
            assert server.wait_until(lambda: len(results(server, "open", True, seen)) >= 2, 60)
            traffic.close()
            db = snapshot(inside, tmp_path / "after")
            head = outbox_head(db)
            assert head[0] == stream, "the outbox started a new stream"
            assert server.wait_until(lambda: server.through(DEVICE, stream) >= head[1], 120)
            rows = outbox_rows(db)
        finally:
            traffic.close()
            gate.terminate()
            exit_code = gate.wait(30)
            ended = time.monotonic()
            server.stop()
    assert exit_code == 0
    assert sorted(rows) == list(range(1, head[1] + 1)), "a seq was taken by a failed write"
    held = {r.seq: r for r in server.records(DEVICE, stream)}
    assert sorted(held) == sorted(rows), server.gaps(DEVICE, stream)
    assert all(held[seq].event_id == event_id for seq, event_id in rows.items())
    assert server.streams(DEVICE) == sorted([stream, UNNUMBERED_STREAM])
    assert server.conflicts == [] and server.problems == []

    full_from = min(wall(a["time"]) for a in storage_faults(server)) - 0.001
    opened_while_full = [lv for lv in read_pin_log(pin_log(log)) if lv.pin == RELAY_PIN
                         and lv.high and full_from <= lv.wall < back_at]
    assert opened_while_full == [], "the door opened for an event that was not committed"
    relay = check_relay(pin_log(log), RELAY_PIN, MAX_PULSE_S,
                        [Life(gate.pid, started, ended, killed=False)])
    assert relay.problems == [] and relay.highs > 0
    assert "Traceback" not in log.read_text()
    record("disk_full", {
        "ballast_bytes": ballast, "opens_refused_while_full": refused, "records": head[1],
        "relay_highs": relay.highs, "seconds": round(time.monotonic() - started, 1),
    })


def storage_faults(server: CommunityServer) -> list[dict]:
    """The storage_fault alarms the gate sent directly (not numbered: the outbox was full)."""
    return [r.payload for r in server.records(DEVICE, UNNUMBERED_STREAM)
            if r.payload.get("alarm") == "storage_fault"]
