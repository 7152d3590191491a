"""Visits through the whole gate on simulated hardware: code, temperature, decision, door."""

from __future__ import annotations

import json

import pytest

from firmware.gate.visit import COOLDOWN, IDLE, MEASURING
from host_sim import schemas


def events_of(rig, kind="event"):
    rows = rig.outbox.pending(10_000)
    return [json.loads(r.payload) for r in rows if r.kind == kind]


def relay_openings(rig):
    """(on, off) monotonic pairs of the relay pin's active periods, from its recorded states."""
    states = rig.sim_door.relay_pin.states
    out, opened = [], None
    for s in states:
        active = bool(s.state)
        if active and opened is None:
            opened = s.timestamp
        elif not active and opened is not None:
            out.append((opened, s.timestamp))
            opened = None
    return out, opened is not None


def visit(rig, token, body_c, seconds=4.0):
    rig.present(token)
    rig.step()
    if body_c is not None:
        rig.face_sensor(body_c)
    rig.run_for(seconds)


def test_a_resident_with_a_normal_temperature_is_let_in(rig, community):
    rig.present(community.pass_token())
    rig.step()
    assert rig.gate.phase == MEASURING
    assert rig.prompts.last["en"].startswith("Face the sensor")
    rig.face_sensor(36.6)
    rig.run_for(1.0)
    [event] = events_of(rig)
    assert event["decision"] == "granted", event
    assert event["reasons"] == []
    assert event["pass"]["id"] == "p-0001"
    assert event["temperature"]["body_c"] == pytest.approx(36.6, abs=0.1)
    assert event["temperature"]["remeasured"] is False
    assert event["door"] == {"opened": True, "open_seconds": 3.0}
    assert event["seq"] == 2 or event["seq"] == 1
    assert schemas.validate(event) == []
    assert rig.sim_door.relay_energised
    assert rig.gate.phase == COOLDOWN
    rig.run_for(4.0)
    assert not rig.sim_door.relay_energised
    assert rig.gate.phase == IDLE


def test_the_event_is_committed_before_the_relay_moves(rig, community):
    seen = []
    original = rig.door.pulse

    def pulse(seconds=None):
        seen.append(len(events_of(rig)))
        return original(seconds)

    rig.door.pulse = pulse
    visit(rig, community.pass_token(), 36.5, seconds=1.0)
    assert seen == [1]


def test_a_confirmed_fever_is_denied_and_alarmed(rig, community):
    visit(rig, community.pass_token(), 38.2)
    [event] = events_of(rig)
    assert event["decision"] == "denied"
    assert event["reasons"] == ["fever"]
    assert event["temperature"]["remeasured"] is True
    assert event["door"]["opened"] is False
    [alarm] = events_of(rig, "alarm")
    assert alarm["alarm"] == "fever"
    assert alarm["severity"] == "critical"
    assert alarm["related_event_id"] == event["event_id"]
    assert alarm["pass"]["id"] == "p-0001"
    assert alarm["seq"] == event["seq"] + 1
    assert schemas.validate(alarm) == []
    assert relay_openings(rig) == ([], False)
    assert any(p["en"].startswith("Temperature high") for p in rig.prompts.history)
    assert rig.indicator.current == "fever"


def test_a_high_first_reading_that_the_second_does_not_confirm_is_let_in(rig, community):
    rig.present(community.pass_token())
    rig.step()
    rig.face_sensor(37.6)
    rig.run_for(1.0)
    assert rig.prompts.last["en"].startswith("Temperature high")
    rig.face_sensor(36.9)
    rig.run_for(2.0)
    [event] = events_of(rig)
    assert event["decision"] == "granted"
    assert event["temperature"]["remeasured"] is True
    assert events_of(rig, "alarm") == []


def test_nobody_at_the_sensor_is_denied_for_no_temperature(rig, community):
    visit(rig, community.pass_token(), None, seconds=8.0)
    [event] = events_of(rig)
    assert event["reasons"] == ["temperature_unavailable"]
    assert event["temperature"] is None
    assert not rig.sim_door.relay_energised


def test_a_forged_code_is_refused_at_once_without_measuring(rig):
    rig.present("this-is-not-a-pass")
    rig.step()
    [event] = events_of(rig)
    assert event["reasons"] == ["unrecognized_code"]
    assert event["pass"] is None
    assert rig.gate.phase == COOLDOWN


def test_an_expired_pass_is_refused_without_measuring(rig, community, clock):
    token = community.pass_token(exp=int(clock.time()) - 3600)
    rig.present(token)
    rig.step()
    [event] = events_of(rig)
    assert event["reasons"] == ["pass_expired"]


def test_a_home_observation_status_is_refused(rig, community):
    community.statuses[5] = 2
    rig.inbox.mqtt_message(
        "status-list",
        None,
        community.status_list_token(iat=int(rig.clock.time()) + 1).encode(),
        True,
    )
    rig.gate.process_pending()
    rig.present(community.pass_token())
    rig.step()
    [event] = events_of(rig)
    assert event["reasons"] == ["home_observation"]
    assert event["pass"]["status"] == "home_observation"


def test_the_same_phone_held_in_view_is_one_visit(rig, community):
    visit(rig, community.pass_token(), 36.5, seconds=6.0)
    assert len(events_of(rig)) == 1


def test_the_exit_button_opens_and_is_recorded(rig):
    rig.sim_door.press_exit_button()
    rig.run_for(0.5, read_camera=False)
    [event] = events_of(rig)
    assert event["kind"] == "exit_request"
    assert event["decision"] == "granted"
    assert schemas.validate(event) == []
    assert rig.sim_door.relay_energised


