"""Stable reason codes (DESIGN 2.3). They appear in events, prompts and logs; never rename one."""

UNRECOGNIZED_CODE = "unrecognized_code"
MALFORMED_PASS = "malformed_pass"
UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
WRONG_ISSUER = "wrong_issuer"
GATE_NOT_ALLOWED = "gate_not_allowed"
PASS_NOT_YET_VALID = "pass_not_yet_valid"
PASS_EXPIRED = "pass_expired"
PASS_REVOKED = "pass_revoked"
HOME_OBSERVATION = "home_observation"
CENTRALIZED_OBSERVATION = "centralized_observation"
STATUS_UNKNOWN = "status_unknown"
STATUS_LIST_STALE = "status_list_stale"
FEVER = "fever"
TEMPERATURE_UNAVAILABLE = "temperature_unavailable"
VISITOR_PASS_REUSED = "visitor_pass_reused"
PASSBACK = "passback"
GATE_CLOSED = "gate_closed"

ALL = (
    UNRECOGNIZED_CODE,
    MALFORMED_PASS,
    UNSUPPORTED_ALGORITHM,
    UNKNOWN_KEY,
    BAD_SIGNATURE,
    WRONG_ISSUER,
    GATE_NOT_ALLOWED,
    PASS_NOT_YET_VALID,
    PASS_EXPIRED,
    PASS_REVOKED,
    HOME_OBSERVATION,
    CENTRALIZED_OBSERVATION,
    STATUS_UNKNOWN,
    STATUS_LIST_STALE,
    FEVER,
    TEMPERATURE_UNAVAILABLE,
    VISITOR_PASS_REUSED,
    PASSBACK,
    GATE_CLOSED,
)

# A flag is recorded with the decision but does not deny on its own. Every other reason denies.
FLAGS = (STATUS_LIST_STALE,)


def is_denying(reason: str) -> bool:
    """True when `reason` alone is enough to keep the door shut."""
    return reason not in FLAGS


# Credential failures, in the order they are checked: the first one found ends verification.
CREDENTIAL_FAILURES = (
    UNRECOGNIZED_CODE,
    MALFORMED_PASS,
    UNSUPPORTED_ALGORITHM,
    UNKNOWN_KEY,
    BAD_SIGNATURE,
)
