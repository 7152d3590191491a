"""The link over TLS with a client certificate, and with a username and password."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from firmware.clock import SystemClock
from firmware.link import TlsSettings
from host_sim.broker import MosquittoBroker, free_port
from host_sim.community_server import CommunityServer
from host_sim.schemas import validate

pytestmark = pytest.mark.broker


def _write_key(key: ec.EllipticCurvePrivateKey, path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _certificate(subject: str, key, issuer_name: x509.Name | None, issuer_key, *,
                 ca: bool = False, ip: str | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path):
    """A community CA, the broker's certificate for 127.0.0.1, and the gate's certificate."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("gatekiosk test CA", ca_key, None, ca_key, ca=True)
    files = {}
    for role, subject, ip in (("broker", "broker", "127.0.0.1"), ("gate", "kiosk-1", None)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(subject, key, ca.subject, ca_key, ip=ip)
        files[f"{role}_cert"] = tmp_path / f"{role}.crt"
        files[f"{role}_key"] = tmp_path / f"{role}.key"
        files[f"{role}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, files[f"{role}_key"])
    files["ca"] = tmp_path / "ca.crt"
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def test_tls_with_a_client_certificate_delivers_and_without_one_is_refused(
        tmp_path, pki, make_outbox, make_link, kit):
    plain_port = free_port()  # the server stand-in's own, plain listener
    tls_lines = "\n".join([
        f"cafile {pki['ca']}", f"certfile {pki['broker_cert']}", f"keyfile {pki['broker_key']}",
        "require_certificate true", "use_identity_as_username true",
    ])
    broker = MosquittoBroker(tmp_path / "broker", listener_config=tls_lines,
                             extra_config=f"listener {plain_port} 127.0.0.1")
    with broker, CommunityServer(broker.host, plain_port, kit.COMMUNITY,
                                 validate=validate) as server:
        outbox = make_outbox()
        tls = TlsSettings(ca_file=str(pki["ca"]), cert_file=str(pki["gate_cert"]),
                          key_file=str(pki["gate_key"]))
        link, _ = make_link([broker.address], outbox, tls=tls)
        kit.append_records(outbox, 5, SystemClock())
        assert kit.wait_for(lambda: server.through(kit.DEVICE, outbox.stream) == 5
                            and outbox.unsettled() == 0)
        link.stop()

        anonymous, _ = make_link([broker.address], make_outbox("other.db"),
                                 tls=TlsSettings(ca_file=str(pki["ca"])))
        assert kit.wait_for(lambda: anonymous.status()["connect_attempts"] >= 2, 10)
        assert not anonymous.connected and anonymous.status()["last_error"]


def test_username_and_password_are_sent_and_a_wrong_password_is_refused(
        tmp_path, make_outbox, make_link, kit):
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "kiosk-1", "right horse"],
                   check=True, capture_output=True, timeout=10)
    broker = MosquittoBroker(tmp_path / "broker", extra_config=f"password_file {passwords}")
    with broker:
        wrong, _ = make_link([broker.address], make_outbox("a.db"), username="kiosk-1",
                             password="wrong")
        # Mosquitto answers a wrong password with CONNACK 0x87 "Not authorized".
        assert kit.wait_for(
            lambda: "refused: not authorized" in (wrong.status()["last_error"] or "").lower(), 10)
        assert not wrong.connected
        wrong.stop()
        right, _ = make_link([broker.address], make_outbox("b.db"), username="kiosk-1",
                             password="right horse")
        assert kit.wait_for(lambda: right.connected, 10)
