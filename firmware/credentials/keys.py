"""Trusted issuer keys (a JWKS file, RFC 7517) and the one signature check both pass forms use.

The trusted key decides the algorithm: an Ed25519 key verifies EdDSA, a P-256 key ES256, and
nothing a token says can change that. Keys come only from the JWKS file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from firmware.core import b64
from firmware.credentials.strict_json import strict_json_loads

# A trusted-keys file holds a handful of keys; anything this large is not one.
MAX_JWKS_BYTES = 1 << 20

EDDSA = "EdDSA"
ES256 = "ES256"
ALGORITHMS = (EDDSA, ES256)

# RFC 7518 §3.4 and RFC 9053 §2.1: an ES256 signature is R || S, each 32 bytes big-endian.
P256_COORDINATE_BYTES = 32
# RFC 8037 §2: an Ed25519 public key and private seed are 32 bytes each.
ED25519_KEY_BYTES = 32


class KeySetError(ValueError):
    """A JWKS file or key that cannot be used; the message is one line naming the problem."""


@dataclass(frozen=True)
class TrustedKey:
    """One trusted public key and the one algorithm its type allows."""

    kid: str
    alg: str
    public_key: Ed25519PublicKey | ec.EllipticCurvePublicKey


def b64_member(jwk: Mapping[str, Any], name: str, label: str, size: int) -> bytes:
    """The base64url member `name` of a JWK, exactly `size` bytes; raises KeySetError."""
    value = jwk.get(name)
    if not isinstance(value, str):
        raise KeySetError(f"{label}: missing {name}")
    try:
        raw = b64.decode(value)
    except ValueError:
        raise KeySetError(f"{label}: {name} is not base64url") from None
    if len(raw) != size:
        raise KeySetError(f"{label}: {name} must be {size} bytes, not {len(raw)}")
    return raw


def algorithm_of(jwk: Mapping[str, Any], label: str) -> str:
    """The one algorithm this key may sign with, decided by its type (and checked against alg)."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        alg = EDDSA
    elif kty == "EC" and crv == "P-256":
        alg = ES256
    else:
        raise KeySetError(
            f"{label}: unsupported key type kty={kty!r} crv={crv!r} (only OKP/Ed25519 and EC/P-256)"
        )
    if "alg" in jwk and jwk["alg"] != alg:
        raise KeySetError(f"{label}: alg {jwk['alg']!r} does not fit a {crv} key (use {alg})")
    if "use" in jwk and jwk["use"] != "sig":
        raise KeySetError(f"{label}: use {jwk['use']!r} is not a signing key")
    return alg


def _public_key(jwk: Mapping[str, Any], alg: str, label: str) -> Any:
    if alg == EDDSA:
        return Ed25519PublicKey.from_public_bytes(b64_member(jwk, "x", label, ED25519_KEY_BYTES))
    x = b64_member(jwk, "x", label, P256_COORDINATE_BYTES)
    y = b64_member(jwk, "y", label, P256_COORDINATE_BYTES)
    try:
        # Uncompressed SEC1 point; cryptography refuses a point that is not on the curve.
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    except ValueError:
        raise KeySetError(f"{label}: x, y is not a point on P-256") from None


def key_label(jwk: Mapping[str, Any], position: int) -> str:
    """How a key is named in error messages: its kid, or its position in the file."""
    kid = jwk.get("kid")
    return f"key {kid!r}" if isinstance(kid, str) and kid else f"key #{position + 1}"


class KeySet:
    """Trusted public keys by `kid`, each with the one algorithm its type allows."""

    def __init__(self, keys: Mapping[str, TrustedKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_dict(cls, jwks: Any) -> KeySet:
        """Keys from a parsed JWKS object; private members are ignored. Raises KeySetError."""
        if not isinstance(jwks, dict):
            raise KeySetError("a JWKS must be a JSON object with a 'keys' list")
        entries = jwks.get("keys")
        if not isinstance(entries, list):
            raise KeySetError("a JWKS must have a 'keys' list")
        if not entries:
            raise KeySetError("the JWKS has no keys")
        keys: dict[str, TrustedKey] = {}
        for position, jwk in enumerate(entries):
            if not isinstance(jwk, dict):
                raise KeySetError(f"key #{position + 1} is not a JSON object")
            kid = jwk.get("kid")
            if not isinstance(kid, str) or not kid:
                raise KeySetError(f"key #{position + 1} has no kid")
            if kid in keys:
                raise KeySetError(f"duplicate kid {kid!r}")
            label = key_label(jwk, position)
            alg = algorithm_of(jwk, label)
            keys[kid] = TrustedKey(kid, alg, _public_key(jwk, alg, label))
        return cls(keys)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeySet:
        """Keys from a JWKS file. Raises KeySetError with a one-line message."""
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_JWKS_BYTES + 1)
        except OSError as exc:
            raise KeySetError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None
        if len(data) > MAX_JWKS_BYTES:
            raise KeySetError(f"{os.fspath(path)} is larger than {MAX_JWKS_BYTES} bytes")
        try:
            parsed = strict_json_loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise KeySetError(f"{os.fspath(path)} is not JSON: {first_line}") from None
        try:
            return cls.from_dict(parsed)
        except KeySetError as exc:
            raise KeySetError(f"{os.fspath(path)}: {exc}") from None

    def kids(self) -> list[str]:
        """The key ids, in file order."""
        return list(self._keys)

    def algorithm(self, kid: str) -> str | None:
        """The algorithm the key `kid` verifies, or None when there is no such key."""
        key = self._keys.get(kid)
        return key.alg if key else None

    def get(self, kid: str) -> TrustedKey | None:
        """The trusted key `kid`, or None."""
        return self._keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeySet({self.kids()!r})"


def signature_verifies(key: TrustedKey, signed: bytes, signature: bytes) -> bool:
    """True when `signature` (Ed25519, or ES256 as R || S) is `key`'s over exactly `signed`."""
    try:
        if key.alg == EDDSA:
            assert isinstance(key.public_key, Ed25519PublicKey)
            key.public_key.verify(signature, signed)
            return True
        assert isinstance(key.public_key, ec.EllipticCurvePublicKey)
        width = P256_COORDINATE_BYTES
        if len(signature) != 2 * width:
            return False
        r = int.from_bytes(signature[:width], "big")
        s = int.from_bytes(signature[width:], "big")
        key.public_key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False
