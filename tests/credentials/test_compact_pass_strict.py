"""The compact pass's strict decoding (DESIGN 2.1b): CBOR and text that are refused, validly signed
or not, before any signature work — and a table of cases for every credential reason code.
"""

from __future__ import annotations

import struct

import cbor2
import pytest

from firmware import credentials
from firmware.core import reasons
from firmware.credentials import cbor_strict


def _raw_map(pairs: list[tuple[object, object]], *, indefinite: bool = False) -> bytes:
    """A CBOR map written pair by pair, so keys may repeat and the length may be indefinite."""
    body = b"".join(cbor2.dumps(k) + cbor2.dumps(v) for k, v in pairs)
    return b"\xbf" + body + b"\xff" if indefinite else bytes([0xA0 + len(pairs)]) + body


def _claim_pairs(jws, overrides=None) -> list[tuple[object, object]]:
    return list(jws.cwt_claims(overrides).items())


def _refused(code: str, keys, reason: str) -> None:
    result = credentials.verify_pass(code, keys)
    assert (result.ok, result.reason, result.claims) == (False, reason, None)


# --- CBOR the decoder must not take, validly signed ------------------------------------------


def test_duplicate_claim_keys_are_a_malformed_pass_even_when_signed(ed_key, keys, jws):
    # Two decoders could read two different passes out of this.
    claims = _raw_map([*_claim_pairs(jws), (2, "SOMEONEELSE00001")])
    _refused(jws.forge_cwt(jws.cose_header(), claims, ed_key), keys, reasons.MALFORMED_PASS)


def test_duplicate_keys_written_in_two_encodings_are_still_duplicates(ed_key, keys, jws):
    pairs = _claim_pairs(jws)
    body = b"".join(cbor2.dumps(k) + cbor2.dumps(v) for k, v in pairs)
    claims = bytes([0xA0 + len(pairs) + 1]) + body + b"\x18\x02" + cbor2.dumps("B")  # key 2 again
    _refused(jws.forge_cwt(jws.cose_header(), claims, ed_key), keys, reasons.MALFORMED_PASS)


def test_duplicate_protected_header_labels_are_a_malformed_pass(ed_key, keys, jws):
    header = _raw_map([(1, -257), (1, -8), (4, b"ed1"), (16, "gatepass+cwt")])
    _refused(jws.forge_cwt(header, jws.cwt_claims(), ed_key), keys, reasons.MALFORMED_PASS)


def test_duplicate_keys_in_a_nested_map_are_a_malformed_pass(ed_key, keys, jws):
    inner = _raw_map([("idx", 1), ("idx", 2), ("uri", "https://x.example/")])
    claims = _raw_map([*_claim_pairs(jws)[:-2], (65535, None)]).replace(
        cbor2.dumps(None), b"\xa1" + cbor2.dumps("status_list") + inner
    )
    _refused(jws.forge_cwt(jws.cose_header(), claims, ed_key), keys, reasons.MALFORMED_PASS)


@pytest.mark.parametrize("where", ["claims", "header"])
def test_an_indefinite_length_map_is_a_malformed_pass(where, ed_key, keys, jws):
    header, claims = jws.cose_header(), jws.cwt_claims()
    if where == "claims":
        claims = _raw_map(list(claims.items()), indefinite=True)
    else:
        header = _raw_map(list(header.items()), indefinite=True)
    _refused(jws.forge_cwt(header, claims, ed_key), keys, reasons.MALFORMED_PASS)


def _claims_with_raw(jws, label: object, raw_value: bytes) -> bytes:
    """The resident claims with `label` set to CBOR bytes written by hand."""
    claims = _raw_map(_claim_pairs(jws, {label: "PLACEHOLDER"}))
    return claims.replace(cbor2.dumps("PLACEHOLDER"), raw_value)


