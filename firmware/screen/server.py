"""The screen's web server: the page, its assets, the CJK fonts, and the display state as
server-sent events.

Standard library only (`http.server.ThreadingHTTPServer` on its own thread). Every response
carries a Content-Security-Policy that allows nothing but this origin, so the page can make no
external request. `/events` sends the current state at once, every new one as it is published,
and a heartbeat every `heartbeat_s`; the page shows "out of service" when they stop.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from firmware.core import prompts
from firmware.hw.indicator import DisplayState
from firmware.screen.settings import ScreenSettings

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
# The faces the page's @font-face may ask for (Debian's fonts-noto-cjk file names).
FONT_FILES = ("NotoSansCJK-Bold.ttc", "NotoSansCJK-Regular.ttc")
_FONT_CHUNK = 1 << 20


def page_config(settings: ScreenSettings) -> dict[str, Any]:
    """What the page needs before the first event: languages, labels, out-of-service texts."""
    return {
        "languages": settings.languages(),
        "heartbeat_ms": round(settings.heartbeat_s * 1000),
        "out_of_service": {
            "text": prompts.for_step(prompts.OUT_OF_SERVICE),
            "next_step": prompts.next_for_step(prompts.OUT_OF_SERVICE),
        },
        "labels": {name: prompts.label(name) for name in prompts.LABELS},
    }


def _asset(name: str) -> bytes:
    return resources.files("firmware.screen").joinpath("assets", name).read_bytes()


class ScreenServer:
    """Serves the screen and pushes display states; `publish` is an Indicator listener."""

    def __init__(self, settings: ScreenSettings) -> None:
        self.settings = settings
        self._changed = threading.Condition()
        self._state: DisplayState | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        config = json.dumps(page_config(settings), ensure_ascii=False)
        # The configuration rides in the page itself (a JSON island, not a script: CSP-safe).
        self._pages = {
            path: _asset(name).replace(b"{{CONFIG}}", config.replace("<", "\\u003c").encode())
            for path, (name, _type) in ASSETS.items()
        }
        self._httpd = ThreadingHTTPServer((settings.bind, settings.port), self._handler_class())
        self._httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.settings.bind}:{self.port}/"

    def start(self) -> ScreenServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="screen-http",
            daemon=True,
        )
        self._thread.start()
        log.info("screen served at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving; open event streams end (the page then shows out of service)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def publish(self, state: DisplayState) -> None:
        """Take a new display state (returns at once; the stream threads send it)."""
        with self._changed:
            self._state = state
            self._changed.notify_all()

    def __enter__(self) -> ScreenServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the event stream, one thread per open page ----------------------------------------

    def _stream(self, handler: BaseHTTPRequestHandler) -> None:
        sent = -1
        beat = self.settings.heartbeat_s
        handler.close_connection = True  # a stream that ends closes its connection
        handler.wfile.write(b"retry: 500\n\n")
        handler.wfile.flush()
        while True:
            with self._changed:
                self._changed.wait_for(partial(self._news_for, sent), timeout=beat)
                if self._stopping:
                    return
                state = self._state
            if state is not None and state.seq != sent:
                sent = state.seq
                data = json.dumps(state.as_dict(), ensure_ascii=False)
                message = f"id: {state.seq}\nevent: state\ndata: {data}\n\n"
            else:
                message = "event: beat\ndata: {}\n\n"
            handler.wfile.write(message.encode())
            handler.wfile.flush()

    def _news_for(self, sent: int) -> bool:
        """True when stopping, or when a state newer than `sent` is waiting (lock held)."""
        return self._stopping or (self._state is not None and self._state.seq != sent)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "gatekiosk-screen"

            def setup(self) -> None:
                super().setup()
                # Small event messages must not wait for a delayed ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("screen http: " + format, *args)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                try:
                    if path in ASSETS:
                        self._send(server._pages[path], ASSETS[path][1])
                    elif path == "/events":
                        self._send_headers("text/event-stream", None, cache="no-store")
                        server._stream(self)
                    elif path == "/state":
                        state = server._state
                        body = json.dumps(state.as_dict() if state else None, ensure_ascii=False)
                        self._send(body.encode(), "application/json", cache="no-store")
                    elif path.startswith("/fonts/") and path[7:] in FONT_FILES:
                        self._send_font(Path(server.settings.font_dir) / path[7:])
                    else:
                        self._send(b"not found\n", "text/plain", status=HTTPStatus.NOT_FOUND)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the browser went away (reload, restart): nothing to do

            def _send_headers(
                self,
                ctype: str,
                length: int | None,
                *,
                cache: str = "no-cache",
                status: HTTPStatus = HTTPStatus.OK,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.send_header("Cache-Control", cache)
                self.send_header("Content-Security-Policy", CSP)
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()

            def _send(
                self,
                body: bytes,
                ctype: str,
                *,
                cache: str = "no-cache",
                status: HTTPStatus = HTTPStatus.OK,
            ) -> None:
                self._send_headers(ctype, len(body), cache=cache, status=status)
                self.wfile.write(body)

            def _send_font(self, path: Path) -> None:
                try:
                    handle = path.open("rb")
                except OSError:
                    log.warning("screen: font %s missing (install fonts-noto-cjk)", path)
                    self._send(b"no font\n", "text/plain", status=HTTPStatus.NOT_FOUND)
                    return
                with handle:
                    size = path.stat().st_size
                    self._send_headers("font/collection", size, cache="max-age=86400")
                    while chunk := handle.read(_FONT_CHUNK):
                        self.wfile.write(chunk)

        return Handler
