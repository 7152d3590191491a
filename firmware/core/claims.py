"""Pass claims (DESIGN 2.1): required claims per pass type, types and bounds, validity window,
issuer, gate restriction, single-use visitor passes.

Input is the claims object of a pass whose signature has already been verified. Nothing here
reads a clock: `now` is an argument. The set of used visitor `jti`s is state the caller owns.
"""

from firmware.core import reasons
from firmware.core.values import is_int, is_text

TYPE_CHECKING = False
if TYPE_CHECKING:  # MicroPython has no typing module; annotations below are strings
    from typing import Any

PASS_TYPES = ("resident", "visitor", "staff")
# Types whose holders' health status must be looked up in the status list.
STATUS_REQUIRED = ("resident", "staff")
MAX_PASS_ID = 64
MAX_TEXT = 128
MAX_GATES = 64
DEFAULT_SKEW_S = 300




class PassInfo:
    """The parts of a pass that go into the event: never a name, only the opaque pass id."""

    def __init__(
        self,
        pass_id: str,
        pass_type: str,
        issuer: str,
        expires: int,
        unit: "str | None" = None,
        status_idx: "int | None" = None,
        status_uri: "str | None" = None,
        jti: "str | None" = None,
    ) -> None:
        self.pass_id = pass_id
        self.pass_type = pass_type
        self.issuer = issuer
        self.expires = expires
        self.unit = unit
        self.status_idx = status_idx
        self.status_uri = status_uri
        self.jti = jti


def parse(claims: "Any") -> "PassInfo | None":
    """The pass's fields when every claim has the right type and bounds, else None."""
    if not isinstance(claims, dict):
        return None
    iss = claims.get("iss")
    sub = claims.get("sub")
    pt = claims.get("pt")
    if not is_text(iss, MAX_TEXT) or not is_text(sub, MAX_PASS_ID) or pt not in PASS_TYPES:
        return None
    for name in ("iat", "exp"):
        if not is_int(claims.get(name)) or claims[name] < 0:
            return None
    if "nbf" in claims and (not is_int(claims["nbf"]) or claims["nbf"] < 0):
        return None
    unit = claims.get("unit")
    if unit is not None and not is_text(unit, MAX_TEXT):
        return None
    gates = claims.get("gates")
    if gates is not None:
        if not isinstance(gates, list) or not gates or len(gates) > MAX_GATES:
            return None
        for gate in gates:
            if not is_text(gate, MAX_TEXT):
                return None
    jti = claims.get("jti")
    if jti is not None and not is_text(jti, MAX_TEXT):
        return None
    status_idx = None
    status_uri = None
    status = claims.get("status")
    if status is not None:
        ref = status.get("status_list") if isinstance(status, dict) else None
        if not isinstance(ref, dict):
            return None
        idx = ref.get("idx")
        uri = ref.get("uri")
        if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
            return None
        if not is_text(uri, 256):
            return None
        status_idx = idx
        status_uri = str(uri)
    elif pt in STATUS_REQUIRED:
        return None
    return PassInfo(str(sub), str(pt), str(iss), claims["exp"], unit, status_idx, status_uri, jti)


def check(
    claims: "Any",
    community_id: str,
    gate_id: str,
    now: float,
    skew_s: int = DEFAULT_SKEW_S,
    used_visitor_jtis: "Any" = None,
) -> "tuple[PassInfo | None, list[str]]":
    """Reasons this pass may not be used at `gate_id` at `now`; [] when it may.

    Validity with clock skew: the pass is valid while nbf - skew <= now < exp + skew, and a pass
    issued more than `skew_s` in the future is not yet valid either.
    """
    info = parse(claims)
    if info is None:
        return None, [reasons.MALFORMED_PASS]
    found = []
    if info.issuer != community_id:
        found.append(reasons.WRONG_ISSUER)
    gates = claims.get("gates")
    if gates is not None and gate_id not in gates:
        found.append(reasons.GATE_NOT_ALLOWED)
    not_before = claims.get("nbf")
    if (not_before is not None and now < not_before - skew_s) or now < claims["iat"] - skew_s:
        found.append(reasons.PASS_NOT_YET_VALID)
    if now >= info.expires + skew_s:
        found.append(reasons.PASS_EXPIRED)
    if (
        info.pass_type == "visitor"
        and info.jti is not None
        and used_visitor_jtis is not None
        and info.jti in used_visitor_jtis
    ):
        found.append(reasons.VISITOR_PASS_REUSED)
    return info, found
