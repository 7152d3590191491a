"""Credentials: what the gate verifies, and what the community side signs.

Verification (runs on the gate): `passes` (the entry point for a pass code in either form),
`jws` (JWT passes, status lists, admin commands), `cwt` with `cbor_strict` (the compact pass of
DESIGN 2.1b), `keys` (the trusted JWKS). Signing (community side only): `signing` (keygen,
passes in both forms, status lists and commands), `status_lists` (building a list's claims).
Every name below is part of the package's interface.
"""

from firmware.credentials.cwt import CWT_PASS_TYP, PREFIX
from firmware.credentials.jws import (
    MALFORMED_STATUS_LIST,
    MAX_CODE_CHARS,
    MAX_STATUS_LIST_TOKEN_CHARS,
    PASS_TYP,
    STATUS_LIST_TYP,
    PassVerification,
    StatusListVerification,
    verify_jws,
    verify_status_list_token,
)
from firmware.credentials.keys import (
    ALGORITHMS,
    EDDSA,
    ES256,
    MAX_JWKS_BYTES,
    KeySet,
    KeySetError,
)
from firmware.credentials.passes import decode_unverified, verify_pass
from firmware.credentials.signing import (
    generate_keypair,
    pass_claims,
    public_jwk,
    sign_cwt_pass,
    sign_token,
)
from firmware.credentials.strict_json import strict_json_loads

__all__ = [
    "ALGORITHMS",
    "CWT_PASS_TYP",
    "EDDSA",
    "ES256",
    "MALFORMED_STATUS_LIST",
    "MAX_CODE_CHARS",
    "MAX_JWKS_BYTES",
    "MAX_STATUS_LIST_TOKEN_CHARS",
    "PASS_TYP",
    "PREFIX",
    "STATUS_LIST_TYP",
    "KeySet",
    "KeySetError",
    "PassVerification",
    "StatusListVerification",
    "decode_unverified",
    "generate_keypair",
    "pass_claims",
    "public_jwk",
    "sign_cwt_pass",
    "sign_token",
    "strict_json_loads",
    "verify_jws",
    "verify_pass",
    "verify_status_list_token",
]
