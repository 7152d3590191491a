"""Token Status List decoding: the table in status_list_cases.py on CPython, and round trips.

The table's cases run under MicroPython too, in test_core_under_micropython.py; the property
test here needs hypothesis and stays on CPython.
"""

from collections.abc import Callable
from typing import Any

import pytest
import status_list_cases
from hypothesis import given
from hypothesis import strategies as st

from firmware.core import status_list as sl


@pytest.mark.parametrize("case", status_list_cases.TABLE.cases, ids=str)
def test_status_list_rule(case: Any, run_case: Callable[[Any], None]) -> None:
    run_case(case)


@given(
    st.sampled_from([1, 2, 4, 8]).flatmap(
        lambda bits: st.tuples(
            st.just(bits), st.lists(st.integers(0, (1 << bits) - 1), max_size=600)
        )
    )
)
def test_encode_then_decode_round_trips_for_any_list(case: tuple[int, list[int]]) -> None:
    bits, values = case
    claims = status_list_cases.claims_for(sl.encode_lst(values, bits), bits)
    decoded = sl.from_claims(claims)
    assert [decoded.status(i) for i in range(len(values))] == values
    assert len(decoded) >= len(values)
