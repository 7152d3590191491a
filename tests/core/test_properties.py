"""Property tests: decide never raises on arbitrary input; granted implies nothing denies."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.core import policy, prompts, reasons
from firmware.core import status_list as sl

NOW = 1_780_000_000
URI = "u"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=30,
)

claim_like = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.sampled_from(["c", "other"]) | json_values,
        "sub": st.text(min_size=1, max_size=70) | json_values,
        "pt": st.sampled_from(["resident", "visitor", "staff"]) | json_values,
        "iat": st.integers(NOW - 10**6, NOW + 10**6) | json_values,
        "exp": st.integers(NOW - 10**6, NOW + 10**6) | json_values,
        "nbf": st.integers(NOW - 10**6, NOW + 10**6) | json_values,
        "status": st.fixed_dictionaries(
            {
                "status_list": st.fixed_dictionaries(
                    {"idx": st.integers(-2, 40) | json_values, "uri": st.just(URI) | json_values}
                )
            }
        )
        | json_values,
        "gates": st.lists(st.sampled_from(["g", "h"]), max_size=3) | json_values,
        "jti": st.text(max_size=5) | json_values,
        "unit": json_values,
    },
)

VIEW = policy.StatusView(
    sl.from_claims(
        {
            "sub": URI,
            "iat": NOW - 10,
            "exp": NOW + 3600,
            "status_list": {"bits": 2, "lst": sl.encode_lst([0, 1, 2, 3] * 8)},
        }
    ),
    NOW - 10,
)


@settings(max_examples=400)
@given(
    claims=claim_like | json_values,
    credential=st.none() | st.sampled_from(reasons.ALL) | st.text(max_size=10),
    bodies=st.none() | st.lists(st.floats() | st.integers(30, 45) | json_values, max_size=3),
    direction=st.sampled_from(["in", "out"]),
    now=st.integers(NOW - 10**6, NOW + 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=2e9),
)
def test_decide_never_raises_and_grants_only_without_denying_reasons(
    claims, credential, bodies, direction, now
):
    gate = policy.GatePolicy("c", "g", direction=direction)
    d = policy.decide(credential, claims, VIEW, bodies, gate, policy.GateState(), now)
    assert d.decision in (policy.GRANTED, policy.DENIED)
    assert set(d.reasons) <= set(reasons.ALL)
    if d.granted:
        assert not any(reasons.is_denying(r) for r in d.reasons)
        assert credential is None
    else:
        assert any(reasons.is_denying(r) for r in d.reasons)
    json.dumps(d.pass_dict())  # the event's pass object is always serialisable
    text = prompts.for_decision(d.granted, d.reasons)
    assert set(text) == set(prompts.LANGUAGES) and all(text.values())


def test_every_reason_and_step_has_a_prompt_in_three_languages():
    assert prompts.check_complete() == []
    for reason in reasons.ALL:
        texts = prompts.for_reason(reason)
        assert set(texts) == {"zh", "en", "ko"}
        assert len(set(texts.values())) == 3


def test_the_person_is_told_about_the_fever_first():
    shown = prompts.for_decision(False, [reasons.PASS_EXPIRED, reasons.FEVER])
    assert shown == prompts.for_reason(reasons.FEVER)
    assert prompts.for_decision(True, [reasons.STATUS_LIST_STALE]) == prompts.for_step(
        prompts.GRANTED
    )
