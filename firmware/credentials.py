"""Pass and status-list JWT verification (DESIGN 2.1, 2.2), and the signing used by the pass tool.

The signature layer only: size and shape first, then header, then the key named by `kid`, then
the signature. What the claims mean (expiry, issuer, pass type) is decided by the core
(`firmware.core.claims`), never here.

Two rules keep the classic JWT attacks out:
- The trusted key decides the algorithm. An Ed25519 key verifies EdDSA, a P-256 key ES256; a
  token whose header names any other algorithm for that key is a bad signature. The header's
  `alg` never picks the verification routine, so `none` and HS256-with-the-public-key-as-secret
  have nothing to work with.
- Keys come only from the JWKS file. Header members that carry or point at keys (`jwk`, `jku`,
  `x5u`, `x5c`) are ignored; a `crit` header is refused, since we understand no extension.

Signatures are checked with `cryptography` over the JWS signing input exactly as received.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from firmware.core import b64, reasons
from firmware.core import status_list as status_list_mod

logger = logging.getLogger(__name__)

# DESIGN 2.1: a code longer than this is refused before any parsing work.
MAX_CODE_CHARS = 1024
# A status list for tens of thousands of passes compresses to a few kilobytes; this leaves room.
MAX_STATUS_LIST_TOKEN_CHARS = 256 * 1024
# A trusted-keys file holds a handful of keys; anything this large is not one.
MAX_JWKS_BYTES = 1 << 20

PASS_TYP = "gatepass+jwt"
STATUS_LIST_TYP = "statuslist+jwt"

EDDSA = "EdDSA"
ES256 = "ES256"
ALGORITHMS = (EDDSA, ES256)

# Reason for a status-list token whose shape, header or claims are wrong (DESIGN 2.2).
MALFORMED_STATUS_LIST = "malformed_status_list"

# RFC 7518 §3.4: an ES256 signature is R || S, each a 32-byte big-endian integer.
_P256_COORDINATE_BYTES = 32
# RFC 8037 §2: an Ed25519 public key and private seed are 32 bytes each.
_ED25519_KEY_BYTES = 32
_PUBLIC_MEMBERS = ("kty", "crv", "x", "y", "kid", "alg", "use")


class KeySetError(ValueError):
    """A JWKS file or key that cannot be used; the message is one line naming the problem."""


class _DuplicateKeyError(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers may each keep a different one of two equal names; refuse the ambiguity.
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _DuplicateKeyError(name)
        result[name] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError("non-standard JSON constant " + name)


def strict_json_loads(text: str | bytes) -> Any:
    """json.loads that refuses duplicate object names and NaN/Infinity; raises ValueError."""
    try:
        return json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
        )
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


# ---------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class _TrustedKey:
    kid: str
    alg: str
    public_key: Ed25519PublicKey | ec.EllipticCurvePublicKey


def _b64_member(jwk: Mapping[str, Any], name: str, label: str, size: int) -> bytes:
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


def _algorithm_of(jwk: Mapping[str, Any], label: str) -> str:
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
        return Ed25519PublicKey.from_public_bytes(_b64_member(jwk, "x", label, _ED25519_KEY_BYTES))
    x = _b64_member(jwk, "x", label, _P256_COORDINATE_BYTES)
    y = _b64_member(jwk, "y", label, _P256_COORDINATE_BYTES)
    try:
        # Uncompressed SEC1 point; cryptography refuses a point that is not on the curve.
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    except ValueError:
        raise KeySetError(f"{label}: x, y is not a point on P-256") from None


def _key_label(jwk: Mapping[str, Any], position: int) -> str:
    kid = jwk.get("kid")
    return f"key {kid!r}" if isinstance(kid, str) and kid else f"key #{position + 1}"


class KeySet:
    """Trusted public keys by `kid`, each with the one algorithm its type allows."""

    def __init__(self, keys: Mapping[str, _TrustedKey]) -> None:
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
        keys: dict[str, _TrustedKey] = {}
        for position, jwk in enumerate(entries):
            if not isinstance(jwk, dict):
                raise KeySetError(f"key #{position + 1} is not a JSON object")
            kid = jwk.get("kid")
            if not isinstance(kid, str) or not kid:
                raise KeySetError(f"key #{position + 1} has no kid")
            if kid in keys:
                raise KeySetError(f"duplicate kid {kid!r}")
            label = _key_label(jwk, position)
            alg = _algorithm_of(jwk, label)
            keys[kid] = _TrustedKey(kid, alg, _public_key(jwk, alg, label))
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

    def get(self, kid: str) -> _TrustedKey | None:
        return self._keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeySet({self.kids()!r})"


def generate_keypair(kid: str, alg: str = EDDSA) -> dict[str, str]:
    """A new private JWK (with its public members) for `alg` ("EdDSA" or "ES256")."""
    if not isinstance(kid, str) or not kid:
        raise ValueError("kid must be a non-empty string")
    if alg == EDDSA:
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes_raw()
        public = private.public_key().public_bytes_raw()
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64.encode(public),
            "d": b64.encode(seed),
            "kid": kid,
            "alg": EDDSA,
            "use": "sig",
        }
    if alg == ES256:
        ec_private = ec.generate_private_key(ec.SECP256R1())
        numbers = ec_private.private_numbers()
        width = _P256_COORDINATE_BYTES
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64.encode(numbers.public_numbers.x.to_bytes(width, "big")),
            "y": b64.encode(numbers.public_numbers.y.to_bytes(width, "big")),
            "d": b64.encode(numbers.private_value.to_bytes(width, "big")),
            "kid": kid,
            "alg": ES256,
            "use": "sig",
        }
    raise ValueError(f"unsupported algorithm {alg!r} (use EdDSA or ES256)")


def public_jwk(private_jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The public part of a JWK: only the public members are copied, never `d`."""
    return {name: private_jwk[name] for name in _PUBLIC_MEMBERS if name in private_jwk}


