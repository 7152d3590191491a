"""The decision (DESIGN 2.3): every check yields reason codes; access is granted only when no
denying reason remains. Pure: inputs, policy and state in; a Decision (with new state) out.
"""

from firmware.core import claims as pass_claims
from firmware.core import reasons, temperature
from firmware.core import status_list as sl

TYPE_CHECKING = False
if TYPE_CHECKING:  # MicroPython has no typing module; annotations below are strings
    from typing import Any

GRANTED = "granted"
DENIED = "denied"

# Alarms the decision itself raises (the rest come from devices).
ALARM_FEVER = "fever"
ALARM_QUARANTINE_BREACH = "quarantine_breach"

DAY_S = 86400


class GatePolicy:
    """Where the gate is and how it decides; built from configuration."""

    def __init__(
        self,
        community_id: str,
        gate_id: str,
        direction: str = "in",
        measure_temperature: "bool | None" = None,
        skew_s: int = pass_claims.DEFAULT_SKEW_S,
        stale_grace_s: int = 72 * 3600,
        stale_grace_types: "tuple[str, ...]" = ("resident",),
        passback_s: int = 30,
        open_hours: "list[tuple[int, int]] | None" = None,
        utc_offset_s: int = 8 * 3600,
        temperature_policy: "temperature.TemperaturePolicy | None" = None,
    ) -> None:
        if direction not in ("in", "out"):
            raise ValueError("direction must be 'in' or 'out'")
        self.community_id = community_id
        self.gate_id = gate_id
        self.direction = direction
        # `in` gates measure temperature; `out` gates do not unless configured.
        self.measure_temperature = (
            direction == "in" if measure_temperature is None else measure_temperature
        )
        self.skew_s = skew_s
        self.stale_grace_s = stale_grace_s
        self.stale_grace_types = stale_grace_types
        self.passback_s = passback_s
        # Minutes of the local day [start, end); None = open around the clock.
        self.open_hours = open_hours
        self.utc_offset_s = utc_offset_s
        self.temperature = temperature_policy or temperature.TemperaturePolicy()


class GateState:
    """What the gate remembers between decisions: used single-use visitor passes and recent
    grants (for anti-passback). Owned by the caller and persisted by it; decide() never
    mutates the state it is given."""

    def __init__(
        self,
        used_visitor_jtis: "dict[str, int] | None" = None,
        last_granted: "dict[str, float] | None" = None,
        closed: bool = False,
    ) -> None:
        self.used_visitor_jtis = dict(used_visitor_jtis or {})
        self.last_granted = dict(last_granted or {})
        self.closed = closed

    def copy(self) -> "GateState":
        return GateState(self.used_visitor_jtis, self.last_granted, self.closed)

    def pruned(
        self, now: float, passback_s: float, skew_s: int, mono: "float | None" = None
    ) -> "GateState":
        """Forget visitor ids whose pass can no longer be valid, and grants past the window
        (grants are stamped with `mono` when given, else with `now`)."""
        grant_now = now if mono is None else mono
        state = self.copy()
        for jti in list(state.used_visitor_jtis):
            if state.used_visitor_jtis[jti] + skew_s < now:
                del state.used_visitor_jtis[jti]
        for pass_id in list(state.last_granted):
            if state.last_granted[pass_id] + passback_s <= grant_now:
                del state.last_granted[pass_id]
        return state


class StatusView:
    """The status list the gate holds, with the time it was received (None: none held)."""

    def __init__(self, status_list: "sl.StatusList | None", received_at: "float | None" = None):
        self.status_list = status_list
        self.received_at = received_at


class Decision:
    def __init__(self) -> None:
        self.decision = DENIED
        self.reasons: "list[str]" = []
        self.pass_info: "pass_claims.PassInfo | None" = None
        self.status: "str | None" = None
        self.temperature: "dict[str, Any] | None" = None
        self.temperature_outcome: "str | None" = None
        self.alarms: "list[str]" = []
        self.state: "GateState | None" = None

    @property
    def granted(self) -> bool:
        return self.decision == GRANTED

    def add(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)

    def pass_dict(self) -> "dict[str, Any] | None":
        """The event's `pass` object: pass id, type, issuer, status; never a name."""
        info = self.pass_info
        if info is None:
            return None
        out: "dict[str, Any]" = {
            "id": info.pass_id,
            "type": info.pass_type,
            "issuer": info.issuer,
            "status": self.status,
            "expires": info.expires,
        }
        if info.unit is not None:
            out["unit"] = info.unit
        return out


