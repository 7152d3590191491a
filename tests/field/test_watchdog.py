"""systemd's service watchdog, fed from the real gate loop over a real notify socket.

The gate runs on the simulated rig with the system clock, so its camera reader and thermometer
sampler run their own threads as on the Pi. A datagram socket bound by the test stands in for
systemd (`$NOTIFY_SOCKET`); the watchdog period is 1 s, so keep-alives are due every 0.5 s.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from firmware import config
from firmware.clock import SystemClock
from firmware.watchdog import Notifier, ProgressClock, Watchdog, watchdog_period_s
from host_sim.rig import SimRig, write_keys

PERIOD_S = 1.0
KEEPALIVE = "WATCHDOG=1"

CONFIG = """
[device]
id = "gate-0042"
community = "sunshine-garden"
gate = "north-1"
direction = "in"
"""


class ThreadKill(BaseException):
    """Ends a device thread: its loops catch Exception, as a real bug's would not be."""


class LiveGate:
    """The rig's gate loop on its own thread, its device threads watched by a Watchdog."""

    def __init__(self, workdir: Path, address: str, stall_s: float = 0.5) -> None:
        clock = SystemClock()
        self.dog = Watchdog(Notifier(address), PERIOD_S)
        self.rig = rig = SimRig(
            config.parse(CONFIG), workdir, clock=clock, watchdog=self.dog, device_stall_s=stall_s
        )
        self.stop = threading.Event()
        self.loop = threading.Thread(target=rig.gate.run, args=(self.stop,), daemon=True)
        rig.sampler.start()
        rig.reader.start()
        self.dog.ready(clock.monotonic())
        self.loop.start()

    def close(self) -> None:
        self.stop.set()
        self.loop.join(5)
        self.rig.close()


@pytest.fixture
def live_gate(tmp_path, notify_socket):
    gates: list[LiveGate] = []

    def build(**kw) -> LiveGate:
        gate = LiveGate(tmp_path / f"gate{len(gates)}", notify_socket.address, **kw)
        gates.append(gate)
        return gate

    yield build
    for gate in gates:
        gate.close()


def after(times: list[float], moment: float) -> list[float]:
    return [t for t in times if t > moment]


def test_ready_is_sent_once_and_keepalives_arrive_every_half_period(live_gate, notify_socket):
    live_gate()
    assert notify_socket.wait_for("READY=1")
    time.sleep(2.6)
    assert len(notify_socket.lines("READY=1")) == 1
    beats = notify_socket.lines(KEEPALIVE)
    assert len(beats) >= 4
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert min(gaps) >= PERIOD_S / 2 - 0.05  # not more often than half the period
    assert max(gaps) < PERIOD_S  # never late enough for systemd to act


def test_a_blocked_gate_loop_stops_the_keepalives_and_they_resume_when_it_turns(
    live_gate, notify_socket
):
    gate = live_gate()
    assert notify_socket.wait_for(KEEPALIVE, count=2)
    unblock = threading.Event()
    gate.rig.gate._on_exit_request = lambda: unblock.wait(30)  # type: ignore[method-assign]
    gate.rig.inbox.exit_request()
    blocked_at = time.monotonic()
    time.sleep(2 * PERIOD_S)
    # A turn that had already begun may still beat once (slack for a loaded host); after
    # it, nothing for longer than the period, where three keep-alives were due.
    assert after(notify_socket.lines(KEEPALIVE), blocked_at + 0.5) == []
    unblock.set()
    resumed_at = time.monotonic()
    assert notify_socket.wait_for(KEEPALIVE, count=len(notify_socket.lines(KEEPALIVE)) + 1,
                                  timeout=PERIOD_S)
    assert after(notify_socket.lines(KEEPALIVE), resumed_at)


def kill_camera_thread(gate: LiveGate) -> None:
    gate.rig.camera.fail_with(ThreadKill("camera thread killed"))


def kill_sampler_thread(gate: LiveGate) -> None:
    def read():
        raise ThreadKill("sampler thread killed")

    gate.rig.thermometer.read = read  # type: ignore[method-assign]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(
    ("kill", "thread"),
    [(kill_camera_thread, "code-reader"), (kill_sampler_thread, "thermometer-sampler")],
)
def test_a_dead_device_thread_stops_the_keepalives_within_the_period(
    live_gate, notify_socket, kill, thread
):
    gate = live_gate(stall_s=0.5)
    assert notify_socket.wait_for(KEEPALIVE, count=2)
    kill(gate)
    killed_at = time.monotonic()
    time.sleep(0.6 + 2 * PERIOD_S)
    assert not any(t.name == thread for t in threading.enumerate())
    # Stall limit 0.5 s + one loop turn (+ slack for a loaded host): then silence longer
    # than systemd's period, where three keep-alives were due.
    assert after(notify_socket.lines(KEEPALIVE), killed_at + 1.0) == []
    assert any(f"STATUS={thread} stalled" in text for text in notify_socket.texts())
    assert gate.loop.is_alive()  # the loop itself goes on: door still served, locked


