"""QR texts, fuzzed through what the gate does with a code: `verify_pass`, then `decide` with a
fresh status list that admits everyone, a normal temperature and an open gate — so only the
code itself can refuse. No input raises, and nothing but a genuine pass is granted.

Four families, each >= 100,000 inputs in the long profile (`make soak`, GATEKIOSK_FUZZ_EXAMPLES
=100000): random bytes; random text (any, and GK1: + base45 alphabet); valid-looking JWS
(random segments, any JSON header and claims with any signature, a genuine pass with a bit
flipped); the compact CWT (any bytes in base45, any COSE structure, a bit flipped). A family
of n tests runs GATEKIOSK_FUZZ_EXAMPLES / n examples in each.
"""

from __future__ import annotations

import json
import zlib

import base45
import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware import credentials
from firmware.commands import auth
from firmware.core import b64, policy, reasons
from firmware.core import status_list as sl

from .conftest import EXAMPLES, share

pytestmark = pytest.mark.timeout(120 + EXAMPLES // 100)

BYTES, TEXT, JWS, CWT = share(1), share(2), share(3), share(3)
# The status list of the passes tests/credentials signs.
URI = "https://sunshine-garden.example/sl/1"
NOW = 1_767_225_600 + 10  # just after those passes were issued
GATE = policy.GatePolicy("sunshine-garden", "north-1")
ALL_VALID = policy.StatusView(
    sl.from_claims({
        "sub": URI, "iat": NOW - 600, "exp": NOW + 3600,
        "status_list": {"bits": 2, "lst": b64.encode(zlib.compress(bytes(1 << 14)))},
    }),
    received_at=NOW - 600,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["EdDSA", "ES256", "none", "HS256", "RS256"]) | st.text(max_size=6),
        "kid": st.sampled_from(["ed1", "es1", "x"]) | json_values,
        "typ": st.sampled_from(["gatepass+jwt", "statuslist+jwt", "JWT"]) | json_values,
        "crit": json_values,
    },
)


def _check(result: credentials.PassVerification, caplog=None) -> None:
    assert isinstance(result, credentials.PassVerification)
    if caplog is not None:
        # The safety net that turns an unexpected exception into a refusal must never be needed.
        assert not [r for r in caplog.records if r.name.startswith("firmware.credentials")]
        caplog.clear()
    if not result.ok:
        assert result.reason in reasons.CREDENTIAL_FAILURES
        assert result.claims is None
    assert not _granted(result), "a code that is not a genuine pass was granted"


def _granted(result: credentials.PassVerification) -> bool:
    """What the gate decides for this code, everything else being fine."""
    reason = None if result.ok else result.reason
    claims = result.claims if result.ok else None
    decision = policy.decide(reason, claims, ALL_VALID, [36.5], GATE, policy.GateState(), NOW)
    return decision.granted


def test_a_genuine_pass_is_granted_through_the_same_path(ed_key, keys, jws):
    for token in (credentials.sign_token(jws.resident_claims(), ed_key, "gatepass+jwt"),
                  credentials.sign_cwt_pass(jws.resident_claims(), ed_key)):
        assert _granted(credentials.verify_pass(token.encode(), keys))


@BYTES
@given(code=st.binary(max_size=1200))
def test_arbitrary_bytes_never_raise(code, keys, caplog):
    _check(credentials.verify_pass(code, keys), caplog)


@TEXT
@given(code=st.text(max_size=1200))
def test_arbitrary_text_never_raises(code, keys, caplog):
    _check(credentials.verify_pass(code, keys), caplog)
    assert credentials.verify_status_list_token(code, keys).ok is False


@JWS
@given(parts=st.lists(st.binary(min_size=1, max_size=120), min_size=3, max_size=3))
def test_three_arbitrary_base64url_segments_never_raise_or_pass(parts, keys, caplog):
    code = ".".join(b64.encode(p) for p in parts)
    result = credentials.verify_pass(code, keys)
    _check(result, caplog)
    assert not result.ok


@JWS
@given(header=headers, claims=json_values, signature=st.binary(max_size=80))
def test_any_json_header_and_payload_with_any_signature_never_passes(
    header, claims, signature, keys, caplog
):
    code = ".".join(
        [
            b64.encode(json.dumps(header).encode()),
            b64.encode(json.dumps(claims).encode()),
            b64.encode(signature) if signature else "",
        ]
    )
    result = credentials.verify_pass(code, keys)
    _check(result, caplog)
    assert not result.ok
    command = auth.verify_command(
        code,
        keys,
        community_id="c",
        gate_id="g",
        name="open",
        now=0.0,
        seen=auth.MemoryJtiStore(),
    )
    assert not command.ok and command.reason is not None


@JWS
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=6))
def test_flipping_any_bit_of_a_genuine_pass_never_passes(position, bit, ed_key, keys, jws):
    token = credentials.sign_token(jws.resident_claims(), ed_key, "gatepass+jwt")
    raw = bytearray(token.encode())
    raw[position % len(raw)] ^= 1 << bit
    result = credentials.verify_pass(bytes(raw), keys)
    _check(result)
    assert not result.ok


# --- the compact pass ------------------------------------------------------------------------

cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 64), max_value=(1 << 64) - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.binary(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.integers(-3, 20) | st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
cose_headers = st.fixed_dictionaries(
    {},
    optional={
        1: st.sampled_from([-8, -7, -35, 5, 0]) | cbor_values,
        2: cbor_values,
        4: st.sampled_from([b"ed1", b"es1", b"x", "ed1"]) | cbor_values,
        16: st.sampled_from(["gatepass+cwt", "gatepass+jwt"]) | cbor_values,
    },
)


@CWT
@given(body=st.binary(max_size=700))
def test_any_bytes_as_a_compact_pass_never_raise_or_pass(body, keys, caplog):
    result = credentials.verify_pass(_compact_code(body), keys)
    _check(result, caplog)
    assert not result.ok


@TEXT
@given(text=st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=1100))
def test_any_base45_text_never_raises_or_passes(text, keys, caplog):
    result = credentials.verify_pass("GK1:" + text, keys)
    _check(result, caplog)
    assert not result.ok


@CWT
@given(
    header=cose_headers,
    unprotected=cbor_values,
    claims=cbor_values,
    signature=st.binary(max_size=80),
    tag=st.sampled_from([18, 18, 18, 61, None]),
)
def test_any_cose_structure_with_any_signature_never_raises_or_passes(
    header, unprotected, claims, signature, tag, keys, caplog
):
    parts = [cbor2.dumps(header), unprotected, cbor2.dumps(claims), signature]
    message = cbor2.dumps(parts if tag is None else cbor2.CBORTag(tag, parts))
    result = credentials.verify_pass(_compact_code(message), keys)
    _check(result, caplog)
    assert not result.ok


@CWT
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=6))
def test_flipping_any_bit_of_a_genuine_compact_pass_never_passes(position, bit, ed_key, keys, jws):
    token = credentials.sign_cwt_pass(jws.resident_claims(), ed_key)
    raw = bytearray(token.encode())
    raw[position % len(raw)] ^= 1 << bit
    result = credentials.verify_pass(bytes(raw), keys)
    _check(result)
    assert not result.ok


def _compact_code(message: bytes) -> str:
    return "GK1:" + base45.b45encode(message).decode()
