"""The one place that knows MQTT topic names (DESIGN 2.4).

Every topic is built from ids that have been checked against `^[a-z0-9-]{1,64}$`: an id with
`+`, `#` or `/` would break the topic tree and has bypassed broker ACLs before (CVE-2017-7650).
"""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"[a-z0-9-]{1,64}")

# What the gate publishes and what it subscribes to, by the short name used across the firmware.
GATE_KINDS = ("event", "alarm", "state", "telemetry", "cmd-result", "ack")
OUTBOX_KINDS = ("event", "alarm")


def validate_id(value: object, what: str = "id") -> str:
    """Return `value` if it is a valid id; otherwise raise ValueError with one line."""
    if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
        raise ValueError(f"{what} must match ^[a-z0-9-]{{1,64}}$, got {value!r:.80}")
    return value


def gate_prefix(community_id: str, gate_id: str) -> str:
    """`community/{c}/gate/{g}`: the root of one gate's topics."""
    community = validate_id(community_id, "community_id")
    gate = validate_id(gate_id, "gate_id")
    return f"community/{community}/gate/{gate}"


def gate_topic(kind: str, community_id: str, gate_id: str) -> str:
    """The topic of one gate for `kind` in GATE_KINDS (event, alarm, state, ...)."""
    if kind not in GATE_KINDS:
        raise ValueError(f"unknown gate topic kind {kind!r}; expected one of {GATE_KINDS}")
    return f"{gate_prefix(community_id, gate_id)}/{kind}"


def event_topic(community_id: str, gate_id: str) -> str:
    """Decisions, QoS 1."""
    return gate_topic("event", community_id, gate_id)


def alarm_topic(community_id: str, gate_id: str) -> str:
    """Alarms, QoS 1, numbered with the events."""
    return gate_topic("alarm", community_id, gate_id)


def state_topic(community_id: str, gate_id: str) -> str:
    """Retained online birth record / offline last will."""
    return gate_topic("state", community_id, gate_id)


def telemetry_topic(community_id: str, gate_id: str) -> str:
    """Periodic health, QoS 0."""
    return gate_topic("telemetry", community_id, gate_id)


def cmd_result_topic(community_id: str, gate_id: str) -> str:
    """The gate's answer to each command."""
    return gate_topic("cmd-result", community_id, gate_id)


def ack_topic(community_id: str, gate_id: str) -> str:
    """The server's acknowledgements of committed events."""
    return gate_topic("ack", community_id, gate_id)


def cmd_topic(community_id: str, gate_id: str, name: str) -> str:
    """One command to the gate, `.../cmd/{name}`."""
    return f"{gate_prefix(community_id, gate_id)}/cmd/{validate_id(name, 'command name')}"


def cmd_subscription(community_id: str, gate_id: str) -> str:
    """The filter a gate subscribes to for all of its commands, `.../cmd/+`."""
    return f"{gate_prefix(community_id, gate_id)}/cmd/+"


def status_list_topic(community_id: str) -> str:
    """The community's retained Token Status List (bare JWT)."""
    return f"community/{validate_id(community_id, 'community_id')}/status-list"


def community_filter(kind: str, community_id: str) -> str:
    """`community/{c}/gate/+/{kind}`: what a server subscribes to for every gate's `kind`."""
    if kind not in GATE_KINDS:
        raise ValueError(f"unknown gate topic kind {kind!r}; expected one of {GATE_KINDS}")
    return f"community/{validate_id(community_id, 'community_id')}/gate/+/{kind}"


def classify(topic: str, community_id: str, gate_id: str) -> tuple[str, str | None] | None:
    """What an incoming topic is for this gate: ("status-list", None), ("ack", None),
    ("cmd", name); None for anything else (including a command name that is not a valid id)."""
    if topic == status_list_topic(community_id):
        return ("status-list", None)
    prefix = gate_prefix(community_id, gate_id) + "/"
    if not topic.startswith(prefix):
        return None
    rest = topic[len(prefix):]
    if rest == "ack":
        return ("ack", None)
    if rest.startswith("cmd/"):
        name = rest[len("cmd/"):]
        if ID_PATTERN.fullmatch(name):
            return ("cmd", name)
    return None


def parse_gate_topic(topic: str) -> tuple[str, str, str] | None:
    """Split `community/{c}/gate/{g}/{kind}` into (c, g, kind); None if it is not of that form."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "community" or parts[2] != "gate":
        return None
    community, gate, kind = parts[1], parts[3], parts[4]
    if not (ID_PATTERN.fullmatch(community) and ID_PATTERN.fullmatch(gate)):
        return None
    if kind not in GATE_KINDS:
        return None
    return (community, gate, kind)