def test_a_camera_without_frames_is_an_alarm_not_a_restart(live_gate, notify_socket):
    # A stalled camera times out every 2 s and is retried: its thread keeps moving.
    gate = live_gate(stall_s=3.0)
    assert notify_socket.wait_for(KEEPALIVE, count=2)
    gate.rig.camera.stall()
    stalled_at = time.monotonic()
    time.sleep(4.0)
    beats = [stalled_at, *after(notify_socket.lines(KEEPALIVE), stalled_at), time.monotonic()]
    assert max(b - a for a, b in itertools.pairwise(beats)) < PERIOD_S


def test_a_wedged_link_thread_stops_the_keepalives(notify_socket):
    dog = Watchdog(Notifier(notify_socket.address), PERIOD_S)
    clock = SystemClock()
    link_clock = dog.watch_thread(clock, "mqtt-link", stall_s=0.3)
    wedge = threading.Event()
    done = threading.Event()

    def link_loop() -> None:
        while not done.is_set():
            link_clock.monotonic()
            if wedge.is_set():
                done.wait(10)  # blocked in a call that never returns
            time.sleep(0.05)

    thread = threading.Thread(target=link_loop, name="mqtt-link", daemon=True)
    thread.start()
    dog.ready(clock.monotonic())
    try:
        for _ in range(20):
            dog.beat(clock.monotonic())
            time.sleep(0.05)
        assert notify_socket.wait_for(KEEPALIVE, count=2, timeout=2)
        wedge.set()
        wedged_at = time.monotonic()
        for _ in range(30):
            dog.beat(clock.monotonic())
            time.sleep(0.05)
        assert after(notify_socket.lines(KEEPALIVE), wedged_at + 0.45) == []
    finally:
        done.set()
        thread.join(2)


def test_progress_is_counted_only_from_the_watched_thread():
    clock = ProgressClock(SystemClock(), "code-reader")
    clock.monotonic()  # the gate thread reading stats: not the reader's progress
    assert clock.last_progress is None
    t = threading.Thread(target=clock.monotonic, name="code-reader")
    t.start()
    t.join()
    assert clock.last_progress is not None


def test_notify_socket_path_and_abstract_namespace_both_receive(notify_socket):
    short = tempfile.mkdtemp(prefix="gk-", dir="/tmp")
    try:
        path = os.path.join(short, "notify")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        server.bind(path)
        server.settimeout(2)
        assert Notifier(path).ready("up")
        assert server.recv(100) == b"READY=1\nSTATUS=up"
        server.close()
    finally:
        shutil.rmtree(short)
    assert notify_socket.address.startswith("@")
    assert Notifier(notify_socket.address).stopping()
    assert notify_socket.wait_for("STOPPING=1", timeout=2)


def test_without_a_notify_socket_nothing_is_sent_and_nothing_fails():
    dog = Watchdog.from_environ({})
    assert not dog.notifier.enabled
    dog.ready(0.0)
    assert dog.beat(100.0) is False


@pytest.mark.parametrize(
    ("env", "period"),
    [
        ({"WATCHDOG_USEC": "10000000"}, 10.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "4242"}, 10.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}, 0.0),  # meant for another process
        ({"WATCHDOG_USEC": "banana"}, 0.0),
        ({}, 0.0),
    ],
)
def test_watchdog_period_comes_from_watchdog_usec_for_this_process_only(env, period):
    assert watchdog_period_s(env, pid=4242) == period


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gatekiosk_run_says_ready_once_keeps_alive_and_says_stopping(tmp_path, notify_socket):
    keys = write_keys(tmp_path / "keys")
    cfg = tmp_path / "gatekiosk.toml"
    cfg.write_text(
        CONFIG
        + f"""data_dir = "{tmp_path / "data"}"
[thermometer]
bus = "sim"
[camera]
source = "sim"
width = 640
height = 480
[keys]
issuers = "{keys["issuers_path"]}"
admins = "{keys["admins_path"]}"
[mqtt]
brokers = ["127.0.0.1:{free_port()}"]
"""
    )
    env = dict(
        os.environ,
        GPIOZERO_PIN_FACTORY="mock",
        NOTIFY_SOCKET=notify_socket.address,
        WATCHDOG_USEC=str(int(PERIOD_S * 1e6)),
    )
    with open(tmp_path / "run.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "firmware.cli", "run", "--config", str(cfg)],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
        )
        try:
            assert notify_socket.wait_for("READY=1", timeout=60), (
                tmp_path / "run.log"
            ).read_text()
            ready_at = notify_socket.lines("READY=1")[0]
            time.sleep(2.5)
            beats = after(notify_socket.lines(KEEPALIVE), ready_at)
            assert len(beats) >= 3  # the broker is unreachable: the link thread still moves
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert len(notify_socket.lines("READY=1")) == 1
    assert notify_socket.lines("STOPPING=1")
