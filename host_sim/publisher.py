"""The community side's voice in the simulator and tests: publish one message and wait for it.

The server stand-in listens; this publishes what the community server would: the retained
status list and signed admin commands. QoS 1, waits for the PUBACK with a bounded timeout.
`protocol` is the MQTT version to speak: "5" (the default) or "3.1.1" (NATS Server's MQTT
listener refuses MQTT 5).
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from firmware import topics
from firmware.link.client import stop_loop

PROTOCOLS = {"5": MQTTProtocolVersion.MQTTv5, "3.1.1": MQTTProtocolVersion.MQTTv311}


class PublishError(RuntimeError):
    """The message was not acknowledged by the broker in time."""


def publish(
    host: str,
    port: int,
    topic: str,
    payload: bytes | str,
    *,
    retain: bool = False,
    timeout_s: float = 5.0,
    client_id: str = "community-publisher",
    protocol: str = "5",
) -> None:
    """Connect, publish at QoS 1, wait for the PUBACK, disconnect."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"MQTT protocol {protocol!r}: one of {', '.join(PROTOCOLS)}")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=PROTOCOLS[protocol])
    try:
        client.connect(host, port, keepalive=10)
        client.loop_start()
        info = client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise PublishError(f"{topic}: no PUBACK within {timeout_s} s")
    finally:
        client.disconnect()
        stop_loop(client)


def publish_status_list(host: str, port: int, community_id: str, token: str) -> None:
    """The community's current status list, retained for every gate that connects later."""
    publish(host, port, topics.status_list_topic(community_id), token, retain=True)


def send_command(
    host: str,
    port: int,
    community_id: str,
    gate_id: str,
    name: str,
    payload: bytes,
    *,
    retain: bool = False,
) -> None:
    """An admin command to one gate (`retain` only to test that the gate refuses it)."""
    publish(host, port, topics.cmd_topic(community_id, gate_id, name), payload, retain=retain)
