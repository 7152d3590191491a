"""verify_status_list_token: the signed Token Status List (DESIGN 2.2)."""

from __future__ import annotations

import random

import pytest

from firmware import credentials
from firmware.core import reasons, status_list

URI = "https://sunshine-garden.example/sl/1"
LIST_TYP = "statuslist+jwt"


def _list_claims(statuses, **overrides):
    claims = {
        "sub": URI,
        "iat": 1_767_225_600,
        "exp": 1_767_225_600 + 86400,
        "ttl": 3600,
        "status_list": {"bits": 2, "lst": status_list.encode_lst(statuses, 2)},
    }
    claims.update(overrides)
    return claims


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_a_signed_list_verifies_and_every_status_reads_back(request, key_name, keys):
    key = request.getfixturevalue(key_name)
    statuses = [0, 1, 2, 3, 0, 0, 2, 3, 1]
    token = credentials.sign_token(_list_claims(statuses), key, LIST_TYP)
    result = credentials.verify_status_list_token(token, keys)
    assert result.ok and result.reason is None
    assert result.status_list is not None
    assert result.status_list.uri == URI
    assert result.status_list.ttl == 3600
    assert [result.status_list.status(i) for i in range(len(statuses))] == statuses


def test_a_list_larger_than_a_pass_code_is_accepted(ed_key, keys):
    # Random statuses do not compress: this list is several kilobytes, far above 1024.
    rng = random.Random(7)
    statuses = [rng.randrange(4) for _ in range(20_000)]
    token = credentials.sign_token(_list_claims(statuses), ed_key, LIST_TYP)
    assert len(token) > credentials.MAX_CODE_CHARS
    result = credentials.verify_status_list_token(token, keys)
    assert result.ok
    assert result.status_list.status(19_999) == statuses[19_999]


def test_a_token_beyond_the_size_limit_is_malformed(ed_key, keys):
    filler = "x" * credentials.MAX_STATUS_LIST_TOKEN_CHARS
    token = credentials.sign_token(_list_claims([0], note=filler), ed_key, LIST_TYP)
    result = credentials.verify_status_list_token(token, keys)
    assert (result.ok, result.reason) == (False, credentials.MALFORMED_STATUS_LIST)


@pytest.mark.parametrize("typ", ["gatepass+jwt", "JWT", "statuslist+JWT", "gatecmd+jwt"])
def test_a_wrong_typ_is_malformed(typ, ed_key, keys):
    token = credentials.sign_token(_list_claims([0, 1]), ed_key, typ)
    result = credentials.verify_status_list_token(token, keys)
    assert (result.ok, result.reason, result.status_list) == (
        False,
        credentials.MALFORMED_STATUS_LIST,
        None,
    )


def test_a_pass_is_not_a_status_list(ed_key, keys, jws):
    token = credentials.sign_token(jws.resident_claims(), ed_key, "gatepass+jwt")
    assert credentials.verify_status_list_token(token, keys).reason == (
        credentials.MALFORMED_STATUS_LIST
    )


def test_a_forged_list_has_a_bad_signature(keys):
    impostor = credentials.generate_keypair("ed1", "EdDSA")
    token = credentials.sign_token(_list_claims([0, 0, 0]), impostor, LIST_TYP)
    result = credentials.verify_status_list_token(token, keys)
    assert (result.ok, result.reason, result.status_list) == (False, reasons.BAD_SIGNATURE, None)


def test_a_list_with_one_status_changed_after_signing_has_a_bad_signature(ed_key, keys, jws):
    genuine = credentials.sign_token(_list_claims([3, 3, 3]), ed_key, LIST_TYP)
    head, _, signature = genuine.split(".")
    relaxed = jws.segment(_list_claims([0, 3, 3]))
    result = credentials.verify_status_list_token(".".join([head, relaxed, signature]), keys)
    assert result.reason == reasons.BAD_SIGNATURE


def test_a_list_signed_by_an_unknown_key_is_refused(keys):
    stranger = credentials.generate_keypair("stranger", "ES256")
    token = credentials.sign_token(_list_claims([0]), stranger, LIST_TYP)
    assert credentials.verify_status_list_token(token, keys).reason == reasons.UNKNOWN_KEY


def test_alg_none_list_is_refused(keys, jws):
    token = jws.forge({"alg": "none", "kid": "ed1", "typ": LIST_TYP}, _list_claims([0]))
    result = credentials.verify_status_list_token(token, keys)
    assert result.reason == reasons.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize(
    "overrides",
    [
        {"status_list": {"bits": 2, "lst": "not base64!"}},
        {"status_list": {"bits": 3, "lst": "eNo76fITAAPfAgc"}},
        {"status_list": {"bits": 2, "lst": "AAAA"}},  # base64url, but not zlib
        {"status_list": None},
        {"sub": None},
        {"iat": "yesterday"},
        {"ttl": -1},
    ],
)
def test_signed_claims_that_are_not_a_status_list_are_malformed(overrides, ed_key, keys):
    claims = {k: v for k, v in _list_claims([0, 1]).items()}
    for name, value in overrides.items():
        if value is None:
            del claims[name]
        else:
            claims[name] = value
    token = credentials.sign_token(claims, ed_key, LIST_TYP)
    result = credentials.verify_status_list_token(token, keys)
    assert (result.ok, result.reason, result.status_list) == (
        False,
        credentials.MALFORMED_STATUS_LIST,
        None,
    )


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", None, b"\xff"])
def test_garbage_is_malformed_and_never_raises(token, keys):
    assert credentials.verify_status_list_token(token, keys).reason == (
        credentials.MALFORMED_STATUS_LIST
    )


def test_a_signed_list_whose_iat_is_beyond_64_bits_is_malformed(ed_key, keys):
    # Read as an int it would be "newer" than every genuine list that could ever follow it.
    token = credentials.sign_token(_list_claims([0], iat=10**400), ed_key, LIST_TYP)
    result = credentials.verify_status_list_token(token, keys)
    assert (result.ok, result.reason) == (False, credentials.MALFORMED_STATUS_LIST)
