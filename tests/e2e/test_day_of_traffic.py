"""A day at an old compound's gate, simulated in seconds on a ManualClock.

Several hundred people over 24 hours - residents, fevers, expired and forged codes, exits,
market workers at 3 a.m. - through the firmware's own gate on simulated hardware. Every visit
must end in exactly one recorded decision, the one the rules call for, numbered without a gap.
"""

from __future__ import annotations

import json
import random

from firmware import config, credentials
from firmware.clock import ManualClock
from firmware.core import status_list as sl
from host_sim import schemas
from host_sim.rig import SimRig, write_keys

COMMUNITY = "old-compound"
URI = "https://old-compound.example/sl/1"
START = 1_790_000_000.0  # a known instant; the day runs from here
VISITS = 240


def test_a_day_of_traffic_ends_in_one_correct_decision_per_visit(tmp_path):
    clock = ManualClock(start=START)
    keys = write_keys(tmp_path / "keys")
    cfg = config.parse(
        f"""
[device]
id = "gate-old-1"
community = "{COMMUNITY}"
gate = "main-in"
[door]
pulse_s = 3.0
cooldown_s = 1.0
[policy]
passback_s = 0
[temperature]
fever_hold_s = 2.0
"""
    )
    rig = SimRig(cfg, tmp_path / "gate", clock=clock, keys=keys)
    rng = random.Random(7)
    statuses = [0] * 400
    for i in range(0, 400, 37):
        statuses[i] = 2
    status_token = credentials.sign_token(
        {
            "sub": URI,
            "iat": int(START) - 60,
            "exp": int(START) + 2 * 86400,
            "status_list": {"bits": 2, "lst": sl.encode_lst(statuses)},
        },
        keys["issuer"],
        "statuslist+jwt",
    )
    rig.inbox.mqtt_message("status-list", None, status_token.encode(), True)
    rig.gate.process_pending()

    def resident(idx: int, **extra) -> str:
        now = int(clock.time())
        claims = credentials.pass_claims(COMMUNITY, f"r-{idx:04d}", "resident",
                                         issued_at=now - 86400, expires=now + 86400,
                                         status_idx=idx, status_uri=URI, **extra)
        return credentials.sign_token(claims, keys["issuer"], "gatepass+jwt")

    expected: list[tuple[str, list[str]]] = []
    try:
        for _ in range(VISITS):
            clock_gap = rng.uniform(60, 2 * 86400 / VISITS)
            rig.run_for(clock_gap, dt=clock_gap, read_camera=False)
            kind = rng.choices(
                ["normal", "fever", "observation", "expired", "forged", "exit"],
                [70, 5, 5, 5, 5, 10],
            )[0]
            if kind == "exit":
                rig.sim_door.press_exit_button()
                rig.run_for(1.0, read_camera=False)
                expected.append(("exit_request", []))
                continue
            idx = rng.randrange(400)
            body = rng.uniform(36.0, 37.1)
            if kind == "observation":
                idx = 37 * rng.randrange(1, 10)
            elif statuses[idx] != 0:
                idx += 1
            if kind == "expired":
                code = resident(idx, exp=int(clock.time()) - 3600)
                reasons = ["pass_expired"]
            elif kind == "forged":
                code = "https://pay.example/qr/" + str(rng.randrange(10**9))
                reasons = ["unrecognized_code"]
            else:
                code = resident(idx)
                reasons = {"observation": ["home_observation"], "fever": ["fever"]}.get(kind, [])
                if kind == "fever":
                    body = rng.uniform(37.6, 39.5)
            rig.present(code)
            rig.step()  # the camera reads the code
            rig.face_sensor(body)
            rig.run_for(5.0, read_camera=False)
            rig.walk_away()
            rig.run_for(3.0, read_camera=False)
            expected.append(("access", reasons))

        rows = rig.outbox.pending(10_000)
        records = [json.loads(r.payload) for r in rows]
        events = [r for r in records if "kind" in r]
        assert [(e["kind"], e["reasons"]) for e in events] == expected
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        fevers = [r for r in records if r.get("alarm") == "fever"]
        assert len(fevers) == sum(1 for _, reasons in expected if reasons == ["fever"])
        bad = [(r["seq"], schemas.validate(r)) for r in records if schemas.validate(r)]
        assert bad == []
        assert clock.time() - START > 86400 * 0.9  # the simulated time covered a whole day
    finally:
        rig.close()
