"""The gate reads the compact pass (DESIGN 2.1b) as it reads the JWT: through the simulated
camera and the real QR decoder, to the same decision and the same event."""

from __future__ import annotations

import json

from firmware import credentials
from firmware.gate.visit import MEASURING


def _compact(community, pass_id="p-0001", pt="resident", idx=5, **extra) -> str:
    claims = community.pass_claims(pass_id, pt, idx, days=1, **extra)
    return credentials.sign_cwt_pass(claims, community.keys["issuer"])


def _events(rig):
    return [json.loads(r.payload) for r in rig.outbox.pending(10_000) if r.kind == "event"]


def _visit(rig, code, body_c=36.6):
    rig.present(code)
    rig.step()
    rig.face_sensor(body_c)
    rig.run_for(4.0)


def test_a_resident_with_a_compact_pass_is_let_in(rig, community):
    code = _compact(community)
    assert code.startswith("GK1:")
    rig.present(code)
    rig.step()
    assert rig.gate.phase == MEASURING
    rig.face_sensor(36.6)
    rig.run_for(1.0)
    [event] = _events(rig)
    assert (event["decision"], event["reasons"]) == ("granted", [])
    assert event["pass"]["id"] == "p-0001" and event["pass"]["status"] == "normal"
    assert rig.sim_door.relay_energised


def test_a_compact_pass_on_home_observation_is_refused_like_a_jwt(rig, community, clock):
    community.statuses[6] = 2
    clock.advance(1)  # a later list replaces the one the gate holds
    rig.inbox.mqtt_message("status-list", None, community.status_list_token().encode(), True)
    rig.gate.process_pending()
    for code in (_compact(community, "p-6", idx=6), community.pass_token("p-6", idx=6)):
        _visit(rig, code)
        rig.run_for(5.0)
    reasons = [event["reasons"] for event in _events(rig)]
    assert reasons == [["home_observation"], ["home_observation"]]
    assert not rig.sim_door.relay_energised


def test_a_forged_compact_pass_is_refused_at_once(rig, community):
    impostor = credentials.generate_keypair(community.keys["issuer"]["kid"], "EdDSA")
    claims = credentials.verify_pass(
        _compact(community), credentials.KeySet.from_dict({"keys": [community.keys["issuer"]]})
    ).claims
    rig.present(credentials.sign_cwt_pass(claims, impostor))
    rig.step()
    rig.run_for(1.0)
    [event] = _events(rig)
    assert event["reasons"] == ["bad_signature"] and event["pass"] is None


def test_a_compact_visitor_pass_is_single_use_even_after_a_restart(make_rig, community, clock):
    rig = make_rig()
    code = _compact(community, "v-9", pt="visitor", jti=b"visit-123".hex())
    _visit(rig, code)
    assert _events(rig)[0]["decision"] == "granted"
    rig.close()
    again = make_rig()
    clock.advance(3600)
    _visit(again, code)
    assert _events(again)[-1]["reasons"] == ["visitor_pass_reused"]
