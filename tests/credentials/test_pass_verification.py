"""verify_pass: round trips, and the attacks on the header and signature layer (DESIGN 2.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from firmware import credentials
from firmware.core import b64, reasons

PASS_TYP = "gatepass+jwt"


def _header(kid: str, alg: str = "EdDSA", typ: str = PASS_TYP) -> dict:
    return {"alg": alg, "kid": kid, "typ": typ}


def _assert_refused(result: credentials.PassVerification, reason: str) -> None:
    assert result.ok is False
    assert result.reason == reason
    assert result.claims is None  # unverified claims are never handed on


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_a_pass_signed_by_a_trusted_key_verifies_with_its_claims_unchanged(
    request, key_name, keys, jws
):
    key = request.getfixturevalue(key_name)
    claims = jws.resident_claims()
    token = credentials.sign_token(claims, key, PASS_TYP)
    result = credentials.verify_pass(token, keys)
    assert result.ok and result.reason is None
    assert result.claims == claims
    assert result.kid == key["kid"]
    assert result.header == {"alg": key["alg"], "kid": key["kid"], "typ": PASS_TYP}


def test_the_code_may_arrive_as_bytes_from_the_decoder(ed_key, keys, jws):
    token = credentials.sign_token(jws.resident_claims(), ed_key, PASS_TYP)
    assert credentials.verify_pass(token.encode("ascii"), keys).ok


def test_signed_tokens_are_compact_with_the_header_in_alg_kid_typ_order(ed_key, jws):
    token = credentials.sign_token(jws.resident_claims(), ed_key, PASS_TYP)
    header_text = b64.decode(token.split(".")[0]).decode()
    claims_text = b64.decode(token.split(".")[1]).decode()
    assert header_text == '{"alg":"EdDSA","kid":"ed1","typ":"gatepass+jwt"}'
    assert " " not in claims_text and "\n" not in claims_text


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_tokens_interoperate_with_pyjwt_both_ways(request, key_name, keys, jws):
    key = request.getfixturevalue(key_name)
    public = keys.get(key["kid"]).public_key
    ours = credentials.sign_token(jws.resident_claims(), key, PASS_TYP)
    assert (
        jwt.decode(ours, public, algorithms=[key["alg"]], options={"verify_exp": False})["sub"]
        == "7QK2M9XH4D1P6B3Z"
    )

    private = jwt.PyJWK(key).key
    theirs = jwt.encode(
        jws.resident_claims(),
        private,
        algorithm=key["alg"],
        headers={"kid": key["kid"], "typ": PASS_TYP},
    )
    assert credentials.verify_pass(theirs, keys).ok


def test_claims_are_not_judged_here_an_expired_pass_still_verifies(ed_key, keys, jws):
    token = credentials.sign_token(jws.resident_claims(exp=1), ed_key, PASS_TYP)
    assert credentials.verify_pass(token, keys).ok


def test_missing_or_ill_typed_claims_pass_this_layer_for_the_core_to_refuse(ed_key, keys, jws):
    # The core's claims rules decide those; here only header and signature are judged.
    token = jws.forge(_header("ed1"), {"sub": 7, "exp": "soon"}, ed_key)
    result = credentials.verify_pass(token, keys)
    assert result.ok and result.claims == {"sub": 7, "exp": "soon"}


# --- alg: none and HMAC confusion ----------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_with_an_empty_signature_is_an_unsupported_algorithm(alg, keys, jws):
    token = jws.segment(_header("ed1", alg)) + "." + jws.segment(jws.resident_claims()) + "."
    _assert_refused(credentials.verify_pass(token, keys), reasons.UNSUPPORTED_ALGORITHM)


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_a_genuine_header_with_an_empty_signature_is_a_bad_signature(request, key_name, keys, jws):
    token = credentials.sign_token(
        jws.resident_claims(), request.getfixturevalue(key_name), PASS_TYP
    )
    head, body, _signature = token.split(".")
    _assert_refused(credentials.verify_pass(f"{head}.{body}.", keys), reasons.BAD_SIGNATURE)


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", ["1" + "0" * 400, str(1 << 64), str(-(1 << 63) - 1)])
def test_a_signed_jwt_numeric_date_beyond_64_bits_is_a_malformed_pass(
    claim, value, ed_key, keys, jws
):
    # JSON numbers Python would parse happily into an int no 64-bit verifier can hold.
    claims = json.dumps(jws.resident_claims(**{claim: "BIG"})).replace('"BIG"', value)
    token = jws.forge(_header("ed1"), claims, ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_a_jwt_numeric_date_at_the_64_bit_limit_still_verifies(ed_key, keys, jws):
    token = jws.forge(_header("ed1"), jws.resident_claims(exp=(1 << 63) - 1), ed_key)
    assert credentials.verify_pass(token, keys).ok


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_alg_none_with_any_signature_is_an_unsupported_algorithm(alg, keys, jws):
    token = jws.forge(_header("ed1", alg), jws.resident_claims())
    _assert_refused(credentials.verify_pass(token, keys), reasons.UNSUPPORTED_ALGORITHM)


def _hmac_secrets(public_jwk: dict, keys: credentials.KeySet) -> list[bytes]:
    """Every form of the public key an attacker might hope we use as an HMAC secret."""
    public = keys.get(public_jwk["kid"]).public_key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return [
        b64.decode(public_jwk["x"]),
        public_jwk["x"].encode(),
        json.dumps(public_jwk).encode(),
        pem,
    ]


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_signed_with_the_public_key_as_secret_is_refused(alg, ed_key, keys, jws):
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    public_jwk = credentials.public_jwk(ed_key)
    for secret in _hmac_secrets(public_jwk, keys):
        signing_input = jws.segment(_header("ed1", alg)) + "." + jws.segment(jws.resident_claims())
        mac = hmac.new(secret, signing_input.encode(), digest).digest()
        token = signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")
        _assert_refused(credentials.verify_pass(token, keys), reasons.UNSUPPORTED_ALGORITHM)


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES384", "ES512", "Ed25519", "ES256K", "eddsa"])
def test_other_algorithms_are_unsupported(alg, ed_key, keys, jws):
    token = jws.forge(_header("ed1", alg), jws.resident_claims(), ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.UNSUPPORTED_ALGORITHM)


# --- keys: the JWKS decides, never the token -----------------------------------------------


def test_a_kid_not_in_the_jwks_is_an_unknown_key(keys, jws):
    stranger = credentials.generate_keypair("stranger", "EdDSA")
    token = credentials.sign_token(jws.resident_claims(), stranger, PASS_TYP)
    result = credentials.verify_pass(token, keys)
    _assert_refused(result, reasons.UNKNOWN_KEY)
    assert result.kid == "stranger"


def test_an_attackers_key_under_a_trusted_kid_is_a_bad_signature(keys, jws):
    impostor = credentials.generate_keypair("ed1", "EdDSA")
    token = credentials.sign_token(jws.resident_claims(), impostor, PASS_TYP)
    _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


def test_a_key_embedded_in_the_header_is_ignored(keys, jws):
    impostor = credentials.generate_keypair("ed1", "EdDSA")
    header = _header("ed1") | {"jwk": credentials.public_jwk(impostor)}
    token = jws.forge(header, jws.resident_claims(), impostor)
    _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


def test_an_es256_token_naming_an_ed25519_key_is_refused_the_key_decides(es_key, keys, jws):
    # Signed correctly with the P-256 key, but presented under the Ed25519 key's kid.
    token = jws.forge(_header("ed1", "ES256"), jws.resident_claims(), es_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


def test_an_eddsa_token_naming_a_p256_key_is_refused(ed_key, keys, jws):
    token = jws.forge(_header("es1", "EdDSA"), jws.resident_claims(), ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


# --- signatures over something else --------------------------------------------------------


def test_a_valid_signature_over_a_different_payload_is_refused(ed_key, keys, jws):
    genuine = credentials.sign_token(jws.resident_claims(), ed_key, PASS_TYP)
    other = credentials.sign_token(jws.resident_claims(sub="ANOTHERPASS00001"), ed_key, PASS_TYP)
    head, _, signature = genuine.split(".")
    spliced = ".".join([head, other.split(".")[1], signature])
    _assert_refused(credentials.verify_pass(spliced, keys), reasons.BAD_SIGNATURE)


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_changing_one_claim_breaks_the_signature(request, key_name, keys, jws):
    key = request.getfixturevalue(key_name)
    token = credentials.sign_token(jws.resident_claims(), key, PASS_TYP)
    head, _, signature = token.split(".")
    changed = jws.segment(jws.resident_claims(exp=jws.NOW + 100 * 365 * 86400))
    _assert_refused(
        credentials.verify_pass(".".join([head, changed, signature]), keys), reasons.BAD_SIGNATURE
    )


def test_a_signature_from_another_typ_header_does_not_transfer(ed_key, keys, jws):
    # Same claims, header re-encoded with whitespace: the signing input differs.
    token = credentials.sign_token(jws.resident_claims(), ed_key, PASS_TYP)
    _, body, signature = token.split(".")
    spaced = jws.segment('{"alg": "EdDSA", "kid": "ed1", "typ": "gatepass+jwt"}')
    _assert_refused(
        credentials.verify_pass(".".join([spaced, body, signature]), keys), reasons.BAD_SIGNATURE
    )


def test_an_es256_signature_in_der_form_is_refused(es_key, keys, jws):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signing_input = jws.segment(_header("es1", "ES256")) + "." + jws.segment(jws.resident_claims())
    d = int.from_bytes(b64.decode(es_key["d"]), "big")
    der = ec.derive_private_key(d, ec.SECP256R1()).sign(
        signing_input.encode(), ec.ECDSA(hashes.SHA256())
    )
    token = signing_input + "." + b64.encode(der)
    _assert_refused(credentials.verify_pass(token, keys), reasons.BAD_SIGNATURE)


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_a_truncated_or_zero_signature_is_refused(request, key_name, keys, jws):
    key = request.getfixturevalue(key_name)
    token = credentials.sign_token(jws.resident_claims(), key, PASS_TYP)
    head, body, signature = token.split(".")
    raw = b64.decode(signature)
    for forged in (raw[:32], raw + b"\x00", bytes(64)):
        code = ".".join([head, body, b64.encode(forged)])
        _assert_refused(credentials.verify_pass(code, keys), reasons.BAD_SIGNATURE)


def test_a_non_canonical_signature_encoding_is_refused(ed_key, keys, jws):
    # 64 bytes encode to 86 characters whose last one carries 4 unused bits: set them.
    token = credentials.sign_token(jws.resident_claims(), ed_key, PASS_TYP)
    head, body, signature = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(signature[-1]) | 0b0011]
    if last == signature[-1]:
        last = alphabet[alphabet.index(signature[-1]) ^ 0b0001]
    _assert_refused(
        credentials.verify_pass(".".join([head, body, signature[:-1] + last]), keys),
        reasons.BAD_SIGNATURE,
    )


# --- size and shape: refused before any parsing --------------------------------------------


def _padded_pass(key: dict, length: int, jws) -> str:
    """A validly signed pass of about `length` characters (a filler claim sets the size)."""
    for filler in range(length):
        token = credentials.sign_token(jws.resident_claims(note="x" * filler), key, PASS_TYP)
        if len(token) >= length:
            return token
    raise AssertionError("unreachable")


def test_a_validly_signed_code_of_up_to_1024_characters_is_accepted(ed_key, keys, jws):
    token = _padded_pass(ed_key, 1023, jws)
    assert len(token) <= credentials.MAX_CODE_CHARS == 1024
    assert credentials.verify_pass(token, keys).ok


def test_an_oversize_code_is_refused_even_with_a_valid_signature(ed_key, keys, jws):
    token = _padded_pass(ed_key, 1025, jws)
    assert len(token) > 1024
    _assert_refused(credentials.verify_pass(token, keys), reasons.UNRECOGNIZED_CODE)
    _assert_refused(credentials.verify_pass(token.encode(), keys), reasons.UNRECOGNIZED_CODE)


def test_a_huge_code_is_refused_without_being_parsed(keys):
    result = credentials.verify_pass("a" * 10_000_000 + "." + "b.c", keys)
    _assert_refused(result, reasons.UNRECOGNIZED_CODE)
    assert result.header is None


@pytest.mark.parametrize(
    "code",
    [
        b"\xff\xfe\xfd",
        b"eyJh.eyJh.\x80AAA",
        "eyJh.eyJh.AAAé",
        "eyJh.eyJh.AA\udc80A",
        "",
        b"",
        "https://sunshine-garden.example/",
        "WIFI:S:guest;T:WPA;P:secret;;",
        "a.b",
        "a.b.c.d",
        "eyJh..AAAA",
        "eyJh.eyJh.AAAA ",
        " eyJh.eyJh.AAAA",
        "eyJh.eyJh.AAA=",
        "eyJh.eyJh.AAAAA",
        "eyJh.eyJh.AA+/",
        "eyJh.eyJh.AAAA\n",
        "eyJh\x00.eyJh.AAAA",
    ],
)
def test_codes_that_are_not_three_base64url_segments_are_unrecognized(code, keys):
    result = credentials.verify_pass(code, keys)
    _assert_refused(result, reasons.UNRECOGNIZED_CODE)
    assert result.header is None


def test_the_pass_with_an_appended_non_utf8_byte_is_unrecognized(ed_key, keys, jws):
    token = credentials.sign_token(jws.resident_claims(), ed_key, PASS_TYP).encode()
    _assert_refused(credentials.verify_pass(token + b"\xc3", keys), reasons.UNRECOGNIZED_CODE)


@pytest.mark.parametrize("code", [None, 42, ["a.b.c"], {"a": 1}])
def test_a_code_that_is_not_text_is_unrecognized(code, keys):
    _assert_refused(credentials.verify_pass(code, keys), reasons.UNRECOGNIZED_CODE)


# --- header --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typ", ["JWT", "jwt", "GATEPASS+JWT", "gatecmd+jwt", "statuslist+jwt", "", None, 1]
)
def test_a_wrong_typ_is_a_malformed_pass(typ, ed_key, keys, jws):
    token = jws.forge(_header("ed1", typ=typ), jws.resident_claims(), ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_a_missing_typ_is_a_malformed_pass(ed_key, keys, jws):
    token = jws.forge({"alg": "EdDSA", "kid": "ed1"}, jws.resident_claims(), ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_a_trusted_status_list_presented_as_a_pass_is_refused(ed_key, keys, jws):
    token = credentials.sign_token(jws.resident_claims(), ed_key, "statuslist+jwt")
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


@pytest.mark.parametrize("kid", [None, "", 1, ["ed1"], {"kid": "ed1"}])
def test_a_missing_or_non_string_kid_is_a_malformed_pass(kid, ed_key, keys, jws):
    header = {"alg": "EdDSA", "typ": PASS_TYP} | ({} if kid is None else {"kid": kid})
    token = jws.forge(header, jws.resident_claims(), ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_a_missing_alg_is_a_malformed_pass(ed_key, keys, jws):
    token = jws.forge({"kid": "ed1", "typ": PASS_TYP}, jws.resident_claims(), ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_a_critical_header_extension_is_refused(ed_key, keys, jws):
    header = _header("ed1") | {"crit": ["b64"], "b64": False}
    token = jws.forge(header, jws.resident_claims(), ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


@pytest.mark.parametrize(
    ("header", "claims"),
    [
        ("not json", None),
        ("[1, 2]", None),
        ('"text"', None),
        (b"\xff\xfe{}", None),
        ('{"alg":"EdDSA","kid":"ed1","typ":"gatepass+jwt"', None),
        (None, "not json"),
        (None, "[]"),
        (None, "null"),
        (None, b'{"sub":"\xff"}'),
        (None, '{"exp": NaN}'),
        (None, '{"exp": Infinity}'),
    ],
)
def test_a_header_or_payload_that_is_not_a_json_object_is_a_malformed_pass(
    header, claims, ed_key, keys, jws
):
    header = header if header is not None else _header("ed1")
    claims = claims if claims is not None else jws.resident_claims()
    token = jws.forge(header, claims, ed_key)  # validly signed: the JSON is what is wrong
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_duplicate_names_in_the_header_are_a_malformed_pass(ed_key, keys, jws):
    header = '{"alg":"none","alg":"EdDSA","kid":"ed1","typ":"gatepass+jwt"}'
    token = jws.forge(header, jws.resident_claims(), ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_duplicate_names_in_the_claims_are_a_malformed_pass_even_when_signed(ed_key, keys, jws):
    # Two parsers could read two different passes out of this: refuse it.
    claims = '{"iss":"sunshine-garden","sub":"A","sub":"B","pt":"resident","iat":1,"exp":2}'
    token = jws.forge(_header("ed1"), claims, ed_key)
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_a_non_canonical_header_encoding_is_a_malformed_pass(ed_key, keys, jws):
    # Pick a header whose encoding ends in a partial group: its last character has unused bits.
    head = next(
        jws.segment(_header("ed1") | {"n": "x" * n})
        for n in range(3)
        if len(jws.segment(_header("ed1") | {"n": "x" * n})) % 4 in (2, 3)
    )
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tweaked = head[:-1] + alphabet[alphabet.index(head[-1]) ^ 1]
    token = tweaked + "." + jws.segment(jws.resident_claims()) + ".AAAA"
    _assert_refused(credentials.verify_pass(token, keys), reasons.MALFORMED_PASS)


def test_checks_run_in_the_documented_order(keys, jws):
    # alg none AND unknown kid: the algorithm is refused first.
    token = jws.forge(_header("nobody", "none"), jws.resident_claims())
    assert credentials.verify_pass(token, keys).reason == reasons.UNSUPPORTED_ALGORITHM
    # wrong typ AND alg none: the header's form is refused first.
    token = jws.forge(_header("nobody", "none", "JWT"), jws.resident_claims())
    assert credentials.verify_pass(token, keys).reason == reasons.MALFORMED_PASS
    # unknown kid with a junk signature: unknown_key, not bad_signature.
    token = jws.forge(_header("nobody"), jws.resident_claims())
    assert credentials.verify_pass(token, keys).reason == reasons.UNKNOWN_KEY


def test_every_failure_reason_is_a_credential_failure(keys, jws):
    for code in ["", jws.forge(_header("ed1", typ="JWT"), {}), jws.forge(_header("x"), {})]:
        assert credentials.verify_pass(code, keys).reason in reasons.CREDENTIAL_FAILURES


def test_an_unexpected_internal_error_is_a_refusal_not_an_exception(monkeypatch, keys, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("bug")

    from firmware.credentials import jws as jws_module

    monkeypatch.setattr(jws_module, "_verify_jws", explode)
    result = credentials.verify_pass("eyJh.eyJh.AAAA", keys)
    _assert_refused(result, reasons.MALFORMED_PASS)
    assert "RuntimeError" in caplog.text
    assert credentials.verify_status_list_token("eyJh.eyJh.AAAA", keys).ok is False
