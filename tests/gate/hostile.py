"""Helpers for the hostile-input gate tests: signed commands and a link that records."""

from __future__ import annotations

import json

from firmware import credentials

from .conftest import COMMUNITY, GATE


def command_payload(keys, clock, name="ping", **claims) -> bytes:
    now = int(clock.time())
    body = {"iss": COMMUNITY, "sub": "op", "aud": GATE, "cmd": name, "jti": f"j-{now}",
            "iat": now, "exp": now + 30}
    body.update(claims)
    token = credentials.sign_token(body, keys["admin"], "gatecmd+jwt")
    return json.dumps({"token": token}).encode()


class Replies:
    """A link stand-in that keeps what the gate published directly (cmd-result, alarms)."""

    connected = True

    def __init__(self):
        self.sent = []

    def publish_now(self, kind, payload, qos=1, retain=False):
        self.sent.append((kind, payload))
        return True

    def results(self):
        return [p for k, p in self.sent if k == "cmd-result"]


def with_replies(rig):
    replies = Replies()
    rig.gate.commands.link = replies
    rig.gate.recorder._link = replies
    return replies