def _private_signer(private_jwk: Mapping[str, Any]) -> tuple[str, str, Any]:
    """(kid, alg, private key) from a private JWK whose public members match its `d`."""
    label = _key_label(private_jwk, 0)
    kid = private_jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeySetError("the signing key has no kid")
    alg = _algorithm_of(private_jwk, label)
    if alg == EDDSA:
        private: Any = Ed25519PrivateKey.from_private_bytes(
            _b64_member(private_jwk, "d", label, _ED25519_KEY_BYTES)
        )
    else:
        d = int.from_bytes(_b64_member(private_jwk, "d", label, _P256_COORDINATE_BYTES), "big")
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


def _jwk_of_public(public: Any, alg: str) -> dict[str, str]:
    if alg == EDDSA:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64.encode(public.public_bytes_raw())}
    numbers = public.public_numbers()
    width = _P256_COORDINATE_BYTES
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64.encode(numbers.x.to_bytes(width, "big")),
        "y": b64.encode(numbers.y.to_bytes(width, "big")),
    }


def sign_token(claims: Mapping[str, Any], private_jwk: Mapping[str, Any], typ: str) -> str:
    """A compact JWS of `claims`: header {alg, kid, typ} in that order, JSON without whitespace.

    The algorithm is the one the key's type allows. Raises KeySetError for an unusable key and
    ValueError for claims that are not a JSON object.
    """
    if not isinstance(claims, Mapping):
        raise ValueError("claims must be a JSON object")
    kid, alg, private = _private_signer(private_jwk)
    header = {"alg": alg, "kid": kid, "typ": typ}
    signing_input = b64.encode(_compact_json(header)) + "." + b64.encode(_compact_json(claims))
    data = signing_input.encode("ascii")
    if alg == EDDSA:
        signature = private.sign(data)
    else:
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        width = _P256_COORDINATE_BYTES
        signature = r.to_bytes(width, "big") + s.to_bytes(width, "big")
    return signing_input + "." + b64.encode(signature)


# ---------------------------------------------------------------------------------------------
# Verification


@dataclass(frozen=True)
class PassVerification:
    """The signature layer's verdict on a pass code.

    `reason` is one of `reasons.CREDENTIAL_FAILURES` when `ok` is False. `header` and `kid` are
    filled as soon as the header parsed (for logs); `claims` only when the signature verified.
    """

    ok: bool
    reason: str | None
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    kid: str | None = None


@dataclass(frozen=True)
class StatusListVerification:
    """The verdict on a status-list token; `status_list` is set only when `ok`.

    `reason` is unsupported_algorithm, unknown_key, bad_signature (as for passes) or
    `MALFORMED_STATUS_LIST` (size, shape, header, typ or claims not as DESIGN 2.2 says).
    """

    ok: bool
    reason: str | None
    claims: dict[str, Any] | None = None
    status_list: status_list_mod.StatusList | None = None


@dataclass(frozen=True)
class _JwsResult:
    reason: str | None
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    kid: str | None = None


def _as_text(code: object, max_chars: int) -> str | None:
    """The code as ASCII text, or None when it is too long, not text, or not ASCII."""
    if isinstance(code, str):
        if len(code) > max_chars or not code.isascii():
            return None
        return code
    if isinstance(code, bytes | bytearray):
        if len(code) > max_chars or not code.isascii():
            return None
        return code.decode("ascii")
    return None


def _split_compact(code: object, max_chars: int) -> list[str] | None:
    """The three base64url segments of a compact JWS, or None; no decoding work is done."""
    text = _as_text(code, max_chars)
    if text is None:
        return None
    segments = text.split(".")
    if len(segments) != 3 or not all(b64.is_b64url(segment) for segment in segments):
        return None
    return segments


def _json_object(segment: str) -> dict[str, Any] | None:
    try:
        value = strict_json_loads(b64.decode(segment).decode("utf-8"))
    except ValueError:  # also UnicodeDecodeError and duplicate names
        return None
    return value if isinstance(value, dict) else None


