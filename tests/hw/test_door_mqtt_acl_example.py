"""hardware/mosquitto/: the example broker config and ACL, run in a real Mosquitto.

The example config is used as written, except for file paths, the port, persistence and the
log destination. Certificates come from a throw-away community CA. MQTT 5 is used because
under 3.1.1 a denied publish still gets a "success" PUBACK (FIELD-NOTES).
"""

from __future__ import annotations

import datetime
import os
import pwd
import queue
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host_sim.broker import LOOPBACK, free_port, wait_for_port

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto not installed"),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "hardware" / "mosquitto"
COMMUNITY = "sunrise-garden"
TIMEOUT_S = 10.0
SUCCESS = 0x00
NO_MATCHING_SUBSCRIBERS = 0x10
NOT_AUTHORIZED = 0x87


class CommunityCA:
    """A throw-away CA issuing the broker's and the clients' certificates."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "community CA")])
        self.cert = self._sign(self.name, self.key.public_key(), ca=True)
        self.cert_path = self._write("ca.crt", self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, *, server: bool = False) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = self._sign(subject, key.public_key(), ca=False, server=server)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return (
            self._write(f"{common_name}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            self._write(f"{common_name}.key", key_pem),
        )

    def _sign(self, subject, public_key, *, ca: bool, server: bool = False) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
            )
        return builder.sign(self.key, hashes.SHA256())

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path


def broker_config(example: str, *, port: int, ca: Path, cert: Path, key: Path, log: Path) -> str:
    """The example config with this test's paths, port and no persistence."""
    replaced = {
        "listener": f"listener {port} {LOOPBACK}",
        "cafile": f"cafile {ca}",
        "certfile": f"certfile {cert}",
        "keyfile": f"keyfile {key}",
        "acl_file": f"acl_file {EXAMPLES / 'gatekiosk.acl'}",
        "persistence": "persistence false",
        "persistence_location": "",
        "autosave_interval": "",
        "log_dest": f"log_dest file {log}",
    }
    lines = []
    for line in example.splitlines():
        directive = line.split(" ", 1)[0]
        if directive in replaced:
            if directive == "log_dest" and "log_dest file" in "\n".join(lines):
                continue
            line = replaced[directive]
        lines.append(line)
    if os.geteuid() == 0:
        # As root, Mosquitto would switch to the `mosquitto` user, which cannot read tmp_path.
        lines.append(f"user {pwd.getpwuid(0).pw_name}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[dict]:
    workdir = tmp_path_factory.mktemp("community-broker")
    ca = CommunityCA(workdir)
    cert, key = ca.issue("localhost", server=True)
    port = free_port()
    log = workdir / "mosquitto.log"
    config = workdir / "mosquitto.conf"
    config.write_text(
        broker_config(
            (EXAMPLES / "mosquitto.conf").read_text(),
            port=port,
            ca=ca.cert_path,
            cert=cert,
            key=key,
            log=log,
        )
    )
    process = subprocess.Popen(
        ["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        if not wait_for_port(LOOPBACK, port, TIMEOUT_S):
            process.kill()
            detail = log.read_text() if log.exists() else process.communicate()[1].decode()
            pytest.fail(f"mosquitto did not start with the example config: {detail}")
        yield {"port": port, "ca": ca}
    finally:
        process.terminate()
        process.wait(TIMEOUT_S)


class Client:
    """An MQTT 5 client with a certificate, recording acks and messages in queues."""

    def __init__(self, broker: dict, common_name: str) -> None:
        self.acks: queue.Queue[tuple[int, int]] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected: queue.Queue[int] = queue.Queue()
        ca = broker["ca"]
        self.mqtt = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=common_name,
            protocol=mqtt.MQTTv5,
        )
        cert, key = ca.issue(common_name)
        self.mqtt.tls_set(ca_certs=str(ca.cert_path), certfile=str(cert), keyfile=str(key))
        self.mqtt.on_connect = lambda c, u, f, rc, p: self.connected.put(rc.value)
        self.mqtt.on_publish = lambda c, u, mid, rc, p: self.acks.put((mid, rc.value))
        self.mqtt.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put([r.value for r in rcs])
        self.mqtt.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.mqtt.connect("localhost", broker["port"])
        self.mqtt.loop_start()
        assert self.connected.get(timeout=TIMEOUT_S) == SUCCESS

    def publish(self, topic: str, payload: bytes = b"{}", *, retain: bool = False) -> int:
        """Publish at QoS 1 and return the PUBACK reason code."""
        info = self.mqtt.publish(topic, payload, qos=1, retain=retain)
        mid, reason = self.acks.get(timeout=TIMEOUT_S)
        assert mid == info.mid
        return reason

    def subscribe(self, topic: str) -> int:
        """Subscribe at QoS 1 and return the SUBACK reason code (granted QoS or an error)."""
        self.mqtt.subscribe(topic, qos=1)
        [reason] = self.subacks.get(timeout=TIMEOUT_S)
        return reason

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


@pytest.fixture
def clients(broker) -> Iterator[dict[str, Client]]:
    made = {
        "north": Client(broker, "north-in"),
        "south": Client(broker, "south-in"),
        "server": Client(broker, "community-server"),
    }
    yield made
    for client in made.values():
        client.close()


def gate_topic(gate: str, leaf: str) -> str:
    return f"community/{COMMUNITY}/gate/{gate}/{leaf}"


def test_a_gate_publishes_its_own_topics_and_the_server_receives_them(clients):
    north, server = clients["north"], clients["server"]
    assert server.subscribe(f"community/{COMMUNITY}/gate/+/event") == 1
    assert north.publish(gate_topic("north-in", "event"), b'{"seq": 1}') == SUCCESS
    assert server.messages.get(timeout=TIMEOUT_S) == (
        gate_topic("north-in", "event"),
        b'{"seq": 1}',
    )
    for leaf in ("alarm", "state", "telemetry", "cmd-result"):
        assert north.publish(gate_topic("north-in", leaf)) in (SUCCESS, NO_MATCHING_SUBSCRIBERS)


def test_a_gate_cannot_publish_for_another_gate_or_forge_acks_and_commands(clients):
    north = clients["north"]
    assert north.publish(gate_topic("south-in", "event")) == NOT_AUTHORIZED
    assert north.publish(gate_topic("north-in", "ack")) == NOT_AUTHORIZED
    assert north.publish(gate_topic("north-in", "cmd/open")) == NOT_AUTHORIZED
    assert north.publish(f"community/{COMMUNITY}/status-list", b"jwt") == NOT_AUTHORIZED


def test_a_gate_reads_only_its_own_commands_and_acks_and_the_status_list(clients):
    north, south, server = clients["north"], clients["south"], clients["server"]
    assert north.subscribe(gate_topic("north-in", "cmd/#")) == 1
    assert north.subscribe(gate_topic("north-in", "ack")) == 1
    assert north.subscribe(f"community/{COMMUNITY}/status-list") == 1
    # Mosquitto 2.0 grants any subscription and applies `read` rules to each delivery.
    south.subscribe(f"community/{COMMUNITY}/gate/+/cmd/#")
    south.subscribe(f"community/{COMMUNITY}/gate/+/ack")

    for leaf in ("cmd/open", "ack"):
        assert server.publish(gate_topic("north-in", leaf)) == SUCCESS
        assert north.messages.get(timeout=TIMEOUT_S)[0] == gate_topic("north-in", leaf)
        # The server's messages arrive in order: if south's own came first, north's never did.
        assert server.publish(gate_topic("south-in", leaf)) == SUCCESS
        assert south.messages.get(timeout=TIMEOUT_S)[0] == gate_topic("south-in", leaf)
    assert server.publish(f"community/{COMMUNITY}/status-list", b"jwt") == SUCCESS
    assert north.messages.get(timeout=TIMEOUT_S) == (f"community/{COMMUNITY}/status-list", b"jwt")


def test_a_gate_never_receives_another_gates_events(clients):
    north, south = clients["north"], clients["south"]
    south.subscribe(f"community/{COMMUNITY}/gate/+/event")
    south.subscribe(gate_topic("south-in", "ack"))
    assert north.publish(gate_topic("north-in", "event"), b'{"seq": 1}') in (
        SUCCESS,
        NO_MATCHING_SUBSCRIBERS,
    )
    assert clients["server"].publish(gate_topic("south-in", "ack")) == SUCCESS
    assert south.messages.get(timeout=TIMEOUT_S)[0] == gate_topic("south-in", "ack")
    assert south.messages.empty()


def test_a_client_without_a_certificate_is_refused(broker):
    events: queue.Queue[str] = queue.Queue()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="north-in", protocol=mqtt.MQTTv5
    )
    client.tls_set(ca_certs=str(broker["ca"].cert_path))
    client.on_connect = lambda c, u, f, rc, p: events.put(f"connected {rc.value}")
    client.on_disconnect = lambda c, u, f, rc, p: events.put("disconnected")
    try:
        client.connect("localhost", broker["port"])
    except (ssl.SSLError, OSError):
        return  # refused in the handshake (TLS 1.2)
    client.loop_start()
    try:
        # TLS 1.3: the broker checks the certificate after the client's handshake is done.
        assert events.get(timeout=TIMEOUT_S) == "disconnected"
    finally:
        client.loop_stop()
