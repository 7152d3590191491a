"""`gatekiosk provision`'s input, checked before anything is written.

Ids against `[a-z0-9-]{1,64}`, brokers as HOST:PORT, each JWKS with the firmware's own key
loader and refused when it holds private key material (a gate verifies; it never signs, and a
stolen SD card must not mint passes), TLS files loaded as the MQTT link will load them. Each
check raises `ProvisionError` with one line.
"""

from __future__ import annotations

import argparse
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from firmware import credentials
from firmware.cli.technician import private_key_members, refuse_password
from firmware.errors import one_line
from firmware.topics import validate_id


class ProvisionError(Exception):
    """A one-line reason not to write anything. `exit_code` 2: bad input; 1: refused."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class PublicKeys:
    """A JWKS file that passed every check, ready to be copied."""

    flag: str
    source: Path
    data: bytes
    kids: list[str]


def check_jwks(flag: str, path: str) -> PublicKeys:
    """Load a JWKS as the gate will; refuse private key material. Raises ProvisionError."""
    try:
        with open(path, "rb") as f:
            data = f.read(credentials.MAX_JWKS_BYTES + 1)
    except OSError as exc:
        raise ProvisionError(f"{flag} {path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > credentials.MAX_JWKS_BYTES:
        raise ProvisionError(
            f"{flag} {path}: larger than {credentials.MAX_JWKS_BYTES} bytes, not a key set"
        )
    try:
        parsed = credentials.strict_json_loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"{flag} {path}: not JSON: {one_line(exc)}") from None
    private = private_key_members(parsed)
    if private:
        raise ProvisionError(
            f"{flag} {path}: holds private key material ({', '.join(private)}); a gate needs "
            "only public keys (`gatekiosk pass keygen --public-out` writes them)"
        )
    try:
        keys = credentials.KeySet.from_dict(parsed)
    except credentials.KeySetError as exc:
        raise ProvisionError(f"{flag} {path}: {exc}") from None
    return PublicKeys(flag, Path(path), data, keys.kids())


def check_ids(args: argparse.Namespace) -> None:
    """Community, gate and device ids are topic-safe. Raises ProvisionError."""
    for flag, value in (
        ("--device-id", args.device_id),
        ("--community", args.community),
        ("--gate", args.gate),
    ):
        try:
            validate_id(value, flag)
        except ValueError as exc:
            raise ProvisionError(str(exc)) from None


def check_brokers(brokers: list[str]) -> list[str]:
    """Each broker is HOST:PORT (optionally mqtt:// or mqtts://). Raises ProvisionError."""
    from firmware.link.settings import parse_broker

    for broker in brokers:
        try:
            parse_broker(broker)
        except ValueError:
            raise ProvisionError(
                f"--broker {broker!r}: needs HOST:PORT with a port in 1-65535, "
                "e.g. broker.example:8883"
            ) from None
    return list(brokers)


def check_tls(args: argparse.Namespace) -> dict[str, str]:
    """TLS files as absolute paths, loaded the way the MQTT link loads them."""
    ca, cert, key = args.tls_ca, args.tls_cert, args.tls_key
    if not (ca or cert or key):
        return {}
    if bool(cert) != bool(key):
        raise ProvisionError("--tls-cert and --tls-key go together")
    if not ca:
        raise ProvisionError("--tls-cert/--tls-key need --tls-ca (the broker's CA)")
    for flag, path in (("--tls-ca", ca), ("--tls-cert", cert), ("--tls-key", key)):
        if path and not os.access(path, os.R_OK):
            raise ProvisionError(f"{flag} {path}: not readable")
    try:
        context = ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ProvisionError(f"--tls-ca {ca}: not a CA certificate: {one_line(exc)}") from None
    if cert:
        try:
            context.load_cert_chain(cert, key, password=refuse_password)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ProvisionError(
                f"--tls-cert/--tls-key: do not load as a pair (wrong key, or an encrypted "
                f"key?): {one_line(exc)}"
            ) from None
    tls = {"ca": os.path.abspath(ca)}
    if cert:
        tls.update(cert=os.path.abspath(cert), key=os.path.abspath(key))
    return tls
