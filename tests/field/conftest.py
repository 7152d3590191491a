"""A stand-in for systemd's end of sd_notify: a datagram socket that records what arrives."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest


class NotifySocket:
    """Bound at a path or, for `abstract=True`, in the abstract namespace ("@name")."""

    def __init__(self, path: str | None = None) -> None:
        self.address = path or f"@gatekiosk-test-{uuid.uuid4().hex}"
        bind_to = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(bind_to)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []  # (monotonic time, datagram)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append((time.monotonic(), data.decode()))

    def lines(self, key: str) -> list[float]:
        """Arrival times of the datagrams holding the line `key` (e.g. "WATCHDOG=1")."""
        with self._lock:
            return [t for t, text in self.messages if key in text.split("\n")]

    def texts(self) -> list[str]:
        with self._lock:
            return [text for _, text in self.messages]

    def wait_for(self, key: str, count: int = 1, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.lines(key)) >= count:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify_socket():
    sock = NotifySocket()
    yield sock
    sock.close()
