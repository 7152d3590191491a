"""The status-list bit layout against the examples of the IETF Token Status List draft."""

import pytest

from firmware.core import b64, status_list

# Draft section "Status List" examples: index -> status, the packed bytes, and the lst text.
ONE_BIT_STATUSES = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
ONE_BIT_BYTES = bytes([0xB9, 0xA3])
ONE_BIT_LST = "eNrbuRgAAhcBXQ"
TWO_BIT_STATUSES = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
TWO_BIT_BYTES = bytes([0xC9, 0x44, 0xF9])
TWO_BIT_LST = "eNo76fITAAPfAgc"

EXAMPLES = [
    pytest.param(1, ONE_BIT_STATUSES, ONE_BIT_BYTES, ONE_BIT_LST, id="bits=1"),
    pytest.param(2, TWO_BIT_STATUSES, TWO_BIT_BYTES, TWO_BIT_LST, id="bits=2"),
]


@pytest.mark.parametrize(("bits", "statuses", "packed", "lst"), EXAMPLES)
def test_the_drafts_lst_unpacks_to_its_bytes(bits, statuses, packed, lst):
    assert status_list.inflate(b64.decode(lst)) == packed


@pytest.mark.parametrize(("bits", "statuses", "packed", "lst"), EXAMPLES)
def test_packing_the_drafts_statuses_gives_its_bytes_least_significant_bits_first(
    bits, statuses, packed, lst
):
    assert status_list.pack(statuses, bits) == packed


@pytest.mark.parametrize(("bits", "statuses", "packed", "lst"), EXAMPLES)
def test_every_index_reads_back_the_drafts_status(bits, statuses, packed, lst):
    decoded = status_list.from_claims(
        {
            "sub": "https://example.com/statuslists/1",
            "iat": 1686920170,
            "status_list": {"bits": bits, "lst": lst},
        }
    )
    assert [decoded.status(i) for i in range(len(statuses))] == statuses


@pytest.mark.parametrize(("bits", "statuses", "packed", "lst"), EXAMPLES)
def test_encoding_the_drafts_statuses_gives_its_lst(bits, statuses, packed, lst):
    # zlib at the best level reproduces the draft's text byte for byte.
    assert status_list.encode_lst(statuses, bits) == lst


def test_design_rule_two_bits_at_offset_i_mod_4_times_2_of_byte_i_div_4():
    data = TWO_BIT_BYTES
    for i, expected in enumerate(TWO_BIT_STATUSES):
        assert (data[i // 4] >> ((i % 4) * 2)) & 0b11 == expected
        assert status_list.status_at(data, 2, i) == expected


def test_an_index_past_the_end_of_the_list_has_no_status():
    assert status_list.status_at(TWO_BIT_BYTES, 2, 12) is None
    assert status_list.status_at(TWO_BIT_BYTES, 2, -1) is None