def gate_is_open(policy: GatePolicy, state: GateState, now: float) -> bool:
    """False when the gate is closed by command or outside its opening hours (local time)."""
    if state.closed:
        return False
    if not policy.open_hours:
        return True
    minute = int(((now + policy.utc_offset_s) % DAY_S) // 60)
    for start, end in policy.open_hours:
        if start <= end:
            if start <= minute < end:
                return True
        elif minute >= start or minute < end:  # a window across midnight, e.g. 22:00-06:00
            return True
    return False


def _status_reasons(
    info: pass_claims.PassInfo, view: StatusView, policy: GatePolicy, now: float, d: Decision
) -> None:
    if info.status_idx is None:
        return  # a visitor pass without a status reference: nothing to look up
    held = view.status_list
    if held is None or held.uri != info.status_uri:
        d.status = "unknown"
        d.add(reasons.STATUS_UNKNOWN)
        return
    value = held.status(info.status_idx)
    if value is None:
        d.status = "unknown"
        d.add(reasons.STATUS_UNKNOWN)
        return
    d.status = sl.STATUS_NAMES.get(value, "unknown")
    if value == sl.REVOKED:
        d.add(reasons.PASS_REVOKED)
    elif value == sl.HOME_OBSERVATION:
        d.add(reasons.HOME_OBSERVATION)
    elif value == sl.CENTRALIZED_OBSERVATION:
        d.add(reasons.CENTRALIZED_OBSERVATION)
    if value in (sl.HOME_OBSERVATION, sl.CENTRALIZED_OBSERVATION) and policy.direction == "out":
        d.alarms.append(ALARM_QUARANTINE_BREACH)
    stale_since = held.stale_since(view.received_at)
    if stale_since is None or now < stale_since:
        return
    d.add(reasons.STATUS_LIST_STALE)
    # Within the grace, an otherwise valid resident is admitted with the flag; after it, or
    # for pass types without a grace, the status is no longer known.
    if info.pass_type not in policy.stale_grace_types or now - stale_since > policy.stale_grace_s:
        d.add(reasons.STATUS_UNKNOWN)


def _temperature_reasons(bodies: "list[Any]", policy: GatePolicy, d: Decision) -> None:
    outcome = temperature.assess(bodies, policy.temperature)
    d.temperature_outcome = outcome
    if outcome == temperature.FEVER:
        d.add(reasons.FEVER)
        d.alarms.append(ALARM_FEVER)
    elif outcome != temperature.NORMAL:
        # No plausible reading, or a high first reading never re-measured: never guessed.
        d.add(reasons.TEMPERATURE_UNAVAILABLE)


def decide(
    credential_reason: "str | None",
    claims: "Any",
    status: StatusView,
    bodies: "list[Any] | None",
    policy: GatePolicy,
    state: GateState,
    now: float,
    mono: "float | None" = None,
) -> Decision:
    """Decide one access.

    credential_reason: the first failure of signature verification, or None when the pass
        verified (then `claims` is its claims object).
    bodies: successive body-temperature readings (°C) of this visit; [] when measuring found
        no plausible reading; None when temperature was not measured (out gates, or a pass
        already refused so the holder is not kept waiting).
    mono: a monotonic time for intervals (passback); a wall clock stepped back must not make
        an earlier grant look recent. Without it `now` stamps grants.
    """
    d = Decision()
    grant_now = now if mono is None else mono
    state = state.pruned(now, policy.passback_s, policy.skew_s, mono)
    if not gate_is_open(policy, state, now):
        d.add(reasons.GATE_CLOSED)
    info = None
    if credential_reason is not None:
        d.add(
            credential_reason
            if credential_reason in reasons.CREDENTIAL_FAILURES
            else reasons.MALFORMED_PASS
        )
    else:
        info, found = pass_claims.check(
            claims,
            policy.community_id,
            policy.gate_id,
            now,
            policy.skew_s,
            state.used_visitor_jtis,
        )
        for reason in found:
            d.add(reason)
        d.pass_info = info
        if info is not None:
            _status_reasons(info, status, policy, now, d)
            last = state.last_granted.get(info.pass_id)
            if last is not None and grant_now - last < policy.passback_s:
                d.add(reasons.PASSBACK)
    if policy.measure_temperature and bodies is not None:
        _temperature_reasons(bodies, policy, d)
    if any(reasons.is_denying(r) for r in d.reasons):
        d.decision = DENIED
        d.state = state
        return d
    d.decision = GRANTED
    new_state = state.copy()
    if info is not None:
        new_state.last_granted[info.pass_id] = grant_now
        if info.pass_type == "visitor" and info.jti is not None:
            new_state.used_visitor_jtis[info.jti] = info.expires
    d.state = new_state
    return d