@pytest.mark.parametrize(
    ("label", "raw_value"),
    [
        ("gates", b"\x9f" + cbor2.dumps("north-1") + b"\xff"),
        (1, b"\x7f" + cbor2.dumps("sunshine-") + cbor2.dumps("garden") + b"\xff"),
        (99, b"\x5f" + cbor2.dumps(b"ab") + b"\xff"),
    ],
)
def test_indefinite_arrays_and_strings_are_a_malformed_pass(label, raw_value, ed_key, keys, jws):
    claims = _claims_with_raw(jws, label, raw_value)
    _refused(jws.forge_cwt(jws.cose_header(), claims, ed_key), keys, reasons.MALFORMED_PASS)


def test_an_indefinite_outer_array_is_a_malformed_pass(ed_key, keys, jws):
    genuine = jws.cose_sign1(jws.cose_header(), jws.cwt_claims(), ed_key)
    assert genuine[:2] == b"\xd2\x84"
    indefinite = b"\xd2\x9f" + genuine[2:] + b"\xff"
    _refused(jws.qr_text(indefinite), keys, reasons.MALFORMED_PASS)


@pytest.mark.parametrize("tag", [None, 17, 61, 98, 55799])
def test_an_outer_tag_other_than_18_is_a_malformed_pass(tag, ed_key, keys, jws):
    token = jws.forge_cwt(jws.cose_header(), jws.cwt_claims(), ed_key, tag=tag)
    _refused(token, keys, reasons.MALFORMED_PASS)


def test_tag_18_wrapped_in_another_tag_or_twice_is_a_malformed_pass(ed_key, keys, jws):
    genuine = jws.cose_sign1(jws.cose_header(), jws.cwt_claims(), ed_key)
    for wrapped in (b"\xd8\x3d" + genuine, b"\xd2" + genuine):  # CWT tag 61; tag 18 again
        _refused(jws.qr_text(wrapped), keys, reasons.MALFORMED_PASS)


@pytest.mark.parametrize(
    "tagged_exp",
    [
        cbor2.CBORTag(1, 1_800_000_000),  # epoch date-time
        cbor2.CBORTag(2, b"\x01"),  # a bignum that cbor2 would turn into a plain int
        cbor2.CBORTag(0, "2030-01-01T00:00:00Z"),
        cbor2.CBORTag(24, cbor2.dumps(1_800_000_000)),  # embedded CBOR
    ],
)
@pytest.mark.parametrize("label", [4, 99], ids=["exp", "an unknown claim"])
def test_a_tag_inside_the_claims_is_a_malformed_pass(tagged_exp, label, ed_key, keys, jws):
    token = jws.forge_cwt(jws.cose_header(), jws.cwt_claims({label: tagged_exp}), ed_key)
    _refused(token, keys, reasons.MALFORMED_PASS)


@pytest.mark.parametrize(
    "raw_exp",
    [
        b"\xf9\x3c\x00",  # half-precision 1.0
        b"\xfa" + struct.pack(">f", 1.8e9),
        b"\xfb" + struct.pack(">d", 1.8e9),
        b"\xf7",  # undefined
        b"\xf0",  # unassigned simple value 16
        b"\xf8\xff",  # simple value 255
        b"\x3b\x80\x00\x00\x00\x00\x00\x00\x00",  # -2**63 - 1: outside 64 bits
        b"\x1c",  # reserved additional information
    ],
)
@pytest.mark.parametrize("label", [4, 99], ids=["exp", "an unknown claim"])
def test_floats_simple_values_and_out_of_range_integers_are_a_malformed_pass(
    raw_exp, label, ed_key, keys, jws
):
    claims = _claims_with_raw(jws, label, raw_exp)
    _refused(jws.forge_cwt(jws.cose_header(), claims, ed_key), keys, reasons.MALFORMED_PASS)


