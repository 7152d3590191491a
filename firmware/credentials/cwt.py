"""The compact pass (DESIGN 2.1b): `GK1:` + base45(COSE_Sign1) carrying CWT claims.

Checked in the order of `reasons.CREDENTIAL_FAILURES`, the first failure ends it:
1. `unrecognized_code`: not `GK1:` + base45 text of at most 1024 characters in all;
2. `malformed_pass`: not strict CBOR (`cbor_strict`), not a tagged COSE_Sign1 with an empty
   unprotected header, a protected header without alg, kid or the `gatepass+cwt` typ, a `crit`
   header, or a known claim of the wrong type — all before any signature work;
3. `unsupported_algorithm`: alg neither EdDSA (-8) nor ES256 (-7);
4. `unknown_key`: kid not in the trusted JWKS;
5. `bad_signature`: the alg is not the trusted key's, or the signature over the
   Sig_structure (RFC 9052 §4.4) fails.

Claims come out named as in the JWT (`iss`, `sub`, `exp`, `nbf`, `iat`, `jti`, `pt`, `unit`,
`gates`, `status`), so the core judges both forms alike. `jti` is the `cti` bytes in lowercase
hex: two passes have the same `jti` exactly when their `cti` bytes are equal. Unknown claims
are dropped.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import base45
import cbor2

from firmware.core import reasons
from firmware.credentials import cbor_strict
from firmware.credentials.keys import EDDSA, ES256, KeySet, signature_verifies

PREFIX = "GK1:"
CWT_PASS_TYP = "gatepass+cwt"
COSE_SIGN1_TAG = 18
# RFC 9052 §3.1 header labels; RFC 9596 typ.
HEADER_ALG, HEADER_CRIT, HEADER_KID, HEADER_TYP = 1, 2, 4, 16
# RFC 9053: EdDSA -8, ES256 -7.
COSE_ALGORITHMS = {EDDSA: -8, ES256: -7}
_ALGORITHM_NAMES = {label: name for name, label in COSE_ALGORITHMS.items()}
# RFC 8392 §4 registered claim keys, then ours; 65535 is the Token Status List's status claim.
CLAIM_LABELS: dict[str, int | str] = {
    "iss": 1,
    "sub": 2,
    "exp": 4,
    "nbf": 5,
    "iat": 6,
    "jti": 7,
    "pt": "pt",
    "unit": "unit",
    "gates": "gates",
    "status": 65535,
}
_CLAIM_NAMES = {label: name for name, label in CLAIM_LABELS.items()}
_TEXT_CLAIMS = ("iss", "sub", "pt", "unit")
_DATE_CLAIMS = ("exp", "nbf", "iat")
# The jti a gate sees for cti bytes, and so the only jti a compact pass can be signed with.
_LOWER_HEX = re.compile(r"(?:[0-9a-f]{2})+")
# RFC 9285 §4: the 45 characters of the QR code's alphanumeric mode.
BASE45_ALPHABET = frozenset(string.digits + string.ascii_uppercase + " $%*+-./:")


class CwtError(ValueError):
    """Why a compact pass is refused: `reason` is one of reasons.CREDENTIAL_FAILURES."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class CompactPass:
    """A strictly decoded compact pass, its signature not yet checked."""

    header: dict[str, Any]
    claims: dict[str, Any]
    alg: Any
    kid: str
    signed: bytes
    signature: bytes


def encode_code(message: bytes) -> str:
    """The QR text of COSE_Sign1 bytes."""
    return PREFIX + base45.b45encode(message).decode("ascii")


