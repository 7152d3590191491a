"""A simulated gate on a ManualClock: real drivers over simulated hardware, real outbox."""

from __future__ import annotations

import pytest

from firmware import config, credentials
from firmware.clock import ManualClock
from firmware.core import status_list as sl
from host_sim.rig import SimRig, write_keys

COMMUNITY = "sunshine-garden"
GATE = "north-1"
URI = "https://sunshine-garden.example/sl/1"
START = 1_790_000_000.0

BASE_CONFIG = f"""
[device]
id = "gate-0042"
community = "{COMMUNITY}"
gate = "{GATE}"
direction = "in"

[door]
pulse_s = 3.0
cooldown_s = 1.0
"""


class Community:
    """The community side in tests: issues passes, status lists and admin commands."""

    def __init__(self, keys: dict, clock: ManualClock) -> None:
        self.keys = keys
        self.clock = clock
        self.statuses = [0] * 64

    def pass_token(
        self, pass_id: str = "p-0001", pt: str = "resident", idx: int = 5, **extra
    ) -> str:
        return credentials.sign_token(self.pass_claims(pass_id, pt, idx, **extra),
                                      self.keys["issuer"], "gatepass+jwt")

    def pass_claims(self, pass_id: str, pt: str, idx: int, days: int = 30, **extra) -> dict:
        now = int(self.clock.time())
        status = {"status_idx": idx, "status_uri": URI} if pt != "visitor" else {}
        return credentials.pass_claims(COMMUNITY, pass_id, pt, issued_at=now - 60,
                                       expires=now + days * 86400, **status, **extra)

    def status_list_token(self, iat: int | None = None, exp_in: int = 86400, key=None) -> str:
        iat = int(self.clock.time()) if iat is None else iat
        claims = {
            "sub": URI,
            "iat": iat,
            "exp": iat + exp_in,
            "status_list": {"bits": 2, "lst": sl.encode_lst(self.statuses)},
        }
        return credentials.sign_token(claims, key or self.keys["issuer"], "statuslist+jwt")


@pytest.fixture
def clock():
    return ManualClock(start=START)


@pytest.fixture
def keys(tmp_path):
    return write_keys(tmp_path / "keys")


@pytest.fixture
def community(keys, clock):
    return Community(keys, clock)


def make_config(extra: str = "") -> config.Config:
    return config.parse(BASE_CONFIG + extra)


@pytest.fixture
def make_rig(tmp_path, clock, keys):
    rigs = []

    def build(extra: str = "", **kw) -> SimRig:
        rig = SimRig(make_config(extra), tmp_path / "gate", clock=clock, keys=keys, **kw)
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        rig.close()


@pytest.fixture
def rig(make_rig, community):
    rig = make_rig()
    rig.inbox.mqtt_message("status-list", None, community.status_list_token().encode(), True)
    rig.gate.process_pending()
    return rig
