"""Keys and token-forging helpers shared by the credential tests."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from firmware import credentials
from firmware.core import b64

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


def segment(value: Any) -> str:
    """base64url of `value`: bytes as they are, str as UTF-8, anything else as compact JSON."""
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str):
        raw = value.encode()
    else:
        raw = json.dumps(value, separators=(",", ":")).encode()
    return b64.encode(raw)


def raw_signature(private_jwk: dict[str, Any], signing_input: bytes) -> bytes:
    """Sign exactly these bytes with the JWK's own algorithm (R || S for ES256)."""
    d = b64.decode(private_jwk["d"])
    if private_jwk["kty"] == "OKP":
        return Ed25519PrivateKey.from_private_bytes(d).sign(signing_input)
    key = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def forge(header: Any, claims: Any, private_jwk: dict[str, Any] | None = None) -> str:
    """A compact JWS with any header and payload, signed by `private_jwk` (or junk when None).

    Header and claims may be raw str/bytes, to test JSON the normal signer would never write.
    """
    signing_input = segment(header) + "." + segment(claims)
    if private_jwk is None:
        signature = b"\x00" * 64
    else:
        signature = raw_signature(private_jwk, signing_input.encode())
    return signing_input + "." + b64.encode(signature)


def cose_header(kid: str = "ed1", alg: Any = -8, typ: Any = "gatepass+cwt") -> dict[Any, Any]:
    """A COSE protected header map: 1 alg, 4 kid (bytes), 16 typ."""
    return {1: alg, 4: kid.encode(), 16: typ}


def cwt_claims(overrides: dict[Any, Any] | None = None) -> dict[Any, Any]:
    """The resident pass of `resident_claims` as a CWT claims map, written out by hand.

    `overrides` replaces or adds claims by CWT label (integer or text).
    """
    claims: dict[Any, Any] = {
        1: "sunshine-garden",
        2: "7QK2M9XH4D1P6B3Z",
        "pt": "resident",
        6: NOW,
        4: NOW + 365 * 86400,
        65535: {"status_list": {"idx": 12345, "uri": "https://sunshine-garden.example/sl/1"}},
        "unit": "3-2-501",
    }
    claims.update(overrides or {})
    return claims


def cose_sign1(
    protected: Any,
    claims: Any,
    private_jwk: dict[str, Any] | None = None,
    *,
    unprotected: Any = None,
    signature: bytes | None = None,
    tag: int | None = 18,
) -> bytes:
    """COSE_Sign1 bytes built with cbor2 and cryptography alone, independently of the firmware.

    `protected` and `claims` may be maps (encoded here) or raw bytes (to test CBOR the firmware's
    signer would never write). The Sig_structure is signed by `private_jwk`; junk when None.
    """
    protected_bytes = protected if isinstance(protected, bytes) else cbor2.dumps(protected)
    payload = claims if isinstance(claims, bytes) else cbor2.dumps(claims)
    if signature is None:
        to_be_signed = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
        signature = (
            b"\x00" * 64 if private_jwk is None else raw_signature(private_jwk, to_be_signed)
        )
    parts = [protected_bytes, {} if unprotected is None else unprotected, payload, signature]
    return cbor2.dumps(parts if tag is None else cbor2.CBORTag(tag, parts))


def qr_text(message: bytes) -> str:
    """The compact pass's QR text of COSE_Sign1 bytes."""
    return "GK1:" + base45.b45encode(message).decode()


def forge_cwt(
    protected: Any, claims: Any, private_jwk: dict[str, Any] | None = None, **kw: Any
) -> str:
    """`cose_sign1` as the QR text a gate reads."""
    return qr_text(cose_sign1(protected, claims, private_jwk, **kw))


def resident_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "sunshine-garden",
        "sub": "7QK2M9XH4D1P6B3Z",
        "pt": "resident",
        "iat": NOW,
        "exp": NOW + 365 * 86400,
        "status": {"status_list": {"idx": 12345, "uri": "https://sunshine-garden.example/sl/1"}},
        "unit": "3-2-501",
    }
    claims.update(overrides)
    return claims


@pytest.fixture(scope="session")
def ed_key() -> dict[str, Any]:
    return credentials.generate_keypair("ed1", "EdDSA")


@pytest.fixture(scope="session")
def es_key() -> dict[str, Any]:
    return credentials.generate_keypair("es1", "ES256")


@pytest.fixture(scope="session")
def keys(ed_key: dict[str, Any], es_key: dict[str, Any]) -> credentials.KeySet:
    """The trusted keys: one Ed25519 and one P-256 key, public parts only."""
    return credentials.KeySet.from_dict(
        {"keys": [credentials.public_jwk(ed_key), credentials.public_jwk(es_key)]}
    )


@pytest.fixture(scope="session")
def jws() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import a conftest)."""
    return SimpleNamespace(
        NOW=NOW,
        forge=forge,
        segment=segment,
        raw_signature=raw_signature,
        resident_claims=resident_claims,
        cose_header=cose_header,
        cwt_claims=cwt_claims,
        cose_sign1=cose_sign1,
        qr_text=qr_text,
        forge_cwt=forge_cwt,
    )
