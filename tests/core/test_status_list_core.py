"""Token Status List decoding: errors, bounds, freshness, round trips."""

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.core import b64
from firmware.core import status_list as sl


def claims_for(lst, bits=2, **extra):
    return {"sub": "u", "iat": 100, "status_list": {"bits": bits, "lst": lst}, **extra}


@given(
    st.sampled_from([1, 2, 4, 8]).flatmap(
        lambda bits: st.tuples(
            st.just(bits), st.lists(st.integers(0, (1 << bits) - 1), max_size=600)
        )
    )
)
def test_encode_then_decode_round_trips_for_any_list(case):
    bits, values = case
    decoded = sl.from_claims(claims_for(sl.encode_lst(values, bits), bits))
    assert [decoded.status(i) for i in range(len(values))] == values
    assert len(decoded) >= len(values)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iat": 1, "status_list": {"bits": 2, "lst": "eNo76fITAAPfAgc"}}, "sub"),
        ({"sub": "u", "status_list": {"bits": 2, "lst": "eNo76fITAAPfAgc"}}, "iat"),
        (claims_for("eNo76fITAAPfAgc", bits=3), "bits"),
        (claims_for("eNo76fITAAPfAgc", bits=True), "bits"),
        (claims_for("not base64!"), "base64url"),
        (claims_for(b64.encode(b"plain bytes, not zlib")), "zlib"),
        (claims_for(b64.encode(zlib.compress(b"\x00" * 10) + b"trailing")), "zlib"),
        (claims_for(123), "string"),
        ({"sub": "u", "iat": 1, "status_list": "x"}, "status_list"),
        (claims_for("eNo76fITAAPfAgc", exp=-1), "exp"),
    ],
)
def test_malformed_lists_are_refused_with_a_reason(claims, message):
    with pytest.raises(sl.StatusListError, match=message):
        sl.from_claims(claims)


def test_a_zip_bomb_is_refused():
    bomb = b64.encode(zlib.compress(b"\x00" * (sl.MAX_LIST_BYTES + 1), 9))
    with pytest.raises(sl.StatusListError, match="too large"):
        sl.from_claims(claims_for(bomb))


def test_non_canonical_base64url_is_refused():
    # "eNo76fITAAPfAgc" ends in a character whose low bits are unused; flipping them must fail.
    with pytest.raises(ValueError):
        b64.decode("eNo76fITAAPfAgd")


def test_out_of_range_and_negative_indexes_have_no_status():
    lst = sl.from_claims(claims_for(sl.encode_lst([3, 3, 3, 3])))
    assert lst.status(3) == 3
    assert lst.status(4) is None
    assert lst.status(-1) is None


def test_pack_refuses_values_that_do_not_fit():
    with pytest.raises(sl.StatusListError):
        sl.pack([4], 2)


def test_freshness_from_exp_and_ttl():
    lst = sl.from_claims(claims_for(sl.encode_lst([0]), exp=1000, ttl=300))
    assert lst.stale_since(received_at=100) == 400
    assert lst.stale_since(received_at=900) == 1000
    assert not lst.is_stale(399, received_at=100)
    assert lst.is_stale(400, received_at=100)


def test_only_a_later_list_replaces_the_one_held():
    old = sl.from_claims(claims_for(sl.encode_lst([0])))
    new = sl.from_claims({**claims_for(sl.encode_lst([0])), "iat": 101})
    assert new.is_newer_than(old)
    assert not old.is_newer_than(new)
    assert not old.is_newer_than(old)
    assert old.is_newer_than(None)


@pytest.mark.parametrize(
    ("stale_for", "outcome"),
    [(0, "fresh"), (10, "flag"), (72 * 3600, "flag"), (72 * 3600 + 1, "deny")],
)
def test_stale_grace(stale_for, outcome):
    assert sl.stale_decision(stale_for, 72 * 3600) == outcome
