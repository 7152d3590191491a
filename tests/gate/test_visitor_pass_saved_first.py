"""A single-use visitor pass: its used id is durable before the door moves, or it is refused."""

from __future__ import annotations

import json
import os

from firmware.gate.state_store import GATE_STATE_FILE

from .hostile import with_replies
from .test_gate_visits import events_of, relay_openings, visit


def _break_gate_state(rig):
    path = rig.gate.store.data_dir / GATE_STATE_FILE
    path.unlink(missing_ok=True)
    path.mkdir()  # nothing can be renamed over a directory: every save fails


def test_a_visitor_pass_whose_use_cannot_be_saved_is_refused(make_rig, community, clock):
    rig = make_rig()
    replies = with_replies(rig)
    _break_gate_state(rig)
    token = community.pass_token("v-1", pt="visitor", jti="visit-1")
    visit(rig, token, 36.5)
    [event] = events_of(rig)
    assert event["decision"] == "denied"
    assert event["door"]["opened"] is False
    assert relay_openings(rig) == ([], False)
    assert [p["alarm"] for k, p in replies.sent if k == "alarm"] == ["storage_fault"]
    rig.close()
    # After a restart, with the state file still unwritable: still refused.
    again = make_rig()
    clock.advance(60)
    visit(again, token, 36.5)
    assert events_of(again)[-1]["decision"] == "denied"
    assert relay_openings(again) == ([], False)


def test_a_visitor_pass_is_saved_as_used_before_the_door_moves(make_rig, community, clock):
    rig = make_rig()
    saved_before_pulse = []
    pulse = rig.door.pulse

    def pulse_and_check(seconds):
        saved = json.loads((rig.gate.store.data_dir / GATE_STATE_FILE).read_text())
        saved_before_pulse.append("visit-2" in saved["used_visitor_jtis"])
        return pulse(seconds)

    rig.gate.visits._door = type("D", (), {"pulse": staticmethod(pulse_and_check)})()
    token = community.pass_token("v-2", pt="visitor", jti="visit-2")
    visit(rig, token, 36.5)
    assert events_of(rig)[0]["decision"] == "granted"
    assert saved_before_pulse == [True]


def test_a_full_disk_refuses_the_visitor_pass(make_rig, community, monkeypatch):
    rig = make_rig()
    from firmware.store import files

    def full(fd, data):
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(files.os, "write", full)
    visit(rig, community.pass_token("v-3", pt="visitor", jti="visit-3"), 36.5)
    monkeypatch.undo()
    [event] = events_of(rig)
    assert event["decision"] == "denied"
    assert relay_openings(rig) == ([], False)
