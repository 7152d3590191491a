"""A real Mosquitto broker on a free loopback port, for tests, benchmarks and the simulator.

Started from a temporary config with persistence on (MQTT 5, 3.1.1 and 3.1 are all accepted on
the listener). It can be stopped cleanly (SIGTERM: Mosquitto saves its database), killed
(SIGKILL: whatever was not autosaved is lost — FIELD-NOTES, "a PUBACK does not mean stored") and
restarted on the same port with the same persistence directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
PROBE_INTERVAL_S = 0.02
# Mosquitto's default of 1000 queued messages per client would drop messages for a subscriber
# that is behind during a 10,000-event backlog drain; the test broker keeps them all.
MAX_QUEUED_MESSAGES = 1_000_000


class BrokerError(RuntimeError):
    """The broker could not be started or stopped; the message is one line."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float) -> bool:
    """True once a TCP connection to host:port succeeds, False after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        time.sleep(PROBE_INTERVAL_S)
    return False


class MosquittoBroker:
    """One `mosquitto` process. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        persistence: bool = True,
        autosave_interval_s: int | None = None,
        listener_config: str = "",
        extra_config: str = "",
        executable: str = "mosquitto",
    ) -> None:
        found = shutil.which(executable)
        if found is None:
            raise BrokerError(f"{executable} not found (Debian: apt-get install mosquitto)")
        self._executable = found
        self._own_workdir = workdir is None
        self._workdir = Path(workdir or tempfile.mkdtemp(prefix="gatekiosk-mosquitto-"))
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._fixed_port = port is not None
        self.host = LOOPBACK
        self.port = port or free_port()
        self._persistence = persistence
        self._autosave_interval_s = autosave_interval_s
        self._listener_config = listener_config
        self._extra_config = extra_config
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """`host:port`, as the gate's broker list takes it."""
        return f"{self.host}:{self.port}"

    @property
    def workdir(self) -> Path:
        return self._workdir

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _config_text(self) -> str:
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            self._listener_config,
            f"persistence {'true' if self._persistence else 'false'}",
            f"persistence_location {self._workdir}/",
            f"max_queued_messages {MAX_QUEUED_MESSAGES}",
            # Small MQTT packets must not wait for delayed ACKs (Nagle): ~40 ms each on Linux.
            "set_tcp_nodelay true",
            f"log_dest file {self._workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            self._extra_config,
        ]
        if self._autosave_interval_s is not None:
            lines.append(f"autosave_interval {self._autosave_interval_s}")
        if os.geteuid() == 0:
            # As root, Mosquitto drops to the `mosquitto` user, which cannot write our temp dir.
            lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
        return "\n".join(line for line in lines if line) + "\n"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> MosquittoBroker:
        """Start (or restart) the broker and wait until it accepts connections."""
        if self.running:
            raise BrokerError(f"mosquitto already running on {self.address}")
        for attempt in range(3):
            config = self._workdir / "mosquitto.conf"
            config.write_text(self._config_text())
            with open(self._workdir / "mosquitto.out", "ab") as out:
                self._process = subprocess.Popen(
                    [self._executable, "-c", str(config)],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                )
            if self._wait_ready(timeout_s):
                return self
            exited = self._process.poll() is not None
            self._reap()
            # The free port was taken in between: pick another, unless the caller fixed it.
            if exited and not self._fixed_port and attempt < 2:
                self.port = free_port()
                continue
            raise BrokerError(f"mosquitto did not start on {self.address}: {self.last_log_line()}")
        raise BrokerError(f"mosquitto did not start on {self.address}")

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            if wait_for_port(self.host, self.port, 0.05):
                return True
        return False

    def stop(self) -> None:
        """Stop cleanly (SIGTERM): Mosquitto writes its persistence database on the way out."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._reap()

    def kill(self) -> None:
        """SIGKILL: the broker dies at once, without saving anything."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
        self._reap()

    def reload(self) -> None:
        """SIGHUP: Mosquitto reloads its ACL and password files (not listeners)."""
        if self._process is None or self._process.poll() is not None:
            raise BrokerError(f"mosquitto on {self.address} is not running")
        self._process.send_signal(signal.SIGHUP)

    def restart(self, timeout_s: float = START_TIMEOUT_S) -> MosquittoBroker:
        """Start again on the same port and persistence directory (after stop or kill)."""
        self._fixed_port = True
        if self.running:
            self.stop()
        return self.start(timeout_s)

    def _reap(self) -> None:
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(STOP_TIMEOUT_S)
        self._process = None

    def last_log_line(self) -> str:
        """The broker's last log line (for a one-line error)."""
        for name in ("mosquitto.log", "mosquitto.out"):
            path = self._workdir / name
            if path.exists():
                lines = path.read_text(errors="replace").strip().splitlines()
                if lines:
                    return lines[-1]
        return "no log"

    def log_text(self) -> str:
        """The whole broker log so far."""
        path = self._workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        """Stop and remove the working directory if this object made it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
