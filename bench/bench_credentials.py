"""Credential figures: pass verifications per second on one core, and how big a pass's QR is.

The passes are issued by `gatekiosk pass issue` itself, with realistic claims, so the sizes are
what a resident or visitor would carry.
"""

from __future__ import annotations

import contextlib
import io
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import segno

from firmware import cli, credentials
from firmware.core import status_list

NOW = 1_767_225_600
COMMUNITY = "sunshine-garden"
STATUS_URI = "https://sunshine-garden.example/sl/1"
SECONDS_PER_MEASUREMENT = 2.0


def _cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = cli.main(list(argv))
    if status != 0:
        raise RuntimeError(f"gatekiosk {' '.join(argv[:2])} failed with status {status}")
    return out.getvalue().strip()


def _issue(key: Path, *extra: str) -> str:
    return _cli(
        "pass", "issue", "--key", str(key), "--community", COMMUNITY, "--now", str(NOW), *extra
    )


def _per_second(work: Any, seconds: float = SECONDS_PER_MEASUREMENT) -> float:
    """Calls of `work` per second, in one thread (so on one core)."""
    calls = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(50):
            work()
        calls += 50
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - started)


def _qr_version(token: str) -> str:
    return str(segno.make(token, error="m", boost_error=False, micro=False).designator)


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for alg in credentials.ALGORITHMS:
            private, public = folder / f"{alg}.jwks", folder / f"{alg}.pub.jwks"
            _cli(
                "pass",
                "keygen",
                "--kid",
                "sg1",
                "--alg",
                alg,
                "--out",
                str(private),
                "--public-out",
                str(public),
            )
            keys = credentials.KeySet.load(public)
            resident = _issue(
                private,
                "--id",
                "7QK2M9XH4D1P6B3Z",
                "--type",
                "resident",
                "--status-idx",
                "12345",
                "--status-uri",
                STATUS_URI,
                "--unit",
                "3-2-501",
            )
            visitor = _issue(
                private,
                "--id",
                "V8N3Q5R2T7W4Y6ZA",
                "--type",
                "visitor",
                "--gates",
                "north-1,east-2",
                "--valid-for",
                "24h",
            )
            assert credentials.verify_pass(resident, keys).ok
            assert credentials.verify_pass(visitor, keys).ok
            rate = _per_second(lambda: credentials.verify_pass(resident, keys))  # noqa: B023
            refused = _per_second(  # a forged signature costs a full verification too
                lambda: credentials.verify_pass(resident[:-2] + "AA", keys)  # noqa: B023
            )
            section = {
                "verify_per_s": round(rate),
                "verify_us": round(1e6 / rate, 1),
                "refuse_bad_signature_per_s": round(refused),
                "resident_pass_chars": len(resident),
                "resident_pass_qr": _qr_version(resident),
                "visitor_pass_chars": len(visitor),
                "visitor_pass_qr": _qr_version(visitor),
            }
            figures[alg] = section
            print(
                f"   {alg}: {rate:,.0f} pass verifications/s on one core "
                f"({1e6 / rate:.0f} µs each); resident pass {len(resident)} chars, QR "
                f"{section['resident_pass_qr']}; visitor pass {len(visitor)} chars, QR "
                f"{section['visitor_pass_qr']}"
            )

        key = credentials.generate_keypair("sg1", "EdDSA")
        keys = credentials.KeySet.from_dict({"keys": [credentials.public_jwk(key)]})
        rng = random.Random(1)
        # A 20,000-household community where about 1 in 50 is under observation or revoked.
        statuses = [rng.choice((1, 2, 3)) if rng.random() < 0.02 else 0 for _ in range(20_000)]
        claims = {
            "sub": STATUS_URI,
            "iat": NOW,
            "exp": NOW + 86400,
            "status_list": {"bits": 2, "lst": status_list.encode_lst(statuses)},
        }
        token = credentials.sign_token(claims, key, credentials.STATUS_LIST_TYP)
        list_rate = _per_second(
            lambda: credentials.verify_status_list_token(token, keys), seconds=1.0
        )
        figures["status_list_20k"] = {
            "token_chars": len(token),
            "verify_and_decode_per_s": round(list_rate),
        }
        print(
            f"   status list of 20,000 entries: {len(token):,} chars, "
            f"{list_rate:,.0f} verify+decode/s"
        )
    return figures
