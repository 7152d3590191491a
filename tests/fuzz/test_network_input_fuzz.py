"""Every input from the network, fuzzed: server acks, commands, status lists. Each is bounded
before use, and none raises or acts on what it should refuse.

`GATEKIOSK_FUZZ_EXAMPLES` sets the inputs of a family (150 in `make test`); in `make soak` (10^5)
these tests get a tenth each, what fits the run's budget (tests/fuzz/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware import credentials, payloads
from firmware.clock import ManualClock
from firmware.commands.auth import MemoryJtiStore
from firmware.commands.context import CommandContext
from firmware.commands.dispatch import run_command
from firmware.core import status_list as sl
from firmware.gate.state_store import StateStore
from firmware.gate.status_intake import take_status_list

from .conftest import EXAMPLES, share
from .strategies import EDGE_INTS, INTS, JSON_VALUES, claims_like, json_bytes

# A signed input costs up to a few milliseconds on a loaded host.
pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.timeout(120 + EXAMPLES // 50)]
# 8-11 ms of CPU an input: 10,000 each in the long profile (tests/fuzz/README.md).
NETWORK = share(1, 0.1)
NOW = 1_790_000_000
COMMUNITY, GATE = "fz-garden", "fz-gate"
ISSUER = credentials.generate_keypair("iss1", "EdDSA")
ADMIN = credentials.generate_keypair("adm1", "EdDSA")
ISSUERS = credentials.KeySet.from_dict({"keys": [credentials.public_jwk(ISSUER)]})
ADMINS = credentials.KeySet.from_dict({"keys": [credentials.public_jwk(ADMIN)]})
STREAM = "ab" * 16


# -- acks -----------------------------------------------------------------------------------

ACK_LIKE = json_bytes(
    st.fixed_dictionaries(
        {"stream": st.one_of(st.just(STREAM), JSON_VALUES),
         "through_seq": st.one_of(INTS, JSON_VALUES)},
        optional={"schema": st.one_of(st.just("gatekiosk/ack/v1"), JSON_VALUES)},
    )
)


@NETWORK
@given(raw=st.one_of(st.binary(max_size=600), ACK_LIKE, json_bytes(JSON_VALUES)))
def test_an_ack_is_parsed_within_its_bounds_or_refused_in_one_line(raw: bytes) -> None:
    try:
        stream, through = payloads.parse_ack(raw)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(stream, str) and len(stream) <= 32
    assert type(through) is int and 0 <= through <= 2**63 - 1
    assert len(raw) <= payloads.MAX_ACK_BYTES


# -- commands -------------------------------------------------------------------------------


class _Parts:
    """Door, indicator, recorder and link of a command context, recording what was asked."""

    connected = True

    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = []
        self.pulses: list[float] = []

    def publish_now(self, kind: str, payload: dict[str, Any], qos: int = 1,
                    retain: bool = False) -> bool:
        self.replies.append(payload)
        return True

    def record(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"event_id": payload["event_id"], "seq": 1}

    def pulse(self, seconds: float | None = None) -> float:
        self.pulses.append(float(seconds or 0))
        return float(seconds or 0)

    def show(self, *args: Any, **kwargs: Any) -> None:
        pass

    def refresh_status_list(self) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {}


def _context(parts: _Parts) -> CommandContext:
    identity = payloads.Identity("fz-device", COMMUNITY, GATE, "in", "0" * 8)
    return CommandContext(identity, ManualClock(NOW), parts, parts, parts, parts,  # type: ignore[arg-type]
                          3.0, 10.0, lambda: {}, lambda: None)


COMMAND_CLAIMS = claims_like({
    "iss": st.just(COMMUNITY), "sub": st.just("op"), "aud": st.just(GATE),
    "cmd": st.sampled_from(["open", "ping", "status-list-refresh"]),
    "jti": st.text(min_size=1, max_size=70), "iat": st.just(NOW) | INTS,
    "exp": st.integers(NOW - 10, NOW + 120) | EDGE_INTS,
    "args": st.fixed_dictionaries({}, optional={"seconds": st.one_of(INTS, JSON_VALUES),
                                                "reason": JSON_VALUES}),
})


def _signed_command(claims: dict[str, Any]) -> bytes:
    token = credentials.sign_token(claims, ADMIN, "gatecmd+jwt")
    return json.dumps({"token": token}).encode()


@NETWORK
@given(
    name=st.sampled_from(["open", "ping", "status-list-refresh", "reboot"]),
    payload=st.one_of(st.binary(max_size=5000), json_bytes(JSON_VALUES),
                      COMMAND_CLAIMS.map(_signed_command)),
    retained=st.booleans(),
)
def test_every_command_gets_one_answer_and_none_opens_unless_it_is_genuine(
    name: str, payload: bytes, retained: bool
) -> None:
    parts = _Parts()
    run_command(_context(parts), name, payload, retained, admin_keys=ADMINS,
                jti_store=MemoryJtiStore(), community_id=COMMUNITY, gate_id=GATE, now=NOW,
                storage_fault=lambda detail: None)
    [reply] = parts.replies
    assert reply["ok"] in (True, False) and (reply["ok"] or reply["reason"])
    if parts.pulses:
        assert reply["ok"] and name == "open" and not retained
        assert 0 < parts.pulses[0] <= 10.0


# -- status lists ---------------------------------------------------------------------------

LIST_CLAIMS = claims_like({
    "sub": st.just("https://fz.example/sl/1"),
    "iat": st.integers(NOW - 86400, NOW + 10 * 365 * 86400) | EDGE_INTS,
    "exp": st.integers(NOW, NOW + 86400) | EDGE_INTS,
    "ttl": INTS,
    "status_list": st.fixed_dictionaries(
        {"bits": st.sampled_from([1, 2, 4, 8]) | INTS,
         "lst": st.just(sl.encode_lst([0, 1, 2, 3])) | st.text(max_size=30)}),
})


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-state")


@NETWORK
@given(payload=st.one_of(
    st.binary(max_size=2000),
    LIST_CLAIMS.map(lambda c: credentials.sign_token(c, ISSUER, "statuslist+jwt").encode()),
))
def test_a_status_list_is_held_only_when_genuine_and_not_from_the_future(
    state_dir: Path, payload: bytes
) -> None:
    store = StateStore(state_dir, ManualClock(NOW), ISSUERS)
    taken = take_status_list(payload, store, ISSUERS, 300)
    held = store.status.status_list
    assert taken == (held is not None)
    if held is not None:
        assert held.iat <= NOW + 300
        assert store.time_floor <= NOW + 300
