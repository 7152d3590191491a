"""verify_pass on the compact pass (DESIGN 2.1b): round trips, the claim mapping, and the CWT twin
of every attack the JWT tests try.

Passes here are built with cbor2 and cryptography directly (conftest `cose_sign1`), never with
the firmware's signer, so the CBOR can be anything an attacker could write.
"""

from __future__ import annotations

import cbor2
import pytest

from firmware import credentials
from firmware.core import reasons

ED, ES = -8, -7


def _assert_refused(result: credentials.PassVerification, reason: str) -> None:
    assert result.ok is False
    assert result.reason == reason
    assert result.claims is None  # unverified claims are never handed on


def _signed(jws, key, claims=None, header=None, **kw) -> str:
    """A pass signed by `key` under its own kid and algorithm unless told otherwise."""
    alg = ED if key["kty"] == "OKP" else ES
    header = jws.cose_header(key["kid"], alg) if header is None else header
    return jws.forge_cwt(header, jws.cwt_claims() if claims is None else claims, key, **kw)


# --- round trips and the claim mapping ---------------------------------------------------


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_a_hand_built_pass_verifies_with_the_claims_named_as_in_the_jwt(
    request, key_name, keys, jws
):
    key = request.getfixturevalue(key_name)
    result = credentials.verify_pass(_signed(jws, key), keys)
    assert result.ok and result.reason is None
    assert result.claims == jws.resident_claims()
    assert result.kid == key["kid"]
    assert result.header == {"alg": key["alg"], "kid": key["kid"], "typ": "gatepass+cwt"}


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_both_forms_of_one_pass_give_the_same_claims(request, key_name, keys, jws):
    key = request.getfixturevalue(key_name)
    claims = jws.resident_claims(nbf=jws.NOW + 60, gates=["north-1", "east-2"], jti="0a1b2c")
    as_jwt = credentials.verify_pass(credentials.sign_token(claims, key, "gatepass+jwt"), keys)
    as_cwt = credentials.verify_pass(credentials.sign_cwt_pass(claims, key), keys)
    assert as_jwt.ok and as_cwt.ok
    assert as_cwt.claims == as_jwt.claims == claims


def test_the_code_may_arrive_as_bytes_from_the_decoder(ed_key, keys, jws):
    assert credentials.verify_pass(_signed(jws, ed_key).encode("ascii"), keys).ok


def test_cti_bytes_become_a_lowercase_hex_jti(ed_key, keys, jws):
    claims = jws.cwt_claims({"pt": "visitor", 7: b"\x00\xab\xff v"})
    del claims[65535]
    result = credentials.verify_pass(_signed(jws, ed_key, claims), keys)
    assert result.ok and result.claims["jti"] == "00abff2076"


def test_unknown_claims_are_ignored_and_text_names_of_registered_claims_mean_nothing(
    ed_key, keys, jws
):
    claims = jws.cwt_claims({99: [1, 2], "note": "x", "iss": "elsewhere", -3: None})
    result = credentials.verify_pass(_signed(jws, ed_key, claims), keys)
    assert result.ok
    assert result.claims == jws.resident_claims()  # "iss" as text is not claim 1


def test_unknown_protected_header_labels_are_ignored(ed_key, keys, jws):
    header = jws.cose_header() | {3: "application/cwt", "x": 1}
    assert credentials.verify_pass(_signed(jws, ed_key, header=header), keys).ok


def test_claims_are_not_judged_here_an_expired_pass_still_verifies(ed_key, keys, jws):
    result = credentials.verify_pass(_signed(jws, ed_key, jws.cwt_claims({4: 1})), keys)
    assert result.ok and result.claims["exp"] == 1


def test_the_largest_64_bit_integers_are_accepted(ed_key, keys, jws):
    claims = jws.cwt_claims({4: (1 << 64) - 1, 99: -(1 << 63)})
    assert credentials.verify_pass(_signed(jws, ed_key, claims), keys).ok


# --- algorithms: the trusted key decides, never the header ----------------------------------


@pytest.mark.parametrize("alg", [-35, -36, -37, -257, -47, -19, 5, 4, 0, 1, "EdDSA", "none", ""])
def test_other_algorithms_are_unsupported(alg, ed_key, keys, jws):
    token = _signed(jws, ed_key, header=jws.cose_header("ed1", alg))
    _assert_refused(credentials.verify_pass(token, keys), reasons.UNSUPPORTED_ALGORITHM)


def test_an_hmac_tag_keyed_with_the_public_key_is_an_unsupported_algorithm(ed_key, keys, jws):
    import hashlib
    import hmac

    from firmware.core import b64

    header = jws.cose_header("ed1", 5)  # HMAC 256/256
    protected, payload = cbor2.dumps(header), cbor2.dumps(jws.cwt_claims())
    mac = hmac.new(
        b64.decode(ed_key["x"]),
        cbor2.dumps(["Signature1", protected, b"", payload]),
        hashlib.sha256,
    ).digest()
    token = jws.forge_cwt(protected, payload, signature=mac)
    _assert_refused(credentials.verify_pass(token, keys), reasons.UNSUPPORTED_ALGORITHM)