def is_compact(text: str) -> bool:
    """True when `text` claims the compact form (it starts with the prefix)."""
    return text.startswith(PREFIX)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The bytes a COSE_Sign1 signs (RFC 9052 §4.4), with no external data."""
    return bytes(cbor2.dumps(["Signature1", protected, b"", payload]))


def _malformed(detail: str) -> CwtError:
    return CwtError(reasons.MALFORMED_PASS, detail)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _status_claim(value: Any) -> dict[str, Any]:
    ref = value.get("status_list") if isinstance(value, Mapping) else None
    if not isinstance(ref, Mapping):
        raise _malformed("status is not {status_list: {idx, uri}}")
    idx, uri = ref.get("idx"), ref.get("uri")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0 or not isinstance(uri, str):
        raise _malformed("status_list needs an unsigned idx and a text uri")
    return {"status_list": {"idx": idx, "uri": uri}}


def claims_from_cwt(payload: Any) -> dict[str, Any]:
    """JWT-named claims of a CWT claims map; raises CwtError for an ill-typed known claim."""
    if not isinstance(payload, Mapping):
        raise _malformed("the payload is not a map")
    claims: dict[str, Any] = {}
    for label, value in payload.items():
        name = _CLAIM_NAMES.get(label)
        if name is None:
            continue  # unknown claims are ignored
        if name in _TEXT_CLAIMS and not isinstance(value, str):
            raise _malformed(f"{name} is not text")
        if name in _DATE_CLAIMS and not _is_int(value):
            raise _malformed(f"{name} is not an integer")
        if name == "jti":
            if not isinstance(value, bytes):
                raise _malformed("cti is not a byte string")
            value = value.hex()
        elif name == "gates":
            if not isinstance(value, Sequence) or isinstance(value, str | bytes):
                raise _malformed("gates is not an array")
            if not all(isinstance(gate, str) for gate in value):
                raise _malformed("gates holds something other than text")
            value = list(value)
        elif name == "status":
            value = _status_claim(value)
        claims[name] = value
    return claims


def claims_to_cwt(claims: Mapping[str, Any]) -> dict[int | str, Any]:
    """The CWT claims map of JWT-named claims (`jti` as hex); raises ValueError."""
    payload: dict[int | str, Any] = {}
    for name, value in claims.items():
        if name not in CLAIM_LABELS:
            raise ValueError(f"claim {name!r} has no place in a compact pass")
        if name == "jti":
            if not isinstance(value, str) or not _LOWER_HEX.fullmatch(value):
                raise ValueError("jti of a compact pass must be lowercase hex")
            value = bytes.fromhex(value)
        payload[CLAIM_LABELS[name]] = value
    return payload


def _base45_bytes(code: object, max_chars: int) -> bytes:
    if isinstance(code, bytes | bytearray):
        if len(code) > max_chars or not bytes(code).isascii():
            raise CwtError(reasons.UNRECOGNIZED_CODE, "not ASCII")
        code = bytes(code).decode("ascii")
    if not isinstance(code, str) or len(code) > max_chars or not is_compact(code):
        raise CwtError(reasons.UNRECOGNIZED_CODE, "not a compact pass")
    text = code[len(PREFIX) :]
    # Shape first, no decoding work: the alphabet, and a length base45 can have.
    if not text or len(text) % 3 == 1 or not BASE45_ALPHABET.issuperset(text):
        raise CwtError(reasons.UNRECOGNIZED_CODE, "not base45")
    try:
        return bytes(base45.b45decode(text))
    except ValueError:  # a group whose value is out of range
        raise CwtError(reasons.UNRECOGNIZED_CODE, "not base45") from None


def _header_of(protected: bytes) -> tuple[dict[str, Any], Any, str]:
    header_map = cbor_strict.loads(protected) if protected else {}
    if not isinstance(header_map, Mapping):
        raise _malformed("the protected header is not a map")
    alg: Any = header_map.get(HEADER_ALG)
    kid_bytes = header_map.get(HEADER_KID)
    typ = header_map.get(HEADER_TYP)
    if not (_is_int(alg) or isinstance(alg, str)):
        raise _malformed("no alg")
    if not isinstance(kid_bytes, bytes) or not kid_bytes:
        raise _malformed("no kid")
    try:
        kid = kid_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("kid is not UTF-8") from None
    if typ != CWT_PASS_TYP:
        raise _malformed("typ is not " + CWT_PASS_TYP)
    # We implement no COSE extension, so any critical one must be refused (RFC 9052 §3.1).
    if HEADER_CRIT in header_map:
        raise _malformed("crit header")
    header = {"alg": _ALGORITHM_NAMES.get(alg, alg), "kid": kid, "typ": typ}
    return header, alg, kid


def decode(code: object, max_chars: int) -> CompactPass:
    """Strictly decode a compact pass, checking no signature; raises CwtError."""
    message = _base45_bytes(code, max_chars)
    try:
        outer = cbor_strict.loads(message, outer_tag=COSE_SIGN1_TAG)
        if not isinstance(outer, cbor2.CBORTag) or outer.tag != COSE_SIGN1_TAG:
            raise _malformed("not a tagged COSE_Sign1")
        parts = outer.value
        if not isinstance(parts, Sequence) or isinstance(parts, str | bytes) or len(parts) != 4:
            raise _malformed("COSE_Sign1 is not an array of four")
        protected, unprotected, payload, signature = parts
        if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
            raise _malformed("COSE_Sign1 parts of the wrong type")
        if not isinstance(unprotected, Mapping) or unprotected:
            raise _malformed("the unprotected header is not an empty map")
        header, alg, kid = _header_of(protected)
        claims = claims_from_cwt(cbor_strict.loads(payload))
    except cbor_strict.CborError as exc:
        raise _malformed(f"not strict CBOR: {exc}") from None
    return CompactPass(header, claims, alg, kid, sig_structure(protected, payload), signature)


def verify(code: object, keys: KeySet, max_chars: int) -> tuple[CompactPass | None, str | None]:
    """(the decoded pass or None, the refusal reason or None). Raises nothing but bugs."""
    try:
        decoded = decode(code, max_chars)
    except CwtError as exc:
        return None, exc.reason
    if decoded.alg not in _ALGORITHM_NAMES:
        return decoded, reasons.UNSUPPORTED_ALGORITHM
    key = keys.get(decoded.kid)
    if key is None:
        return decoded, reasons.UNKNOWN_KEY
    # The key decides: a pass claiming another algorithm cannot carry this key's signature.
    if _ALGORITHM_NAMES[decoded.alg] != key.alg:
        return decoded, reasons.BAD_SIGNATURE
    if not signature_verifies(key, decoded.signed, decoded.signature):
        return decoded, reasons.BAD_SIGNATURE
    return decoded, None