@pytest.mark.parametrize("key", [True, False, None, b"\x01", 1.0])
def test_a_map_key_that_is_neither_integer_nor_text_is_a_malformed_pass(key, ed_key, keys, jws):
    # {true: ...} would compare equal to claim key 1 in a Python dict.
    claims = _raw_map([p for p in _claim_pairs(jws) if p[0] != 1] + [(key, "sunshine-garden")])
    _refused(jws.forge_cwt(jws.cose_header(), claims, ed_key), keys, reasons.MALFORMED_PASS)


def test_an_array_as_a_map_key_is_a_malformed_pass(ed_key, keys, jws):
    claims = _raw_map(_claim_pairs(jws)).replace(b"\x01", b"\x81\x01", 1)
    assert claims != _raw_map(_claim_pairs(jws))
    _refused(jws.forge_cwt(jws.cose_header(), claims, ed_key), keys, reasons.MALFORMED_PASS)


def test_bytes_after_the_item_are_a_malformed_pass(ed_key, keys, jws):
    genuine = jws.cose_sign1(jws.cose_header(), jws.cwt_claims(), ed_key)
    _refused(jws.qr_text(genuine + b"\x00"), keys, reasons.MALFORMED_PASS)
    payload = cbor2.dumps(jws.cwt_claims()) + b"\x00"
    _refused(jws.forge_cwt(jws.cose_header(), payload, ed_key), keys, reasons.MALFORMED_PASS)


def test_deep_nesting_is_refused_without_recursion(keys, jws):
    deep = b"\x81" * 10_000 + b"\x00"
    assert cbor_strict.MAX_DEPTH < 100
    with pytest.raises(cbor_strict.CborError, match="deep"):
        cbor_strict.check_structure(deep)
    claims = _claims_with_raw(jws, 99, b"\x81" * 300 + b"\x00")
    _refused(jws.forge_cwt(jws.cose_header(), claims), keys, reasons.MALFORMED_PASS)


def test_a_length_beyond_the_bytes_left_is_refused_before_decoding():
    # An array claiming 2**64 - 1 items in ten bytes: no allocation, no long loop.
    with pytest.raises(cbor_strict.CborError, match="truncated"):
        cbor_strict.check_structure(b"\x9b" + b"\xff" * 8 + b"\x00")
    with pytest.raises(cbor_strict.CborError, match="truncated"):
        cbor_strict.check_structure(b"\x5b" + b"\xff" * 8)


# --- ill-typed known claims ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "value"),
    [
        (1, 42),
        (2, b"7QK2M9XH4D1P6B3Z"),
        (4, "2030-01-01"),
        (4, True),
        (5, None),
        (6, [1]),
        (7, "v-0042"),
        ("pt", 1),
        ("unit", {"b": 3}),
        ("gates", "north-1"),
        ("gates", ["north-1", 2]),
        ("gates", {"north-1": True}),
        (65535, {"status_list": [12345, "https://x.example/"]}),
        (65535, {"status_list": {"idx": -1, "uri": "https://x.example/"}}),
        (65535, {"status_list": {"idx": True, "uri": "https://x.example/"}}),
        (65535, {"status_list": {"idx": 1, "uri": b"https://x.example/"}}),
        (65535, {"status_list": {"idx": 1}}),
        (65535, {"idx": 1, "uri": "https://x.example/"}),
    ],
)
def test_an_ill_typed_known_claim_is_a_malformed_pass(label, value, ed_key, keys, jws):
    token = jws.forge_cwt(jws.cose_header(), jws.cwt_claims({label: value}), ed_key)
    _refused(token, keys, reasons.MALFORMED_PASS)