def _signature_verifies(key: _TrustedKey, signing_input: bytes, signature: bytes) -> bool:
    try:
        if key.alg == EDDSA:
            assert isinstance(key.public_key, Ed25519PublicKey)
            key.public_key.verify(signature, signing_input)
            return True
        assert isinstance(key.public_key, ec.EllipticCurvePublicKey)
        width = _P256_COORDINATE_BYTES
        if len(signature) != 2 * width:
            return False
        r = int.from_bytes(signature[:width], "big")
        s = int.from_bytes(signature[width:], "big")
        key.public_key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def _verify_jws(code: object, keys: KeySet, typ: str, max_chars: int) -> _JwsResult:
    """Checks in the order of `reasons.CREDENTIAL_FAILURES`; the first failure ends it."""
    segments = _split_compact(code, max_chars)
    if segments is None:
        return _JwsResult(reasons.UNRECOGNIZED_CODE)
    header = _json_object(segments[0])
    if header is None:
        return _JwsResult(reasons.MALFORMED_PASS)
    kid = header.get("kid")
    kid = kid if isinstance(kid, str) and kid else None
    claims = _json_object(segments[1])
    alg = header.get("alg")
    if (
        claims is None
        or header.get("typ") != typ
        or kid is None
        or not isinstance(alg, str)
        # We implement no JWS extension, so any critical one must be refused (RFC 7515 §4.1.11).
        or "crit" in header
    ):
        return _JwsResult(reasons.MALFORMED_PASS, header, None, kid)
    if alg not in ALGORITHMS:
        return _JwsResult(reasons.UNSUPPORTED_ALGORITHM, header, None, kid)
    key = keys.get(kid)
    if key is None:
        return _JwsResult(reasons.UNKNOWN_KEY, header, None, kid)
    # The key decides: a token claiming another algorithm cannot carry this key's signature.
    if alg != key.alg:
        return _JwsResult(reasons.BAD_SIGNATURE, header, None, kid)
    signing_input = (segments[0] + "." + segments[1]).encode("ascii")
    try:
        signature = b64.decode(segments[2])
    except ValueError:
        return _JwsResult(reasons.BAD_SIGNATURE, header, None, kid)
    if not _signature_verifies(key, signing_input, signature):
        return _JwsResult(reasons.BAD_SIGNATURE, header, None, kid)
    return _JwsResult(None, header, claims, kid)


def _verify_guarded(code: object, keys: KeySet, typ: str, max_chars: int) -> _JwsResult:
    try:
        return _verify_jws(code, keys, typ, max_chars)
    except Exception as exc:  # never let a credential escape as an exception: the door stays shut
        logger.error("credential check failed unexpectedly: %s", type(exc).__name__)
        return _JwsResult(reasons.MALFORMED_PASS)


def verify_jws(code: object, keys: KeySet, *, typ: str, max_chars: int) -> PassVerification:
    """The signature layer for any of our token types (`typ`), with the pass reason codes.

    Shared by passes, status lists and admin commands so they cannot drift apart. Never raises.
    """
    result = _verify_guarded(code, keys, typ, max_chars)
    return PassVerification(
        ok=result.reason is None,
        reason=result.reason,
        header=result.header,
        claims=result.claims,
        kid=result.kid,
    )


def verify_pass(code: bytes | str, keys: KeySet) -> PassVerification:
    """Verify a pass code's form, header and signature (DESIGN 2.1). Never raises.

    The claims are returned unjudged: expiry, issuer, pass type and the rest are the core's.
    """
    return verify_jws(code, keys, typ=PASS_TYP, max_chars=MAX_CODE_CHARS)


def verify_status_list_token(token: str, keys: KeySet) -> StatusListVerification:
    """Verify a status-list JWT (DESIGN 2.2) and decode its list. Never raises.

    Whether it is newer than the list held, or stale, is for the caller to decide.
    """
    result = verify_jws(token, keys, typ=STATUS_LIST_TYP, max_chars=MAX_STATUS_LIST_TOKEN_CHARS)
    if result.reason in (reasons.UNRECOGNIZED_CODE, reasons.MALFORMED_PASS):
        return StatusListVerification(False, MALFORMED_STATUS_LIST)
    if result.reason is not None:
        return StatusListVerification(False, result.reason)
    assert result.claims is not None
    try:
        decoded = status_list_mod.from_claims(result.claims)
    except status_list_mod.StatusListError:
        return StatusListVerification(False, MALFORMED_STATUS_LIST, result.claims)
    except Exception as exc:  # same promise as for passes: never raise
        logger.error("status list decoding failed unexpectedly: %s", type(exc).__name__)
        return StatusListVerification(False, MALFORMED_STATUS_LIST, result.claims)
    return StatusListVerification(True, None, result.claims, decoded)


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS WITHOUT checking anything cryptographic.

    For technicians' inspection only. Raises ValueError when the token is not a compact JWS
    whose first two segments are JSON objects.
    """
    segments = _split_compact(token, MAX_STATUS_LIST_TOKEN_CHARS)
    if segments is None:
        raise ValueError("not a compact JWS (three base64url segments)")
    header = _json_object(segments[0])
    claims = _json_object(segments[1])
    if header is None:
        raise ValueError("the header is not a JSON object")
    if claims is None:
        raise ValueError("the payload is not a JSON object")
    return header, claims
