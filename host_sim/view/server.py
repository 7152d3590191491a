"""The live view: a local web page served by the simulator (stdlib http.server + SSE).

    GET  /                 the page (page.html, view.js, view.css; nothing from elsewhere)
    GET  /state            the compound now: clock, speed, each gate's devices and delivery
    GET  /events           Server-Sent Events: `record` for each record the server stores,
                           `state` twice a second
    GET  /camera/GATE.png  that gate's camera view now, downscaled (rendered on request)
    POST /control/pause, /control/resume, /control/speed?value=N|max
    POST /control/fault    JSON {"kind": ..., "gate": ..., "duration_s": ...}

Loopback only. Each gate's kiosk screen is its own ScreenServer (started by the firmware's
`open_face`); the page embeds it in an iframe.
"""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from host_sim.scenario import model
from host_sim.scenario.runner import Runner
from host_sim.view.snapshot import camera_png, snapshot

ASSETS = Path(__file__).with_name("assets")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}
CSP = ("default-src 'self'; frame-src http://127.0.0.1:*; img-src 'self' data:; "
       "connect-src 'self'")
FAULTS = ("network_cut", "half_open", "sensor_fault", "camera_stall", "power_cut",
          "broker_outage", "remote_open", "clock_jump")
STATE_PERIOD_S = 0.5


class ViewServer:
    """Serves the view of one `Runner` on 127.0.0.1."""

    def __init__(self, runner: Runner, port: int = 0) -> None:
        self.runner = runner
        self._cond = threading.Condition()
        self._records: list[dict[str, Any]] = []
        self._done = threading.Event()
        self.summary: dict[str, Any] | None = None
        runner.listeners.append(self._gate_recorded)
        view = self

        class Handler(_Handler):
            owner = view

        self._http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._http.daemon_threads = True
        self.port = int(self._http.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._http.serve_forever, name="sim-view",
                                        daemon=True)
        self._seen_server = 0

    def start(self) -> ViewServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._http.shutdown()
        self._http.server_close()

    def finished(self, summary: dict[str, Any]) -> None:
        """The scenario is over: the page shows the summary."""
        with self._cond:
            self.summary = summary
            self._cond.notify_all()

    def wait(self) -> None:
        """Serve until interrupted."""
        while not self._done.wait(0.5):
            pass

    def _gate_recorded(self, _gate: str, _kind: str, _payload: dict[str, Any]) -> None:
        with self._cond:
            self._cond.notify_all()

    def records_since(self, index: int) -> list[dict[str, Any]]:
        """Records the server stored after the first `index` (arrival order)."""
        log = self.runner.server.log
        return [_row(kind, p) for kind, p in log[index:]]

    def wait_news(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait(timeout)

    def control(self, path: str, query: dict[str, list[str]], body: bytes) -> dict[str, Any]:
        """Apply a POSTed control; returns what was done."""
        runner = self.runner
        if path == "/control/pause":
            runner.paused.set()
            return {"paused": True}
        if path == "/control/resume":
            runner.paused.clear()
            return {"paused": False}
        if path == "/control/speed":
            value = query.get("value", ["max"])[0]
            speed = None if value == "max" else float(value)
            if speed is not None and speed <= 0:
                raise ValueError("speed must be above 0")
            runner.set_speed(speed)
            return {"speed": value}
        if path == "/control/fault":
            ask = json.loads(body or b"{}")
            kind = str(ask.get("kind"))
            gate = str(ask.get("gate") or next(iter(runner.gates)))
            if kind not in FAULTS or gate not in runner.gates:
                raise ValueError(f"unknown fault {kind!r} or gate {gate!r}")
            duration = float(ask.get("duration_s", 30.0))
            runner.inject(model.WorldEvent(kind=kind, at_s=0.0, line=0, gate=gate,
                                           duration_s=duration, seconds=duration))
            return {"injected": kind, "gate": gate}
        raise KeyError(path)


def _row(kind: str, p: dict[str, Any]) -> dict[str, Any]:
    row = {"kind": kind, "gate": p.get("gate_id"), "seq": p.get("seq"), "time": p.get("time")}
    if kind == "alarm":
        row.update(alarm=p.get("alarm"), state=p.get("state"))
    else:
        row.update(event=p.get("kind"), decision=p.get("decision"), reasons=p.get("reasons"))
    return row


class _Handler(BaseHTTPRequestHandler):
    owner: ViewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: progress is on stderr
        return

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        owner = self.owner
        if path == "/events":
            self._stream()
        elif path == "/state":
            self._json(200, snapshot(owner.runner, owner.summary))
        elif path.startswith("/camera/") and path.endswith(".png"):
            gate = owner.runner.gates.get(path[len("/camera/"):-4])
            if gate is None:
                self._json(404, {"error": "no such gate"})
            else:
                self._send(200, camera_png(gate), "image/png")
        else:
            name = "page.html" if path == "/" else path.lstrip("/")
            asset = ASSETS / name
            if "/" in name or not asset.is_file() or asset.suffix not in CONTENT_TYPES:
                self._json(404, {"error": "not found"})
            else:
                self._send(200, asset.read_bytes(), CONTENT_TYPES[asset.suffix])

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            done = self.owner.control(parts.path, parse_qs(parts.query), body)
        except KeyError:
            self._json(404, {"error": "no such control"})
        except (ValueError, TypeError) as exc:
            self._json(400, {"error": str(exc)})
        else:
            self._json(200, done)

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        owner, sent, last_state = self.owner, 0, 0.0
        try:
            while not owner._done.is_set():
                rows = owner.records_since(sent)
                sent += len(rows)
                out = io.StringIO()
                for row in rows:
                    out.write(f"event: record\ndata: {json.dumps(row)}\n\n")
                if time.monotonic() - last_state >= STATE_PERIOD_S:
                    last_state = time.monotonic()
                    state = snapshot(owner.runner, owner.summary)
                    out.write(f"event: state\ndata: {json.dumps(state)}\n\n")
                if out.tell():
                    self.wfile.write(out.getvalue().encode())
                    self.wfile.flush()
                owner.wait_news(0.2)
        except (BrokenPipeError, ConnectionResetError):
            return
