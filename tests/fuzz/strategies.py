"""What a hostile network sends: raw bytes, any JSON, and signed tokens with any claims."""

from __future__ import annotations

import json

from hypothesis import strategies as st

# Integers of every size the wire can carry, the 64-bit edges among them.
EDGE_INTS = st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**400])
INTS = st.one_of(st.integers(), EDGE_INTS)
SCALARS = st.one_of(
    st.none(), st.booleans(), INTS, st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=20,
)


def json_bytes(values: st.SearchStrategy) -> st.SearchStrategy[bytes]:
    return values.map(lambda v: json.dumps(v).encode())


def claims_like(required: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """Claims where each named claim is either a plausible value or anything at all."""
    return st.fixed_dictionaries(
        {}, optional={k: st.one_of(v, JSON_VALUES) for k, v in required.items()}
    )
