"""Network checks: each broker takes a TCP connection; the MQTT TLS and password files load.

No MQTT session is opened and nothing is published.
"""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path
from typing import Any

from firmware.cli.checks import FAIL, PASS, Check
from firmware.cli.errors import ERROR_CHARS
from firmware.cli.technician import refuse_password
from firmware.config import Config
from firmware.errors import one_line

BROKER_TIMEOUT_S = 3.0


def check_broker(address: str, timeout_s: float = BROKER_TIMEOUT_S) -> Check:
    """A TCP connection to the broker, closed at once: no MQTT session, nothing published."""
    from firmware.link.settings import parse_broker

    try:
        host, port = parse_broker(address)
    except ValueError as exc:
        return Check("broker", FAIL, str(exc), {"address": address})
    data: dict[str, Any] = {"address": address}
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except TimeoutError:
        return Check("broker", FAIL, f"{address}: no answer within {timeout_s:g} s", data)
    except OSError as exc:
        reason = exc.strerror or one_line(exc, ERROR_CHARS)
        return Check("broker", FAIL, f"{address}: {reason}", data)
    elapsed_ms = (time.monotonic() - started) * 1000.0
    data["connect_ms"] = round(elapsed_ms, 1)
    return Check("broker", PASS, f"{address} accepts connections ({elapsed_ms:.0f} ms)", data)


def check_mqtt_credentials(cfg: Config) -> Check | None:
    """TLS files and the password file load (None when none are configured)."""
    m = cfg.mqtt
    if not (m.tls.ca or m.password_file):
        return None
    try:
        if m.tls.ca:
            context = ssl.create_default_context(cafile=m.tls.ca)
            if m.tls.cert:
                context.load_cert_chain(m.tls.cert, m.tls.key, password=refuse_password)
        if m.password_file:
            Path(m.password_file).read_text(encoding="utf-8")
    except (OSError, ssl.SSLError, ValueError) as exc:
        return Check("mqtt auth", FAIL, one_line(exc, ERROR_CHARS))
    parts = []
    if m.tls.ca:
        parts.append("CA loads" + (", certificate and key match" if m.tls.cert else ""))
    if m.password_file:
        parts.append("password file readable")
    return Check("mqtt auth", PASS, "; ".join(parts))
