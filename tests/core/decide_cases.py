"""A table of cases for every reason code of DESIGN 2.3, at its boundaries.

Shared by CPython (test_decide_rules.py) and MicroPython (test_core_under_micropython.py).
"""

from case_table import Table, stored_lst

from firmware.core import policy, reasons
from firmware.core import status_list as sl
from firmware.core.temperature import TemperaturePolicy

TABLE = Table("decide")
case = TABLE.case
each = TABLE.each

NOW = 1_780_000_000
URI = "https://sunshine-garden.example/sl/1"
COMMUNITY = "sunshine-garden"
GATE = "north-1"

_DROP = object()


def make_claims(**overrides):
    claims = {
        "iss": COMMUNITY,
        "sub": "p-000123",
        "pt": "resident",
        "iat": NOW - 3600,
        "exp": NOW + 86400,
        "status": {"status_list": {"idx": 5, "uri": URI}},
        "unit": "3-2-501",
    }
    for key, value in overrides.items():
        if value is _DROP:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def make_status(values=None, iat=NOW - 600, exp=NOW + 3600, ttl=None, uri=URI):
    values = values if values is not None else [0] * 16
    claims = {"sub": uri, "iat": iat, "status_list": {"bits": 2, "lst": stored_lst(values)}}
    if exp is not None:
        claims["exp"] = exp
    if ttl is not None:
        claims["ttl"] = ttl
    return policy.StatusView(sl.from_claims(claims), received_at=iat)


def status_with(index_value, **kw):
    values = [0] * 16
    values[5] = index_value
    return make_status(values, **kw)


def run(
    claims=None,
    credential_reason=None,
    status=None,
    bodies=(36.6,),
    direction="in",
    state=None,
    now=NOW,
    **policy_kw,
):
    gate = policy.GatePolicy(COMMUNITY, GATE, direction=direction, **policy_kw)
    return policy.decide(
        credential_reason,
        make_claims() if claims is None else claims,
        status if status is not None else make_status(),
        None if bodies is None else list(bodies),
        gate,
        state or policy.GateState(),
        now,
    )


@case()
def a_valid_resident_with_normal_status_and_temperature_is_granted():
    d = run()
    assert d.decision == policy.GRANTED
    assert d.reasons == []
    assert d.status == "normal"
    assert d.pass_dict()["id"] == "p-000123"


@each(
    [
        reasons.UNRECOGNIZED_CODE,
        reasons.MALFORMED_PASS,
        reasons.UNSUPPORTED_ALGORITHM,
        reasons.UNKNOWN_KEY,
        reasons.BAD_SIGNATURE,
    ]
)
def a_credential_failure_denies_with_its_reason(reason):
    d = run(credential_reason=reason)
    assert d.decision == policy.DENIED
    assert reason in d.reasons
    assert d.pass_info is None


@case()
def an_unknown_credential_reason_is_reported_as_malformed():
    d = run(credential_reason="something_new")
    assert d.reasons[0] == reasons.MALFORMED_PASS


@each(
    [
        {"sub": _DROP},
        {"sub": "x" * 65},
        {"sub": 12},
        {"pt": "guest"},
        {"exp": _DROP},
        {"exp": "tomorrow"},
        {"exp": True},
        {"iat": _DROP},
        {"iss": ""},
        {"nbf": 1.5e9 + 0.5},
        {"status": _DROP},
        {"status": {"status_list": {"idx": -1, "uri": URI}}},
        {"status": {"status_list": {"idx": "5", "uri": URI}}},
        {"status": {"status_list": {"idx": 5}}},
        {"status": "normal"},
        {"gates": []},
        {"gates": "north-1"},
        {"gates": [1]},
        {"unit": 501},
        {"jti": ""},
    ]
)
def missing_or_ill_typed_claims_are_malformed(overrides):
    d = run(claims=make_claims(**overrides))
    assert d.decision == policy.DENIED
    assert d.reasons == [reasons.MALFORMED_PASS]


@case()
def claims_that_are_not_an_object_are_malformed():
    assert run(claims=["iss"]).reasons == [reasons.MALFORMED_PASS]


@case()
def a_visitor_needs_no_status_reference():
    claims = make_claims(pt="visitor", status=_DROP, jti="v-1")
    assert run(claims=claims).decision == policy.GRANTED


@case()
def staff_needs_a_status_reference():
    assert run(claims=make_claims(pt="staff", status=_DROP)).reasons == [reasons.MALFORMED_PASS]


@case()
def wrong_issuer():
    assert run(claims=make_claims(iss="other-garden")).reasons == [reasons.WRONG_ISSUER]


@case()
def gate_restriction():
    assert run(claims=make_claims(gates=["south-2"])).reasons == [reasons.GATE_NOT_ALLOWED]
    assert run(claims=make_claims(gates=["south-2", GATE])).decision == policy.GRANTED