# --- the COSE structure and its protected header -------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {4: b"ed1", 16: "gatepass+cwt"},  # no alg
        {1: -8, 16: "gatepass+cwt"},  # no kid
        {1: -8, 4: "ed1", 16: "gatepass+cwt"},  # kid as text, not bytes
        {1: -8, 4: b"", 16: "gatepass+cwt"},
        {1: -8, 4: b"\xff\xfe", 16: "gatepass+cwt"},  # kid not UTF-8
        {1: -8, 4: b"ed1"},  # no typ
        {1: -8, 4: b"ed1", 16: "gatepass+jwt"},
        {1: -8, 4: b"ed1", 16: "statuslist+jwt"},
        {1: -8, 4: b"ed1", 16: 61},
        {1: -8, 4: b"ed1", 16: "gatepass+cwt", 2: [99]},  # crit
        {1: -8.0, 4: b"ed1", 16: "gatepass+cwt"},
        [1, -8],
    ],
)
def test_a_protected_header_not_as_the_contract_says_is_a_malformed_pass(header, ed_key, keys, jws):
    _refused(jws.forge_cwt(header, jws.cwt_claims(), ed_key), keys, reasons.MALFORMED_PASS)


def test_an_empty_protected_header_is_a_malformed_pass(ed_key, keys, jws):
    _refused(jws.forge_cwt(b"", jws.cwt_claims(), ed_key), keys, reasons.MALFORMED_PASS)


@pytest.mark.parametrize(
    "parts",
    [
        lambda p, c, s: [p, {}, c],
        lambda p, c, s: [p, {}, c, s, b""],
        lambda p, c, s: [p, {}, None, s],  # detached payload
        lambda p, c, s: [p, {}, cbor2.loads(c), s],  # claims map not wrapped in bytes
        lambda p, c, s: [cbor2.loads(p), {}, c, s],
        lambda p, c, s: [p, [], c, s],
        lambda p, c, s: [p, {}, c, s.hex()],
        lambda p, c, s: {"p": p},
    ],
)
def test_a_cose_sign1_of_the_wrong_shape_is_a_malformed_pass(parts, ed_key, keys, jws):
    protected, claims = cbor2.dumps(jws.cose_header()), cbor2.dumps(jws.cwt_claims())
    signature = jws.raw_signature(ed_key, cbor2.dumps(["Signature1", protected, b"", claims]))
    message = cbor2.dumps(cbor2.CBORTag(18, parts(protected, claims, signature)))
    _refused(jws.qr_text(message), keys, reasons.MALFORMED_PASS)


# --- the QR text: refused before any decoding ----------------------------------------------


def _padded_code(key: dict, length: int, jws) -> str:
    for filler in range(length):
        token = credentials.sign_cwt_pass(jws.resident_claims(unit="x" * filler), key)
        if len(token) >= length:
            return token
    raise AssertionError("unreachable")


def test_a_validly_signed_compact_pass_of_up_to_1024_characters_is_accepted(ed_key, keys, jws):
    token = _padded_code(ed_key, 1023, jws)
    assert len(token) <= 1024
    assert credentials.verify_pass(token, keys).ok


def test_an_oversize_compact_pass_is_unrecognized_even_with_a_valid_signature(ed_key, keys, jws):
    token = _padded_code(ed_key, 1025, jws)
    assert len(token) > 1024
    _refused(token, keys, reasons.UNRECOGNIZED_CODE)
    _refused(token.encode(), keys, reasons.UNRECOGNIZED_CODE)


def test_truncated_base45_is_unrecognized_and_a_truncated_item_malformed(ed_key, keys, jws):
    token = credentials.sign_cwt_pass(jws.resident_claims(), ed_key)
    body = len(token) - 4
    # Cut to a length base45 cannot have: unrecognized. Cut whole groups: the CBOR is short.
    short = token[: 4 + body - (body % 3) - 2]
    assert (len(short) - 4) % 3 == 1
    _refused(short, keys, reasons.UNRECOGNIZED_CODE)
    _refused(token[: 4 + body - (body % 3) - 3], keys, reasons.MALFORMED_PASS)


