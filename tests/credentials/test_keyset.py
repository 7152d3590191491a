"""KeySet: loading trusted keys from a JWKS file, with one-line errors for every problem."""

from __future__ import annotations

import json
import os

import pytest

from firmware import credentials
from firmware.core import b64


def _write(tmp_path, content) -> str:
    path = tmp_path / "keys.jwks"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def _load_error(tmp_path, content) -> str:
    with pytest.raises(credentials.KeySetError) as caught:
        credentials.KeySet.load(_write(tmp_path, content))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_public_jwks_loads_with_each_keys_algorithm_decided_by_its_type(ed_key, es_key, tmp_path):
    jwks = {"keys": [credentials.public_jwk(ed_key), credentials.public_jwk(es_key)]}
    keys = credentials.KeySet.load(_write(tmp_path, jwks))
    assert keys.kids() == ["ed1", "es1"]
    assert len(keys) == 2
    assert keys.algorithm("ed1") == "EdDSA"
    assert keys.algorithm("es1") == "ES256"
    assert keys.algorithm("nobody") is None
    assert "ed1" in keys and "nobody" not in keys


def test_a_jwk_without_alg_or_use_members_still_gets_its_algorithm(ed_key, es_key):
    bare = [
        {k: v for k, v in credentials.public_jwk(key).items() if k not in ("alg", "use")}
        for key in (ed_key, es_key)
    ]
    keys = credentials.KeySet.from_dict({"keys": bare})
    assert [keys.algorithm(k) for k in keys.kids()] == ["EdDSA", "ES256"]


def test_private_parts_are_ignored_and_the_public_key_verifies(ed_key, tmp_path, jws):
    keys = credentials.KeySet.load(_write(tmp_path, {"keys": [ed_key]}))
    token = credentials.sign_token(jws.resident_claims(), ed_key, "gatepass+jwt")
    assert credentials.verify_pass(token, keys).ok


def test_keyset_error_is_a_value_error():
    assert issubclass(credentials.KeySetError, ValueError)


def test_an_unreadable_file_is_named(tmp_path):
    missing = tmp_path / "nope.jwks"
    with pytest.raises(credentials.KeySetError, match=r"cannot read .*nope\.jwks"):
        credentials.KeySet.load(missing)


