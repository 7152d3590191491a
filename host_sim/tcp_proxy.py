"""A loopback TCP proxy that tests use to break the network between a gate and its broker.

`cut()` resets every open connection (both sides see it at once), `refuse()` also turns new
connections away, `blackhole()` keeps connections open but drops every byte — the half-open
link that only keepalive notices (FIELD-NOTES) — `delay(seconds)` holds every chunk that long
before it is passed on, both ways and in order (a slow link: a congested uplink, a 3G modem),
and `resume()` forwards normally again (no delay).
All socket work happens on the proxy's own thread; the control calls are handed to it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import struct
import threading
import time
from collections import deque

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
CHUNK = 65536
CONTROL_TIMEOUT_S = 5.0
TARGET_CONNECT_TIMEOUT_S = 2.0

FORWARD, REFUSE, BLACKHOLE = "forward", "refuse", "blackhole"


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0) so the peer learns at once, not after a FIN handshake."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Listens on a free loopback port and forwards each connection to `target`."""

    def __init__(self, target_host: str, target_port: int, *, listen_host: str = LOOPBACK,
                 port: int = 0) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((listen_host, port))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self.host = listen_host
        self.port = int(self._listener.getsockname()[1])
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._controls: queue.Queue[tuple[str, threading.Event, list[int]]] = queue.Queue()
        self._peers: dict[socket.socket, socket.socket] = {}
        self._mode = FORWARD
        self._delay_s = 0.0
        # (when due, destination, bytes), due times in arrival order while the delay holds.
        self._held: deque[tuple[float, socket.socket, bytes]] = deque()
        self._accepted = 0
        self._running = False
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """`host:port` to give the gate instead of the broker's."""
        return f"{self.host}:{self.port}"

    @property
    def accepted(self) -> int:
        """Connections accepted and forwarded so far."""
        return self._accepted

    @property
    def open_connections(self) -> int:
        return len(self._peers) // 2

    def start(self) -> TcpProxy:
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "control")
        self._running = True
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)
        self._thread.start()
        return self

    # -- control (any thread) ------------------------------------------------------------------

    def cut(self) -> int:
        """Reset every open connection; returns how many were cut. New ones are still taken."""
        return self._control("cut")

    def refuse(self) -> int:
        """Cut everything and turn every new connection away until `resume()`."""
        return self._control(REFUSE)

    def blackhole(self) -> int:
        """Keep connections open but drop all bytes both ways (a half-open link)."""
        return self._control(BLACKHOLE)

    def delay(self, seconds: float) -> int:
        """Forward every chunk `seconds` after it arrived, both ways, keeping the order."""
        if not 0 <= seconds <= 60:
            raise ValueError(f"delay {seconds} s is outside 0..60")
        return self._control(f"delay:{seconds!r}")

    def resume(self) -> int:
        """Forward normally again, with no delay."""
        return self._control(FORWARD)

    def stop(self) -> None:
        """Cut everything and stop listening."""
        if self._thread is None:
            return
        self._control("stop")
        self._thread.join(CONTROL_TIMEOUT_S)
        self._thread = None

    def _control(self, command: str) -> int:
        done = threading.Event()
        result: list[int] = []
        self._controls.put((command, done, result))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if not done.wait(CONTROL_TIMEOUT_S):
            raise RuntimeError(f"tcp proxy did not carry out {command!r}")
        return result[0] if result else 0

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the proxy thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._running:
                wait = 1.0 if not self._held else max(0.0, self._held[0][0] - time.monotonic())
                for key, _ in self._selector.select(timeout=min(1.0, wait)):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "control":
                        self._apply_controls()
                    else:
                        self._pump(key.fileobj)  # type: ignore[arg-type]
                self._pass_on_due()
        finally:
            self._close_all()
            for sock in (self._listener, self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    sock.close()
            self._selector.close()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        if self._mode == REFUSE:
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self._target, timeout=TARGET_CONNECT_TIMEOUT_S)
        except OSError:
            _reset(client)
            return
        client.setblocking(True)
        upstream.settimeout(None)
        self._peers[client] = upstream
        self._peers[upstream] = client
        self._selector.register(client, selectors.EVENT_READ, "pump")
        self._selector.register(upstream, selectors.EVENT_READ, "pump")
        self._accepted += 1

    def _pump(self, sock: socket.socket) -> None:
        peer = self._peers.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(CHUNK)
        except OSError:
            data = b""
        if not data:
            if self._held:  # the close follows the bytes still held, as on a slow wire
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
                self._held.append((time.monotonic() + self._delay_s, peer, b""))
            else:
                self._close_pair(sock)
            return
        if self._mode == BLACKHOLE:
            return
        if self._delay_s > 0 or self._held:  # never overtake what is still held
            self._held.append((time.monotonic() + self._delay_s, peer, data))
            return
        try:
            peer.sendall(data)
        except OSError:
            self._close_pair(sock)

    def _pass_on_due(self) -> None:
        now = time.monotonic()
        while self._held and self._held[0][0] <= now:
            _due, peer, data = self._held.popleft()
            if peer not in self._peers:
                continue  # its connection was cut meanwhile
            if not data:  # the other side had closed after what went before
                self._close_pair(peer)
                continue
            try:
                peer.sendall(data)
            except OSError:
                self._close_pair(peer)

    def _close_pair(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        for end in (sock, peer):
            if end is None:
                continue
            self._peers.pop(end, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(end)
            _reset(end)

    def _close_all(self) -> int:
        pairs = len(self._peers) // 2
        for sock in list(self._peers):
            if sock in self._peers:
                self._close_pair(sock)
        return pairs

    def _apply_controls(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(1024):
                pass
        while True:
            try:
                command, done, result = self._controls.get_nowait()
            except queue.Empty:
                return
            if command == "cut":
                result.append(self._close_all())
            elif command in (REFUSE, "stop"):
                result.append(self._close_all())
                self._mode = REFUSE
                self._running = command != "stop"
            elif command.startswith("delay:"):
                self._delay_s = float(command.removeprefix("delay:"))
                self._mode = FORWARD
            else:
                self._mode = command
                self._delay_s = 0.0
                result.append(len(self._peers) // 2)
            log.info("tcp proxy %s: %s", self.address, command)
            done.set()