def test_a_door_forced_open_raises_an_alarm(rig):
    rig.sim_door.force_open()
    rig.run_for(0.5, read_camera=False)
    [alarm] = events_of(rig, "alarm")
    assert alarm["alarm"] == "door_forced"
    assert alarm["state"] == "raised"


def test_a_sensor_fault_is_alarmed_and_never_guessed(rig, community):
    rig.i2c.disconnect()
    rig.run_for(2.0, read_camera=False)
    [alarm] = events_of(rig, "alarm")
    assert alarm["alarm"] == "sensor_fault"
    assert rig.indicator.current == "fault"
    visit(rig, community.pass_token(), 36.5, seconds=8.0)
    [event] = events_of(rig)
    assert event["reasons"] == ["temperature_unavailable"]
    rig.i2c.reconnect()
    rig.run_for(2.0, read_camera=False)
    alarms = events_of(rig, "alarm")
    assert [(a["alarm"], a["state"]) for a in alarms] == [
        ("sensor_fault", "raised"),
        ("sensor_fault", "cleared"),
    ]


def test_a_broken_outbox_keeps_the_door_locked(rig, community):
    rig.outbox.close()
    visit(rig, community.pass_token(), 36.5, seconds=2.0)
    assert relay_openings(rig) == ([], False)
    assert "storage" in rig.gate.faults
    assert rig.indicator.current == "fault"


def test_a_visitor_pass_is_single_use_even_after_a_restart(make_rig, community, clock):
    rig = make_rig()
    token = community.pass_token("v-9", pt="visitor", jti="visit-123")
    visit(rig, token, 36.5)
    assert events_of(rig)[0]["decision"] == "granted"
    rig.close()
    again = make_rig()
    clock.advance(3600)
    visit(again, token, 36.5)
    last = events_of(again)[-1]
    assert last["reasons"] == ["visitor_pass_reused"]


def test_a_command_is_refused_when_the_record_of_used_ids_fails(rig, keys, clock):
    from firmware import credentials

    rig.jti_store.close()  # its database is gone: every look-up now fails
    now = int(clock.time())
    claims = {
        "iss": "sunshine-garden",
        "sub": "op",
        "aud": "north-1",
        "cmd": "open",
        "jti": "j1",
        "iat": now,
        "exp": now + 30,
    }
    token = credentials.sign_token(claims, keys["admin"], "gatecmd+jwt")
    rig.inbox.mqtt_message("cmd", "open", json.dumps({"token": token}).encode(), False)
    rig.run_for(0.5, read_camera=False)
    assert relay_openings(rig) == ([], False)
    assert "storage" in rig.gate.faults
    assert events_of(rig) == []


def test_a_clock_thrown_back_by_a_power_cut_cannot_revive_an_expired_pass(
    make_rig, community, clock
):
    rig = make_rig()
    # The status list was signed "now": real time is at least its iat.
    rig.inbox.mqtt_message("status-list", None, community.status_list_token().encode(), True)
    rig.gate.process_pending()
    expired = community.pass_token("p-old", exp=int(clock.time()) - 3600)
    fresh = community.pass_token("p-new")
    # Power cut: the Pi boots with the time it saved a day ago and no NTP yet.
    clock.set_synced(False)
    clock_back = clock.time() - 86400
    rig.gate.clock = _Skewed(clock, clock_back - clock.time())
    visit(rig, expired, 36.5, seconds=2.0)
    rig.walk_away()
    rig.run_for(3.0, read_camera=False)
    visit(rig, fresh, 36.5, seconds=2.0)
    first, second = events_of(rig)
    assert first["reasons"] == ["pass_expired"]
    assert second["decision"] == "granted", second["reasons"]
    assert first["clock_synced"] is False


class _Skewed:
    """The system clock of a Pi that booted with a stale time: wall time off by `offset`."""

    def __init__(self, clock, offset):
        self._clock = clock
        self._offset = offset

    def time(self):
        return self._clock.time() + self._offset

    def monotonic(self):
        return self._clock.monotonic()

    def sleep(self, seconds):
        self._clock.sleep(seconds)

    def synced(self):
        return self._clock.synced()


def test_the_next_person_s_code_shown_while_the_gate_is_busy_is_taken_up_after(rig, community):
    visit(rig, community.pass_token("p-first"), 36.5, seconds=1.0)
    assert rig.gate.phase == COOLDOWN
    # The next resident holds up a phone while the first is still walking through.
    rig.scene.leave()
    rig.present(community.pass_token("p-second"))
    rig.step()
    assert len(events_of(rig)) == 1
    rig.face_sensor(36.7)
    rig.run_for(3.0)
    first, second = events_of(rig)
    assert first["pass"]["id"] == "p-first"
    assert second["pass"]["id"] == "p-second"
    assert second["decision"] == "granted"


def test_a_code_held_too_long_ago_is_not_taken_up(rig, community):
    rig.present(community.pass_token("p-first"))
    rig.step()
    assert rig.gate.phase == MEASURING
    # Someone behind shows a code at once; the first person never faces the sensor, so the
    # gate stays busy for the whole measurement window (6 s), longer than a held code lasts.
    rig.present(community.pass_token("p-second"))
    rig.step()
    rig.walk_away()
    rig.run_for(10.0, read_camera=False)
    assert [e["pass"]["id"] for e in events_of(rig)] == ["p-first"]
    assert rig.gate.phase == IDLE