def test_a_directory_is_unreadable(tmp_path):
    with pytest.raises(credentials.KeySetError, match="cannot read"):
        credentials.KeySet.load(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_unreadable(tmp_path, ed_key):
    path = _write(tmp_path, {"keys": [credentials.public_jwk(ed_key)]})
    os.chmod(path, 0)
    with pytest.raises(credentials.KeySetError, match="cannot read"):
        credentials.KeySet.load(path)


@pytest.mark.parametrize("content", ["", "{not json", b"\xff\xfe", '{"keys": [1,]}'])
def test_a_file_that_is_not_json_is_named(tmp_path, content):
    assert "is not JSON" in _load_error(tmp_path, content)


@pytest.mark.parametrize("content", [{"keys": []}, {}, {"keys": {}}, [], "null", {"keys": "ed1"}])
def test_a_jwks_without_a_keys_list_or_with_no_keys_is_refused(tmp_path, content):
    message = _load_error(tmp_path, content)
    assert "keys" in message


def test_a_key_without_a_kid_is_refused(tmp_path, ed_key):
    public = credentials.public_jwk(ed_key)
    del public["kid"]
    assert "key #1 has no kid" in _load_error(tmp_path, {"keys": [public]})


def test_an_empty_kid_is_refused(tmp_path, ed_key):
    public = credentials.public_jwk(ed_key) | {"kid": ""}
    assert "has no kid" in _load_error(tmp_path, {"keys": [public]})


def test_a_duplicate_kid_is_refused(tmp_path, ed_key):
    other = credentials.public_jwk(credentials.generate_keypair("ed1", "EdDSA"))
    message = _load_error(tmp_path, {"keys": [credentials.public_jwk(ed_key), other]})
    assert "duplicate kid 'ed1'" in message


def test_a_key_that_is_not_an_object_is_refused(tmp_path):
    assert "key #1 is not a JSON object" in _load_error(tmp_path, {"keys": ["ed1"]})


@pytest.mark.parametrize(
    ("kty", "crv"),
    [
        ("RSA", None),
        ("oct", None),
        ("OKP", "Ed448"),
        ("OKP", "X25519"),
        ("EC", "P-384"),
        ("EC", "secp256k1"),
        ("EC", "Ed25519"),
        ("OKP", "P-256"),
    ],
)
def test_only_okp_ed25519_and_ec_p256_keys_are_accepted(tmp_path, kty, crv):
    jwk = {"kty": kty, "kid": "k", "x": b64.encode(bytes(32)), "n": "AQAB", "e": "AQAB"}
    if crv is not None:
        jwk["crv"] = crv
    message = _load_error(tmp_path, {"keys": [jwk]})
    assert "unsupported key type" in message and "'k'" in message


def test_an_alg_member_that_contradicts_the_key_type_is_refused(tmp_path, ed_key):
    public = credentials.public_jwk(ed_key) | {"alg": "HS256"}
    assert "does not fit" in _load_error(tmp_path, {"keys": [public]})


def test_an_encryption_key_is_not_a_signing_key(tmp_path, ed_key):
    public = credentials.public_jwk(ed_key) | {"use": "enc"}
    assert "not a signing key" in _load_error(tmp_path, {"keys": [public]})


@pytest.mark.parametrize(
    "x", [None, 42, "not base64!", b64.encode(bytes(31)), b64.encode(bytes(33))]
)
def test_an_ed25519_key_with_a_bad_x_is_refused(tmp_path, ed_key, x):
    public = credentials.public_jwk(ed_key)
    if x is None:
        del public["x"]
    else:
        public["x"] = x
    assert "'ed1'" in _load_error(tmp_path, {"keys": [public]})


def test_a_p256_point_off_the_curve_is_refused(tmp_path, es_key):
    public = credentials.public_jwk(es_key)
    y = bytearray(b64.decode(public["y"]))
    y[-1] ^= 1
    public["y"] = b64.encode(bytes(y))
    assert "not a point on P-256" in _load_error(tmp_path, {"keys": [public]})


def test_a_p256_key_without_y_is_refused(tmp_path, es_key):
    public = credentials.public_jwk(es_key)
    del public["y"]
    assert "missing y" in _load_error(tmp_path, {"keys": [public]})


def test_duplicate_names_inside_the_file_are_refused(tmp_path, ed_key):
    public = credentials.public_jwk(ed_key)
    text = '{"keys": [], "keys": [' + json.dumps(public) + "]}"
    assert "is not JSON" in _load_error(tmp_path, text)


def test_public_jwk_never_copies_the_private_part(ed_key, es_key):
    for key in (ed_key, es_key):
        public = credentials.public_jwk(key)
        assert "d" not in public
        assert public["kid"] == key["kid"] and public["x"] == key["x"]


def test_generate_keypair_refuses_other_algorithms():
    with pytest.raises(ValueError, match="unsupported algorithm"):
        credentials.generate_keypair("k", "HS256")


def test_signing_with_a_key_whose_public_part_does_not_match_d_is_refused(ed_key, jws):
    mismatched = ed_key | {"x": credentials.generate_keypair("other", "EdDSA")["x"]}
    with pytest.raises(credentials.KeySetError, match="do not match"):
        credentials.sign_token(jws.resident_claims(), mismatched, "gatepass+jwt")


def test_signing_with_a_public_key_only_is_refused(ed_key, jws):
    with pytest.raises(credentials.KeySetError, match="missing d"):
        credentials.sign_token(jws.resident_claims(), credentials.public_jwk(ed_key), "t")
