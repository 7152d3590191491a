"""The screen's boot page server: "out of service" whenever the firmware serves no screen.

Run by hardware/gatekiosk-screen-boot.service with the system's python3 (`-I`, standard library
only, copied to /opt/gatekiosk/screen-boot.py by install.sh), so it shows the page even when no
release of the firmware can start. It serves the few files that `boot_page` wrote, and the CJK
fonts, on loopback only, each response with a Content-Security-Policy that allows this origin
and, for the page's polling `fetch`, the firmware's screen origin. It tells systemd it is ready
(`READY=1`, Type=notify) once it listens, so the kiosk browser never opens it too early.

    python3 -I screen-boot.py --port 8309 --dir /opt/gatekiosk/screen-boot \
        --screen-url http://127.0.0.1:8310/
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# What boot_page writes; nothing else in the folder is served.
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/boot.js": ("boot.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
# The faces style.css may ask for (as the firmware's ScreenServer serves them).
FONT_FILES = ("NotoSansCJK-Bold.ttc", "NotoSansCJK-Regular.ttc")
_CHUNK = 1 << 20


def screen_origin(screen_url: str) -> str:
    """The origin of the firmware's screen page, which must be an http URL on loopback."""
    parts = urlsplit(screen_url)
    try:
        loopback = ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback or parts.port is None:
        raise ValueError(f"--screen-url: {screen_url!r} is not http://LOOPBACK-IP:PORT/")
    return f"http://{parts.netloc}"


def csp(screen_url: str) -> str:
    """This origin only, plus `connect-src` to the screen's origin (the page polls it)."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; "
        f"img-src 'self' data:; connect-src {screen_origin(screen_url)}; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


def notify_ready() -> None:
    """`READY=1` to systemd's $NOTIFY_SOCKET (`@` = abstract namespace); nothing without it."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", address)


def make_server(
    directory: Path, port: int, screen_url: str, font_dir: Path, bind: str = "127.0.0.1"
) -> ThreadingHTTPServer:
    """A server bound (loopback only) and ready to `serve_forever`."""
    if not ipaddress.ip_address(bind).is_loopback:
        raise ValueError(f"--bind: {bind} is not a loopback address")
    policy = csp(screen_url)

    class Handler(BaseHTTPRequestHandler):
        server_version = "gatekiosk-screen-boot"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a request every second while the firmware is away: not for the journal

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in PAGE_FILES:
                name, ctype = PAGE_FILES[path]
                self._send_file(directory / name, ctype, "no-store")
            elif path.startswith("/fonts/") and path[7:] in FONT_FILES:
                self._send_file(font_dir / path[7:], "font/collection", "max-age=86400")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n")

        def _headers(self, status: HTTPStatus, ctype: str, size: int, cache: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(size))
            self.send_header("Cache-Control", cache)
            self.send_header("Content-Security-Policy", policy)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()

        def _send(self, status: HTTPStatus, body: bytes) -> None:
            self._headers(status, "text/plain", len(body), "no-store")
            self.wfile.write(body)

        def _send_file(self, path: Path, ctype: str, cache: str) -> None:
            try:
                handle = path.open("rb")
            except OSError:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n")
                return
            try:
                with handle:
                    size = os.fstat(handle.fileno()).st_size
                    self._headers(HTTPStatus.OK, ctype, size, cache)
                    while chunk := handle.read(_CHUNK):
                        self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser moved on (to the firmware's page)

    server = ThreadingHTTPServer((bind, port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8309)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--dir", type=Path, default=Path("/opt/gatekiosk/screen-boot"))
    parser.add_argument("--screen-url", default="http://127.0.0.1:8310/")
    parser.add_argument("--font-dir", type=Path, default=Path("/usr/share/fonts/opentype/noto"))
    args = parser.parse_args(argv)
    try:
        server = make_server(args.dir, args.port, args.screen_url, args.font_dir, args.bind)
    except (OSError, ValueError) as exc:
        print(f"screen-boot: {exc}", file=sys.stderr)
        return 2
    port = int(server.server_address[1])
    print(f"screen-boot: boot page at http://{args.bind}:{port}/", file=sys.stderr, flush=True)
    notify_ready()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
