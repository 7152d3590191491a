"""Token Status List (IETF OAuth Token Status List, DESIGN 2.2): decode, look up, freshness.

`lst` is base64url(zlib-DEFLATE(bytes)); with `bits` = 2 the status of index i is the 2-bit value
at bit offset (i % 4) * 2 of byte i // 4, least significant bits first.
"""

from firmware.core import b64

TYPE_CHECKING = False
if TYPE_CHECKING:  # MicroPython has no typing module; annotations below are strings
    from typing import Any

NORMAL = 0
REVOKED = 1
HOME_OBSERVATION = 2
CENTRALIZED_OBSERVATION = 3

STATUS_NAMES = {
    NORMAL: "normal",
    REVOKED: "revoked",
    HOME_OBSERVATION: "home_observation",
    CENTRALIZED_OBSERVATION: "centralized_observation",
}

ALLOWED_BITS = (1, 2, 4, 8)
# A community of tens of thousands of passes needs kilobytes; refuse zip bombs early.
MAX_LIST_BYTES = 1 << 20
MAX_LST_CHARS = 1 << 20


class StatusListError(ValueError):
    """The status list is not of the form DESIGN 2.2 describes."""


def _zlib() -> "Any":
    try:
        import zlib  # type: ignore[import-not-found]  # CPython only

        return zlib
    except ImportError:  # MicroPython: the `deflate` module instead
        return None


def inflate(data: bytes, limit: int = MAX_LIST_BYTES) -> bytes:
    """zlib-decompress `data`, refusing output larger than `limit` bytes."""
    zlib = _zlib()
    try:
        if zlib is not None:
            d = zlib.decompressobj()
            out = d.decompress(data, limit + 1)
            if len(out) > limit:
                raise StatusListError("status list too large")
            if not d.eof or d.unused_data:
                raise StatusListError("status list is not one complete zlib stream")
            return bytes(out)
        import io

        import deflate

        source = io.BytesIO(data)
        stream = deflate.DeflateIO(source, deflate.ZLIB)
        out = stream.read(limit + 1)
        if len(out) > limit:
            raise StatusListError("status list too large")
        # DeflateIO stops at the end of the stream without complaint; what follows is ours to
        # refuse, as zlib's `unused_data` is on CPython.
        if source.read(1):
            raise StatusListError("status list is not one complete zlib stream")
        return bytes(out)
    except StatusListError:
        raise
    except Exception:  # zlib.error, OSError, ValueError: all mean "not a zlib stream"
        raise StatusListError("lst is not zlib data") from None


def deflate_bytes(data: bytes) -> bytes:
    """zlib-compress at the best level (building lists is done on the community side)."""
    zlib = _zlib()
    if zlib is None:
        raise StatusListError("compression needs zlib")
    return bytes(zlib.compress(data, 9))


def pack(statuses: "list[int]", bits: int = 2) -> bytes:
    """Pack status values (index order) into the byte array, LSB first."""
    if bits not in ALLOWED_BITS:
        raise StatusListError("bits must be 1, 2, 4 or 8")
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    out = bytearray((len(statuses) + per_byte - 1) // per_byte)
    for i, value in enumerate(statuses):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > mask:
            raise StatusListError("status value out of range at index " + str(i))
        out[i // per_byte] |= value << ((i % per_byte) * bits)
    return bytes(out)


def encode_lst(statuses: "list[int]", bits: int = 2) -> str:
    """The `lst` string for `statuses`: base64url(zlib(pack(statuses)))."""
    return b64.encode(deflate_bytes(pack(statuses, bits)))


def status_at(data: bytes, bits: int, index: int) -> int | None:
    """The status of `index` in the unpacked byte array, or None when out of range."""
    if bits not in ALLOWED_BITS:
        raise StatusListError("bits must be 1, 2, 4 or 8")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return None
    per_byte = 8 // bits
    byte_index = index // per_byte
    if byte_index >= len(data):
        return None
    return (data[byte_index] >> ((index % per_byte) * bits)) & ((1 << bits) - 1)


def _int_claim(claims: "dict[str, Any]", name: str, required: bool) -> int | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise StatusListError("missing claim " + name)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StatusListError("claim " + name + " must be a non-negative integer")
    return value


class StatusList:
    """A decoded status list: its subject uri, times, and the unpacked status bytes."""

    def __init__(
        self, uri: str, iat: int, exp: int | None, ttl: int | None, bits: int, data: bytes
    ) -> None:
        self.uri = uri
        self.iat = iat
        self.exp = exp
        self.ttl = ttl
        self.bits = bits
        self.data = data

    def __len__(self) -> int:
        return len(self.data) * 8 // self.bits

    def status(self, index: int) -> int | None:
        return status_at(self.data, self.bits, index)

    def stale_since(self, received_at: float | None = None) -> float | None:
        """When this list stops being fresh: `exp`, or `ttl` after it was received if sooner."""
        ends = []
        if self.exp is not None:
            ends.append(float(self.exp))
        if self.ttl is not None:
            base = float(self.iat) if received_at is None else max(float(self.iat), received_at)
            ends.append(base + self.ttl)
        return min(ends) if ends else None

    def is_stale(self, now: float, received_at: float | None = None) -> bool:
        end = self.stale_since(received_at)
        return end is not None and now >= end

    def issued_in_future(self, now: float, skew_s: float) -> bool:
        """True when `iat` lies further ahead of `now` than the clock skew (DESIGN 2.2): such a
        list is ignored and never held, or one mis-dated list would lock out every later one."""
        return float(self.iat) > now + skew_s

    def is_newer_than(self, other: "StatusList | None") -> bool:
        """A list replaces the one held only when it was issued later (DESIGN 2.2)."""
        return other is None or self.iat > other.iat


def from_claims(claims: "dict[str, Any]") -> StatusList:
    """Build a StatusList from verified status-list JWT claims; raises StatusListError."""
    if not isinstance(claims, dict):
        raise StatusListError("claims must be an object")
    uri = claims.get("sub")
    if not isinstance(uri, str) or not uri:
        raise StatusListError("missing claim sub")
    iat = _int_claim(claims, "iat", True)
    exp = _int_claim(claims, "exp", False)
    ttl = _int_claim(claims, "ttl", False)
    body = claims.get("status_list")
    if not isinstance(body, dict):
        raise StatusListError("missing claim status_list")
    bits = body.get("bits")
    lst = body.get("lst")
    if isinstance(bits, bool) or bits not in ALLOWED_BITS:
        raise StatusListError("status_list.bits must be 1, 2, 4 or 8")
    if not isinstance(lst, str) or len(lst) > MAX_LST_CHARS:
        raise StatusListError("status_list.lst must be a string")
    try:
        compressed = b64.decode(lst)
    except ValueError:
        raise StatusListError("status_list.lst is not base64url") from None
    return StatusList(uri, iat or 0, exp, ttl, bits, inflate(compressed))

