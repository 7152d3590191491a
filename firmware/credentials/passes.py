"""The gate's one entry point for a pass code, in either form (DESIGN 2.1 and 2.1b).

A code starting with `GK1:` is a compact pass (CWT); anything else is read as a JWT. Both give
the same verdict type, the same reason codes and claims under the same names, so the core's
rules judge them alike.
"""

from __future__ import annotations

import logging
from typing import Any

from firmware.core import reasons
from firmware.credentials import cwt, jws
from firmware.credentials.jws import MAX_CODE_CHARS, PassVerification
from firmware.credentials.keys import KeySet

logger = logging.getLogger(__name__)


def _text_start(code: object) -> str:
    """The first characters of a code, as text, just enough to see its prefix."""
    if isinstance(code, bytes | bytearray):
        return bytes(code[: len(cwt.PREFIX)]).decode("ascii", errors="replace")
    return code[: len(cwt.PREFIX)] if isinstance(code, str) else ""


def _verify_cwt(code: object, keys: KeySet) -> PassVerification:
    decoded, reason = cwt.verify(code, keys, MAX_CODE_CHARS)
    header = decoded.header if decoded is not None else None
    kid = decoded.kid if decoded is not None else None
    claims = decoded.claims if decoded is not None and reason is None else None
    return PassVerification(reason is None, reason, header, claims, kid)


def verify_pass(code: bytes | str, keys: KeySet) -> PassVerification:
    """Verify a pass code's form, header and signature, JWT or compact. Never raises.

    The claims are returned unjudged: expiry, issuer, pass type and the rest are the core's.
    """
    if not cwt.is_compact(_text_start(code)):
        return jws.verify_jwt_pass(code, keys)
    try:
        return _verify_cwt(code, keys)
    except Exception as exc:  # never let a credential escape as an exception: the door stays shut
        logger.error("credential check failed unexpectedly: %s", type(exc).__name__)
        return PassVerification(False, reasons.MALFORMED_PASS)


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT or compact pass WITHOUT checking anything cryptographic.

    For technicians' inspection only. Raises ValueError when the token is neither form.
    """
    if not cwt.is_compact(token):
        return jws.decode_jwt_unverified(token)
    try:
        decoded = cwt.decode(token, MAX_CODE_CHARS)
    except cwt.CwtError as exc:
        raise ValueError(f"not a compact pass ({exc.reason}: {exc})") from None
    return decoded.header, decoded.claims
