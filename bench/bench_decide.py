"""Decision figures: decide() alone, and a whole verification + decision, per second on one core.

The pass is a realistic resident pass checked against a 20,000-entry status list; the decision
includes two temperature readings (the re-measurement path), as the slowest ordinary visit does.
"""

from __future__ import annotations

import time
from typing import Any

from firmware import credentials
from firmware.core import policy
from firmware.core import status_list as sl

NOW = 1_790_000_000
URI = "https://sunshine-garden.example/sl/1"
SECONDS = 2.0


def _per_second(work: Any) -> float:
    calls = 0
    started = time.perf_counter()
    while True:
        for _ in range(100):
            work()
        calls += 100
        elapsed = time.perf_counter() - started
        if elapsed >= SECONDS:
            return calls / elapsed


def run() -> dict[str, Any]:
    key = credentials.generate_keypair("sg1", "EdDSA")
    keys = credentials.KeySet.from_dict({"keys": [credentials.public_jwk(key)]})
    claims = credentials.pass_claims(
        "sunshine-garden", "7QK2M9XH4D1P6B3Z", "resident", issued_at=NOW - 86400,
        expires=NOW + 300 * 86400, status_idx=12345, status_uri=URI, unit="3-2-501",
    )
    token = credentials.sign_token(claims, key, "gatepass+jwt")
    values = [0] * 20_000
    status = policy.StatusView(
        sl.from_claims(
            {
                "sub": URI,
                "iat": NOW - 60,
                "exp": NOW + 86400,
                "status_list": {"bits": 2, "lst": sl.encode_lst(values)},
            }
        ),
        NOW - 60,
    )
    gate = policy.GatePolicy("sunshine-garden", "north-1")
    state = policy.GateState()
    bodies = [37.4, 36.9]

    def decide_only() -> None:
        policy.decide(None, claims, status, bodies, gate, state, NOW)

    def verify_and_decide() -> None:
        v = credentials.verify_pass(token, keys)
        policy.decide(v.reason, v.claims, status, bodies, gate, state, NOW)

    assert policy.decide(None, claims, status, bodies, gate, state, NOW).granted
    figures = {
        "decide_per_s": round(_per_second(decide_only)),
        "verify_and_decide_per_s": round(_per_second(verify_and_decide)),
        "pass_chars": len(token),
    }
    print(f"   decide() alone              {figures['decide_per_s']:>8,} /s (one core)")
    print(f"   verify pass + decide        {figures['verify_and_decide_per_s']:>8,} /s (one core)")
    return figures
