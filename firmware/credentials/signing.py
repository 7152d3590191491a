"""The community side: key generation and signing (passes in both forms, status lists, commands).

Nothing here runs on a gate. The gate only verifies (`jws`, `cwt`, `passes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from firmware.core import b64
from firmware.credentials import cwt
from firmware.credentials.keys import (
    ED25519_KEY_BYTES,
    EDDSA,
    ES256,
    P256_COORDINATE_BYTES,
    KeySetError,
    algorithm_of,
    b64_member,
    key_label,
)
from firmware.credentials.strict_json import compact_json

_PUBLIC_MEMBERS = ("kty", "crv", "x", "y", "kid", "alg", "use")


def generate_keypair(kid: str, alg: str = EDDSA) -> dict[str, str]:
    """A new private JWK (with its public members) for `alg` ("EdDSA" or "ES256")."""
    if not isinstance(kid, str) or not kid:
        raise ValueError("kid must be a non-empty string")
    if alg == EDDSA:
        private = Ed25519PrivateKey.generate()
        return _jwk_of_public(private.public_key(), EDDSA) | {
            "d": b64.encode(private.private_bytes_raw()),
            "kid": kid,
            "alg": EDDSA,
            "use": "sig",
        }
    if alg == ES256:
        ec_private = ec.generate_private_key(ec.SECP256R1())
        d = ec_private.private_numbers().private_value.to_bytes(P256_COORDINATE_BYTES, "big")
        return _jwk_of_public(ec_private.public_key(), ES256) | {
            "d": b64.encode(d),
            "kid": kid,
            "alg": ES256,
            "use": "sig",
        }
    raise ValueError(f"unsupported algorithm {alg!r} (use EdDSA or ES256)")


def public_jwk(private_jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The public part of a JWK: only the public members are copied, never `d`."""
    return {name: private_jwk[name] for name in _PUBLIC_MEMBERS if name in private_jwk}


def _jwk_of_public(public: Any, alg: str) -> dict[str, str]:
    if alg == EDDSA:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64.encode(public.public_bytes_raw())}
    numbers = public.public_numbers()
    width = P256_COORDINATE_BYTES
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64.encode(numbers.x.to_bytes(width, "big")),
        "y": b64.encode(numbers.y.to_bytes(width, "big")),
    }


def _private_signer(private_jwk: Mapping[str, Any]) -> tuple[str, str, Any]:
    """(kid, alg, private key) from a private JWK whose public members match its `d`."""
    label = key_label(private_jwk, 0)
    kid = private_jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeySetError("the signing key has no kid")
    alg = algorithm_of(private_jwk, label)
    if alg == EDDSA:
        private: Any = Ed25519PrivateKey.from_private_bytes(
            b64_member(private_jwk, "d", label, ED25519_KEY_BYTES)
        )
    else:
        d = int.from_bytes(b64_member(private_jwk, "d", label, P256_COORDINATE_BYTES), "big")
        try:
            private = ec.derive_private_key(d, ec.SECP256R1())
        except ValueError:
            raise KeySetError(f"{label}: d is not a P-256 private key") from None
    # A key file whose x/y do not belong to d would issue passes nobody can verify.
    derived = _jwk_of_public(private.public_key(), alg)
    for name in ("x", "y"):
        if name in private_jwk and private_jwk[name] != derived.get(name):
            raise KeySetError(f"{label}: the public members do not match d")
    return kid, alg, private


def _raw_signature(private: Any, alg: str, data: bytes) -> bytes:
    if alg == EDDSA:
        return bytes(private.sign(data))
    r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
    width = P256_COORDINATE_BYTES
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def sign_token(claims: Mapping[str, Any], private_jwk: Mapping[str, Any], typ: str) -> str:
    """A compact JWS of `claims`: header {alg, kid, typ} in that order, JSON without whitespace.

    The algorithm is the one the key's type allows. Raises KeySetError for an unusable key and
    ValueError for claims that are not a JSON object.
    """
    if not isinstance(claims, Mapping):
        raise ValueError("claims must be a JSON object")
    kid, alg, private = _private_signer(private_jwk)
    header = {"alg": alg, "kid": kid, "typ": typ}
    signing_input = b64.encode(compact_json(header)) + "." + b64.encode(compact_json(claims))
    signature = _raw_signature(private, alg, signing_input.encode("ascii"))
    return signing_input + "." + b64.encode(signature)


def sign_cwt_pass(claims: Mapping[str, Any], private_jwk: Mapping[str, Any]) -> str:
    """The compact pass (DESIGN 2.1b) of claims named as in the JWT: `GK1:` + base45(COSE_Sign1).

    `jti` must be lowercase hex (it becomes the `cti` bytes); claims without a CWT label are
    refused. Raises KeySetError for an unusable key and ValueError for unmappable claims.
    """
    kid, alg, private = _private_signer(private_jwk)
    payload = cbor2.dumps(cwt.claims_to_cwt(claims))
    protected = cbor2.dumps(
        {
            cwt.HEADER_ALG: cwt.COSE_ALGORITHMS[alg],
            cwt.HEADER_KID: kid.encode("utf-8"),
            cwt.HEADER_TYP: cwt.CWT_PASS_TYP,
        }
    )
    signature = _raw_signature(private, alg, cwt.sig_structure(protected, payload))
    message = cbor2.dumps(cbor2.CBORTag(cwt.COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return cwt.encode_code(message)


def pass_claims(
    community: str,
    pass_id: str,
    pass_type: str,
    *,
    issued_at: int,
    expires: int,
    status_idx: int | None = None,
    status_uri: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The claims of a pass (DESIGN 2.1) with the JWT names, for either form: `status` is set
    when an index and list are given (required for residents and staff), `extra` adds `unit`,
    `gates`, `jti`, `nbf` or overrides any claim."""
    claims: dict[str, Any] = {
        "iss": community,
        "sub": pass_id,
        "pt": pass_type,
        "iat": issued_at,
        "exp": expires,
    }
    if status_idx is not None and status_uri is not None:
        claims["status"] = {"status_list": {"idx": status_idx, "uri": status_uri}}
    claims.update(extra)
    return claims
