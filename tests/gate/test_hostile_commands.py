"""Hostile commands: bounded before parsing, never an exception, never a lost visit."""

from __future__ import annotations

from .hostile import command_payload, with_replies
from .test_gate_visits import events_of


def test_malformed_commands_never_drop_the_person_at_the_gate(rig, community, keys, clock):
    replies = with_replies(rig)
    rig.present(community.pass_token())
    rig.step()
    assert rig.gate.phase == "measuring"
    hostile = [
        b"[" * 3000 + b"]" * 3000,
        b'{"token": ' + b"[" * 100_000 + b"}",
        b"x" * 100_000_000,
        command_payload(keys, clock, "open", jti="big-exp", exp=10**400),
        command_payload(keys, clock, "open", jti="big-secs", args={"seconds": 10**400}),
    ]
    for payload in hostile:
        rig.inbox.mqtt_message("cmd", "open", payload, False)
    del hostile
    rig.gate.process_pending()
    assert rig.gate.phase == "measuring"
    assert [r["reason"] for r in replies.results()] == ["malformed"] * 5
    rig.face_sensor(36.6)
    rig.run_for(1.0)
    [event] = events_of(rig)
    assert event["decision"] == "granted"


def test_a_busy_reply_carries_the_jti_of_a_verified_token(rig, keys, clock):
    replies = with_replies(rig)
    rig.jti_store.close()
    rig.inbox.mqtt_message("cmd", "ping", command_payload(keys, clock, jti="known-1"), False)
    rig.gate.process_pending()
    [result] = replies.results()
    assert (result["reason"], result["jti"]) == ("busy", "known-1")