@case(
    (NOW - 299, False),  # expired 299 s ago: inside the 300 s skew
    (NOW - 300, True),  # exactly at the skew: expired
    (NOW - 301, True),
    (NOW + 1, False),
)
def expiry_at_the_skew_boundary(exp, expired):
    d = run(claims=make_claims(exp=exp, iat=NOW - 7200))
    assert (reasons.PASS_EXPIRED in d.reasons) is expired
    assert d.granted is not expired


@case((NOW + 300, False), (NOW + 301, True), (NOW - 10, False))
def not_before_at_the_skew_boundary(nbf, early):
    d = run(claims=make_claims(nbf=nbf))
    assert (reasons.PASS_NOT_YET_VALID in d.reasons) is early


@case()
def a_pass_issued_in_the_future_beyond_the_skew_is_not_yet_valid():
    d = run(claims=make_claims(iat=NOW + 301))
    assert reasons.PASS_NOT_YET_VALID in d.reasons


@case()
def the_skew_is_configurable():
    d = run(claims=make_claims(exp=NOW - 10, iat=NOW - 7200), skew_s=0)
    assert reasons.PASS_EXPIRED in d.reasons


@case(
    (1, reasons.PASS_REVOKED, "revoked"),
    (2, reasons.HOME_OBSERVATION, "home_observation"),
    (3, reasons.CENTRALIZED_OBSERVATION, "centralized_observation"),
)
def status_values_deny(value, reason, status):
    d = run(status=status_with(value))
    assert d.reasons == [reason]
    assert d.status == status
    assert d.alarms == []


@each([2, 3])
def observation_status_at_an_out_gate_is_a_quarantine_breach(value):
    d = run(status=status_with(value), direction="out", bodies=None)
    assert d.decision == policy.DENIED
    assert d.alarms == [policy.ALARM_QUARANTINE_BREACH]


@case()
def revoked_at_an_out_gate_is_not_a_quarantine_breach():
    assert run(status=status_with(1), direction="out", bodies=None).alarms == []


@case()
def status_unknown_without_a_list():
    d = run(status=policy.StatusView(None))
    assert d.reasons == [reasons.STATUS_UNKNOWN]
    assert d.status == "unknown"


@case()
def status_unknown_when_the_list_is_for_another_uri():
    assert run(status=make_status(uri="https://x.example/sl/9")).reasons == [reasons.STATUS_UNKNOWN]


@case()
def the_last_index_of_a_list_is_read_and_one_past_it_is_unknown():
    values = [0] * 15 + [2]  # 16 entries, 4 bytes: the last index is 15
    view = make_status(values)
    assert run(
        claims=make_claims(status={"status_list": {"idx": 15, "uri": URI}}), status=view
    ).reasons == [reasons.HOME_OBSERVATION]
    assert run(
        claims=make_claims(status={"status_list": {"idx": 16, "uri": URI}}), status=view
    ).reasons == [reasons.STATUS_UNKNOWN]


@case()
def a_stale_list_flags_a_resident_within_the_grace():
    view = make_status(exp=NOW - 3600)
    d = run(status=view)
    assert d.decision == policy.GRANTED
    assert d.reasons == [reasons.STATUS_LIST_STALE]


@case()
def a_stale_list_past_the_grace_denies():
    grace = 72 * 3600
    inside = run(status=make_status(iat=NOW - grace - 7200, exp=NOW - grace))
    outside = run(status=make_status(iat=NOW - grace - 7200, exp=NOW - grace - 1))
    assert inside.decision == policy.GRANTED
    assert outside.decision == policy.DENIED
    assert outside.reasons == [reasons.STATUS_LIST_STALE, reasons.STATUS_UNKNOWN]


@case()
def a_stale_list_does_not_admit_staff():
    d = run(claims=make_claims(pt="staff"), status=make_status(exp=NOW - 60))
    assert d.decision == policy.DENIED
    assert reasons.STATUS_UNKNOWN in d.reasons


@case()
def a_list_is_stale_after_its_ttl_since_it_was_received():
    claims = {
        "sub": URI,
        "iat": NOW - 1000,
        "ttl": 900,
        "status_list": {"bits": 2, "lst": stored_lst([0] * 8)},
    }
    view = policy.StatusView(sl.from_claims(claims), received_at=NOW - 1000)
    assert run(status=view).reasons == [reasons.STATUS_LIST_STALE]
    fresh = policy.StatusView(sl.from_claims(claims), received_at=NOW - 10)
    assert run(status=fresh).reasons == []


@case(
    ([37.29], []),
    ([37.29, 38.0], []),  # the second reading is only taken after a high first one
    ([37.3, 37.3], [reasons.FEVER]),
    ([37.31, 37.29], []),  # the re-measurement did not confirm
    ([39.0, 38.5], [reasons.FEVER]),
    ([37.3], [reasons.TEMPERATURE_UNAVAILABLE]),  # high, never re-measured: not guessed
    ([], [reasons.TEMPERATURE_UNAVAILABLE]),
    ([45.0], [reasons.TEMPERATURE_UNAVAILABLE]),  # implausible
    ([float("nan")], [reasons.TEMPERATURE_UNAVAILABLE]),
)
def temperature_threshold_and_re_measurement(bodies, expected):
    d = run(bodies=bodies)
    assert d.reasons == expected
    assert d.alarms == ([policy.ALARM_FEVER] if reasons.FEVER in expected else [])


