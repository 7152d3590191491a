"""JWT verification (DESIGN 2.1, 2.2): passes, status lists and admin commands.

The signature layer only: size and shape first, then header, then the key named by `kid`, then
the signature. What the claims mean (expiry, issuer, pass type) is decided by the core
(`firmware.core.claims`), never here.

Two rules keep the classic JWT attacks out:
- The trusted key decides the algorithm. An Ed25519 key verifies EdDSA, a P-256 key ES256; a
  token whose header names any other algorithm for that key is a bad signature. The header's
  `alg` never picks the verification routine, so `none` and HS256-with-the-public-key-as-secret
  have nothing to work with. An unsecured JWS (`alg: none`, its signature segment empty or not)
  is of the compact form and is refused as `unsupported_algorithm`, so the attack is named.
- Keys come only from the JWKS file. Header members that carry or point at keys (`jwk`, `jku`,
  `x5u`, `x5c`) are ignored; a `crit` header is refused, since we understand no extension.

Integers in a token must fit in 64 bits (`strict_json`): an `exp` of 10**400 is malformed.
Signatures are checked with `cryptography` over the JWS signing input exactly as received.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from firmware.core import b64, reasons
from firmware.core import status_list as status_list_mod
from firmware.credentials.keys import ALGORITHMS, KeySet, signature_verifies
from firmware.credentials.strict_json import strict_json_loads

logger = logging.getLogger(__name__)

# DESIGN 2.1: a code longer than this is refused before any parsing work.
MAX_CODE_CHARS = 1024
# A status list for tens of thousands of passes compresses to a few kilobytes; this leaves room.
MAX_STATUS_LIST_TOKEN_CHARS = 256 * 1024

PASS_TYP = "gatepass+jwt"
STATUS_LIST_TYP = "statuslist+jwt"

# Reason for a status-list token whose shape, header or claims are wrong (DESIGN 2.2).
MALFORMED_STATUS_LIST = "malformed_status_list"


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
    """The segments of a compact JWS, or None; no decoding work is done.

    Header and payload are non-empty base64url; the signature may be empty, as an unsecured
    JWS's is, so that `alg: none` is refused by name rather than as an unknown code.
    """
    text = _as_text(code, max_chars)
    if text is None:
        return None
    segments = text.split(".")
    if len(segments) != 3 or not all(b64.is_b64url(segment) for segment in segments[:2]):
        return None
    if segments[2] and not b64.is_b64url(segments[2]):
        return None
    return segments


def _json_object(segment: str) -> dict[str, Any] | None:
    try:
        value = strict_json_loads(b64.decode(segment).decode("utf-8"), bounded_ints=True)
    except ValueError:  # also UnicodeDecodeError and duplicate names
        return None
    return value if isinstance(value, dict) else None


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
    if not signature_verifies(key, signing_input, signature):
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


def verify_jwt_pass(code: object, keys: KeySet) -> PassVerification:
    """Verify a JWT pass's form, header and signature (DESIGN 2.1). Never raises."""
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


def decode_jwt_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
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
