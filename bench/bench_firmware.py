"""The running firmware: `gatekiosk run` as the service runs it, on simulated devices against a
private Mosquitto, timed from spawn to systemd's READY=1 (over a real notify socket) and to the
retained `online` birth record at the broker; its resident memory once ready and after a while.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from host_sim.broker import MosquittoBroker
from host_sim.rig import write_keys

STARTS = 5
SETTLE_S = 20.0  # how long the gate runs before its memory is read again
TIMEOUT_S = 60.0

CONFIG = """
[device]
id = "gate-bench-1"
community = "bench-garden"
gate = "north-in"
data_dir = "{data}"
[thermometer]
bus = "sim"
[camera]
source = "sim"
[keys]
issuers = "{issuers}"
admins = "{admins}"
[mqtt]
brokers = ["{broker}"]
[screen]
enabled = false
[voice]
enabled = false
"""


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _one_start(config: Path, work: Path, settle_s: float) -> dict[str, Any]:
    notify_path = work / "notify.sock"
    notify_path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    sock.settimeout(0.2)
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock", NOTIFY_SOCKET=str(notify_path),
               WATCHDOG_USEC="10000000")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware.cli", "run", "--config", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    ready_s = None
    try:
        deadline = started + TIMEOUT_S
        while ready_s is None and time.perf_counter() < deadline and proc.poll() is None:
            try:
                message = sock.recv(4096).decode(errors="replace")
            except TimeoutError:
                continue
            if "READY=1" in message.split("\n"):
                ready_s = time.perf_counter() - started
        rss_ready = _rss_kb(proc.pid)
        if settle_s:
            time.sleep(settle_s)
        rss_later = _rss_kb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()
    return {"ready_s": ready_s, "rss_kb_ready": rss_ready, "rss_kb_later": rss_later}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gk-bench-run-") as tmp:
        work = Path(tmp)
        keys = write_keys(work / "keys")
        with MosquittoBroker(work / "broker") as broker:
            config = work / "gatekiosk.toml"
            config.write_text(CONFIG.format(
                data=work / "data", issuers=keys["issuers_path"], admins=keys["admins_path"],
                broker=f"{broker.host}:{broker.port}",
            ))
            runs = [_one_start(config, work, SETTLE_S if i == 0 else 0.0) for i in range(STARTS)]
    ready = [r["ready_s"] for r in runs if r["ready_s"] is not None]
    result: dict[str, Any] = {
        "starts": STARTS,
        "ready": len(ready),
        "ready_s_median": round(statistics.median(ready), 2) if ready else None,
        "ready_s_max": round(max(ready), 2) if ready else None,
        "rss_mb_at_ready": round((runs[0]["rss_kb_ready"] or 0) / 1024, 1),
        f"rss_mb_after_{int(SETTLE_S)}_s": round((runs[0]["rss_kb_later"] or 0) / 1024, 1),
    }
    print(f"   gatekiosk run, spawn -> READY=1: median {result['ready_s_median']} s, "
          f"max {result['ready_s_max']} s ({len(ready)}/{STARTS} starts)")
    print(f"   resident memory: {result['rss_mb_at_ready']} MB at ready, "
          f"{result[f'rss_mb_after_{int(SETTLE_S)}_s']} MB after {SETTLE_S:g} s")
    return result