@case()
def fever_without_confirmation_when_configured():
    d = run(bodies=[37.3], temperature_policy=TemperaturePolicy(confirm_fever=False))
    assert d.reasons == [reasons.FEVER]


@case()
def the_threshold_is_configurable():
    d = run(bodies=[37.5, 37.5], temperature_policy=TemperaturePolicy(threshold_c=38.0))
    assert d.granted


@case()
def out_gates_do_not_measure_unless_configured():
    assert run(direction="out", bodies=[]).granted
    assert run(direction="out", bodies=[], measure_temperature=True).reasons == [
        reasons.TEMPERATURE_UNAVAILABLE
    ]


@case()
def a_visitor_pass_with_jti_is_single_use_per_gate():
    claims = make_claims(pt="visitor", status=_DROP, jti="v-77")
    first = run(claims=claims)
    assert first.granted
    second = run(claims=claims, state=first.state, now=NOW + 3600)
    assert second.reasons == [reasons.VISITOR_PASS_REUSED]


@case()
def a_denied_visitor_pass_is_not_used_up():
    claims = make_claims(pt="visitor", status=_DROP, jti="v-78")
    denied = run(claims=claims, bodies=[])
    assert not denied.granted
    assert run(claims=claims, state=denied.state).granted


@case()
def passback_within_the_window_and_not_after():
    first = run()
    assert run(state=first.state, now=NOW + 29).reasons == [reasons.PASSBACK]
    assert run(state=first.state, now=NOW + 30).granted


@case()
def decide_does_not_mutate_the_state_it_is_given():
    state = policy.GateState()
    run(state=state)
    assert state.last_granted == {}


@case()
def gate_closed_by_command():
    assert run(state=policy.GateState(closed=True)).reasons == [reasons.GATE_CLOSED]


@case((5, False), (6, True), (21, True), (22, False), (23, False))
def gate_closed_outside_opening_hours(local_hour, is_open):
    # 06:00-22:00 local (UTC+8). NOW is chosen at a known UTC instant below.
    midnight_utc = NOW - NOW % 86400
    now = midnight_utc + local_hour * 3600 - 8 * 3600 + 60
    d = run(
        now=now,
        open_hours=[(6 * 60, 22 * 60)],
        claims=make_claims(iat=now - 60, exp=now + 600),
        status=make_status(iat=now - 60, exp=now + 600),
    )
    assert (reasons.GATE_CLOSED not in d.reasons) is is_open


@case()
def opening_hours_across_midnight():
    midnight_utc = NOW - NOW % 86400
    now = midnight_utc + 23 * 3600 - 8 * 3600  # 23:00 local
    d = run(
        now=now,
        open_hours=[(22 * 60, 6 * 60)],
        claims=make_claims(iat=now - 60, exp=now + 600),
        status=make_status(iat=now - 60, exp=now + 600),
    )
    assert d.granted


@case()
def every_reason_is_collected_not_just_the_first():
    claims = make_claims(iss="other", gates=["x"], exp=NOW - 1000, iat=NOW - 9000)
    d = run(claims=claims, status=status_with(3), bodies=[38.0, 38.2])
    assert set(d.reasons) == {
        reasons.WRONG_ISSUER,
        reasons.GATE_NOT_ALLOWED,
        reasons.PASS_EXPIRED,
        reasons.CENTRALIZED_OBSERVATION,
        reasons.FEVER,
    }


@case()
def every_reason_code_is_reachable_in_this_table():
    # The cases above cover each reason; this guards against a new code without a case.
    covered = {
        reasons.UNRECOGNIZED_CODE,
        reasons.MALFORMED_PASS,
        reasons.UNSUPPORTED_ALGORITHM,
        reasons.UNKNOWN_KEY,
        reasons.BAD_SIGNATURE,
        reasons.WRONG_ISSUER,
        reasons.GATE_NOT_ALLOWED,
        reasons.PASS_NOT_YET_VALID,
        reasons.PASS_EXPIRED,
        reasons.PASS_REVOKED,
        reasons.HOME_OBSERVATION,
        reasons.CENTRALIZED_OBSERVATION,
        reasons.STATUS_UNKNOWN,
        reasons.STATUS_LIST_STALE,
        reasons.FEVER,
        reasons.TEMPERATURE_UNAVAILABLE,
        reasons.VISITOR_PASS_REUSED,
        reasons.PASSBACK,
        reasons.GATE_CLOSED,
    }
    assert covered == set(reasons.ALL)