def test_an_es256_pass_naming_an_ed25519_key_is_a_bad_signature(es_key, keys, jws):
    token = jws.forge_cwt(jws.cose_header("ed1", ES), jws.cwt_claims(), es_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


def test_an_eddsa_pass_naming_a_p256_key_is_a_bad_signature(ed_key, keys, jws):
    token = jws.forge_cwt(jws.cose_header("es1", ED), jws.cwt_claims(), ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


def test_a_kid_not_in_the_jwks_is_an_unknown_key(keys, jws):
    stranger = credentials.generate_keypair("stranger", "EdDSA")
    result = credentials.verify_pass(_signed(jws, stranger), keys)
    _assert_refused(result, reasons.UNKNOWN_KEY)
    assert result.kid == "stranger"


def test_an_attackers_key_under_a_trusted_kid_is_a_bad_signature(keys, jws):
    impostor = credentials.generate_keypair("ed1", "EdDSA")
    _assert_refused(credentials.verify_pass(_signed(jws, impostor), keys), reasons.BAD_SIGNATURE)


@pytest.mark.parametrize(
    "unprotected",
    [{4: b"ed1"}, {1: ED}, {-1: {1: 1, -1: 6, -2: b"\x00" * 32}}, {33: [b"cert"]}],
)
def test_anything_in_the_unprotected_header_is_a_malformed_pass(unprotected, ed_key, keys, jws):
    # A kid, alg or key that no signature covers must not even be looked at.
    token = _signed(jws, ed_key, unprotected=unprotected)
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


# --- signatures over something else ------------------------------------------------------


def test_a_valid_signature_over_a_different_payload_is_a_bad_signature(ed_key, keys, jws):
    other = cbor2.dumps(jws.cwt_claims({2: "ANOTHERPASS00001"}))
    genuine = jws.cose_sign1(jws.cose_header(), jws.cwt_claims(), ed_key)
    parts = cbor2.loads(genuine).value
    spliced = jws.qr_text(cbor2.dumps(cbor2.CBORTag(18, [parts[0], {}, other, parts[3]])))
    _assert_refused(credentials.verify_pass(spliced, keys), reasons.BAD_SIGNATURE)


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_a_signature_made_with_external_data_or_as_another_context_is_refused(
    request, key_name, keys, jws
):
    key = request.getfixturevalue(key_name)
    alg = ED if key["kty"] == "OKP" else ES
    protected = cbor2.dumps(jws.cose_header(key["kid"], alg))
    payload = cbor2.dumps(jws.cwt_claims())
    for structure in (
        ["Signature1", protected, b"aad", payload],
        ["Signature", protected, b"", payload],
        ["Signature1", b"", b"", payload],
    ):
        signature = jws.raw_signature(key, cbor2.dumps(structure))
        token = jws.forge_cwt(protected, payload, signature=signature)
        _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_a_truncated_zero_or_der_signature_is_a_bad_signature(request, key_name, keys, jws):
    key = request.getfixturevalue(key_name)
    alg = ED if key["kty"] == "OKP" else ES
    protected = cbor2.dumps(jws.cose_header(key["kid"], alg))
    payload = cbor2.dumps(jws.cwt_claims())
    genuine = jws.raw_signature(key, cbor2.dumps(["Signature1", protected, b"", payload]))
    for forged in (genuine[:32], genuine + b"\x00", bytes(64), b""):
        token = jws.forge_cwt(protected, payload, signature=forged)
        _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


def test_an_es256_signature_in_der_form_is_a_bad_signature(es_key, keys, jws):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from firmware.core import b64

    protected = cbor2.dumps(jws.cose_header("es1", ES))
    payload = cbor2.dumps(jws.cwt_claims())
    d = int.from_bytes(b64.decode(es_key["d"]), "big")
    der = ec.derive_private_key(d, ec.SECP256R1()).sign(
        cbor2.dumps(["Signature1", protected, b"", payload]), ec.ECDSA(hashes.SHA256())
    )
    token = jws.forge_cwt(protected, payload, signature=der)
    _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


def test_an_ill_typed_claim_is_refused_before_any_signature_work(keys, jws):
    # Junk signature, unknown kid: the strict decoding still speaks first.
    token = jws.forge_cwt(jws.cose_header("nobody"), jws.cwt_claims({4: "soon"}))
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_checks_run_in_the_documented_order(keys, jws):
    token = jws.forge_cwt(jws.cose_header("nobody", -257), jws.cwt_claims())
    assert credentials.verify_pass(token, keys).reason == reasons.UNSUPPORTED_ALGORITHM
    token = jws.forge_cwt(jws.cose_header("nobody", -257, "JWT"), jws.cwt_claims())
    assert credentials.verify_pass(token, keys).reason == reasons.MALFORMED_PASS
    token = jws.forge_cwt(jws.cose_header("nobody"), jws.cwt_claims())
    assert credentials.verify_pass(token, keys).reason == reasons.UNKNOWN_KEY


def test_an_unexpected_internal_error_is_a_refusal_not_an_exception(monkeypatch, keys, caplog, jws):
    from firmware.credentials import cwt

    def explode(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(cwt, "decode", explode)
    result = credentials.verify_pass(jws.forge_cwt(jws.cose_header(), jws.cwt_claims()), keys)
    _assert_refused(result, reasons.MALFORMED_PASS)
    assert "RuntimeError" in caplog.text


@pytest.mark.parametrize("jti", ["v-0042", "00FF", "0", "00 ff", ""])
def test_signing_refuses_a_jti_that_would_not_read_back_the_same(jti, ed_key, jws):
    with pytest.raises(ValueError, match="hex"):
        credentials.sign_cwt_pass(jws.resident_claims(jti=jti), ed_key)


def test_signing_refuses_a_claim_with_no_place_in_a_compact_pass(ed_key, jws):
    with pytest.raises(ValueError, match="note"):
        credentials.sign_cwt_pass(jws.resident_claims(note="x"), ed_key)
