"""Token Status List decoding (DESIGN 2.2): errors, bounds, freshness.

Shared by CPython (test_status_list_core.py) and MicroPython (test_core_under_micropython.py).
Fixtures are zlib streams of stored blocks (`zlib_stored`), which need no compressor; the cases
that need one say so with `needs=("zlib",)`.
"""

from case_table import Table, expect_error, stored_lst, zlib_stored

from firmware.core import b64
from firmware.core import status_list as sl

TABLE = Table("status_list")
case = TABLE.case

# A valid `lst` made by zlib.compress (base64url only is needed to read it back).
COMPRESSED_LST = "eNo76fITAAPfAgc"


def claims_for(lst, bits=2, **extra):
    claims = {"sub": "u", "iat": 100, "status_list": {"bits": bits, "lst": lst}}
    claims.update(extra)
    return claims


@case(
    ({"iat": 1, "status_list": {"bits": 2, "lst": COMPRESSED_LST}}, "sub"),
    ({"sub": "u", "status_list": {"bits": 2, "lst": COMPRESSED_LST}}, "iat"),
    (claims_for(COMPRESSED_LST, bits=3), "bits"),
    (claims_for(COMPRESSED_LST, bits=True), "bits"),
    (claims_for("not base64!"), "base64url"),
    (claims_for(b64.encode(b"plain bytes, not zlib")), "zlib"),
    (claims_for(b64.encode(zlib_stored(b"\x00" * 10) + b"trailing")), "zlib"),
    (claims_for(b64.encode(zlib_stored(b"\x00" * 10)[:-1])), "zlib"),  # checksum cut short
    (claims_for(b64.encode(zlib_stored(b"\x00" * 10)[:-1] + b"\x00")), "zlib"),  # bad checksum
    (claims_for(123), "string"),
    ({"sub": "u", "iat": 1, "status_list": "x"}, "status_list"),
    (claims_for(COMPRESSED_LST, exp=-1), "exp"),
)
def malformed_lists_are_refused_with_a_reason(claims, message):
    expect_error(sl.StatusListError, message, sl.from_claims, claims)


@case(needs=("zlib",))
def a_zip_bomb_is_refused():
    import zlib  # a bomb is small only when really compressed

    bomb = b64.encode(zlib.compress(b"\x00" * (sl.MAX_LIST_BYTES + 1), 9))
    expect_error(sl.StatusListError, "too large", sl.from_claims, claims_for(bomb))


@case()
def inflating_stops_at_its_limit():
    data = zlib_stored(b"\x01" * 100)
    assert sl.inflate(data, limit=100) == b"\x01" * 100
    expect_error(sl.StatusListError, "too large", sl.inflate, data, 99)


@case(needs=("zlib",))
def an_encoded_list_decodes_to_the_same_statuses():
    values = [0, 1, 2, 3, 3, 2, 1]
    decoded = sl.from_claims(claims_for(sl.encode_lst(values)))
    assert [decoded.status(i) for i in range(len(values))] == values


@case()
def non_canonical_base64url_is_refused():
    # COMPRESSED_LST ends in a character whose low bits are unused; flipping them must fail.
    assert b64.encode(b64.decode(COMPRESSED_LST)) == COMPRESSED_LST
    expect_error(ValueError, None, b64.decode, "eNo76fITAAPfAgd")


@case()
def out_of_range_and_negative_indexes_have_no_status():
    lst = sl.from_claims(claims_for(stored_lst([3, 3, 3, 3])))
    assert lst.status(3) == 3
    assert lst.status(4) is None
    assert lst.status(-1) is None


@case()
def pack_refuses_values_that_do_not_fit():
    expect_error(sl.StatusListError, None, sl.pack, [4], 2)


@case()
def freshness_from_exp_and_ttl():
    lst = sl.from_claims(claims_for(stored_lst([0]), exp=1000, ttl=300))
    assert lst.stale_since(received_at=100) == 400
    assert lst.stale_since(received_at=900) == 1000
    assert not lst.is_stale(399, received_at=100)
    assert lst.is_stale(400, received_at=100)


@case()
def only_a_later_list_replaces_the_one_held():
    old = sl.from_claims(claims_for(stored_lst([0])))
    new = sl.from_claims(claims_for(stored_lst([0]), iat=101))
    assert new.is_newer_than(old)
    assert not old.is_newer_than(new)
    assert not old.is_newer_than(old)
    assert old.is_newer_than(None)