@pytest.mark.parametrize(
    "code",
    [
        "GK1:",
        "GK1",
        "GK1:GGW",  # a group worth more than 65535
        "GK1:U6",  # a pair worth more than 255
        "GK1:A",
        "gk1:6BFOXN",
        "GK2:6BFOXN",
        "HC1:6BFOXN",
        "GK1:6bfoxn",
        "GK1:6BF=XN",
        "GK1:6BF_XN",
        "GK1:6BFOXN\n",
        "GK1:6BF\x00XN",
        "GK1:6BFOXN#",
        "GK1:6BFOXé",
        b"GK1:6BF\xffXN",
        " GK1:6BFOXN",
    ],
)
def test_text_that_is_not_prefix_and_base45_is_unrecognized(code, keys):
    result = credentials.verify_pass(code, keys)
    _refused(code, keys, reasons.UNRECOGNIZED_CODE)
    assert result.header is None


@pytest.mark.parametrize("char", ["a", "=", "_", "#", "\n", "é", "\t"])
def test_a_genuine_pass_with_a_non_alphanumeric_character_is_unrecognized(char, ed_key, keys, jws):
    token = credentials.sign_cwt_pass(jws.resident_claims(), ed_key)
    middle = len(token) // 2
    _refused(token[:middle] + char + token[middle + 1 :], keys, reasons.UNRECOGNIZED_CODE)
    _refused(token + char, keys, reasons.UNRECOGNIZED_CODE)


# --- every credential reason code, both forms -----------------------------------------------

REASON_TABLE = [
    ("no prefix", lambda j, k: "6BFOXN", reasons.UNRECOGNIZED_CODE),
    ("a base45 group out of range", lambda j, k: "GK1:GGW", reasons.UNRECOGNIZED_CODE),
    ("not CBOR", lambda j, k: j.qr_text(b"\xff\xff\xff"), reasons.MALFORMED_PASS),
    (
        "untagged",
        lambda j, k: j.forge_cwt(j.cose_header(), j.cwt_claims(), k, tag=None),
        reasons.MALFORMED_PASS,
    ),
    (
        "wrong typ",
        lambda j, k: j.forge_cwt(j.cose_header(typ="JWT"), j.cwt_claims(), k),
        reasons.MALFORMED_PASS,
    ),
    (
        "ill-typed exp",
        lambda j, k: j.forge_cwt(j.cose_header(), j.cwt_claims({4: 1.5}), k),
        reasons.MALFORMED_PASS,
    ),
    (
        "ES384",
        lambda j, k: j.forge_cwt(j.cose_header(alg=-35), j.cwt_claims(), k),
        reasons.UNSUPPORTED_ALGORITHM,
    ),
    (
        "unknown kid",
        lambda j, k: j.forge_cwt(j.cose_header("x"), j.cwt_claims(), k),
        reasons.UNKNOWN_KEY,
    ),
    (
        "junk signature",
        lambda j, k: j.forge_cwt(j.cose_header(), j.cwt_claims()),
        reasons.BAD_SIGNATURE,
    ),
    (
        "alg of another key type",
        lambda j, k: j.forge_cwt(j.cose_header(alg=-7), j.cwt_claims(), k),
        reasons.BAD_SIGNATURE,
    ),
    ("genuine", lambda j, k: j.forge_cwt(j.cose_header(), j.cwt_claims(), k), None),
]


@pytest.mark.parametrize(
    ("make", "reason"),
    [(make, reason) for _name, make, reason in REASON_TABLE],
    ids=[name for name, _make, _reason in REASON_TABLE],
)
def test_each_reason_code_of_the_compact_form(make, reason, ed_key, keys, jws):
    result = credentials.verify_pass(make(jws, ed_key), keys)
    assert result.reason == reason
    assert result.ok is (reason is None)


def test_the_reason_table_covers_every_credential_failure():
    covered = {reason for _name, _make, reason in REASON_TABLE if reason is not None}
    assert covered == set(reasons.CREDENTIAL_FAILURES)
