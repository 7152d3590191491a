"""What the kiosk says at each step, in Chinese, English and Korean (the communities we serve
post notices in all three). Short: the screen is small and the person is walking.
"""

from firmware.core import reasons

LANGUAGES = ("zh", "en", "ko")

# Steps of a visit (not reason codes).
IDLE = "idle"
MEASURING = "measuring"
REMEASURE = "remeasure"
GRANTED = "granted"
DENIED = "denied"
EXIT = "exit"
REMOTE_OPEN = "remote_open"
FAULT = "fault"

STEPS = {
    IDLE: ("请出示通行码", "Show your pass code", "출입 코드를 보여 주세요"),
    MEASURING: (
        "请将额头靠近测温区",
        "Face the sensor for a temperature check",
        "이마를 센서에 가까이 대 주세요",
    ),
    REMEASURE: (
        "体温偏高，请再测一次",
        "Temperature high, measuring again",
        "체온이 높습니다. 다시 측정합니다",
    ),
    GRANTED: ("验证通过，请通行", "Welcome, please enter", "확인되었습니다. 들어가세요"),
    DENIED: ("禁止通行", "Entry denied", "통행할 수 없습니다"),
    EXIT: ("门已打开，请通行", "Door open, please go ahead", "문이 열렸습니다"),
    REMOTE_OPEN: ("门已远程打开", "Door opened remotely", "원격으로 문이 열렸습니다"),
    FAULT: (
        "设备故障，请联系物业",
        "Out of service, please call the property office",
        "고장입니다. 관리사무소에 연락하세요",
    ),
}

REASONS = {
    reasons.UNRECOGNIZED_CODE: (
        "无法识别的二维码",
        "Code not recognised",
        "인식할 수 없는 코드입니다",
    ),
    reasons.MALFORMED_PASS: ("通行码格式错误", "Invalid pass", "잘못된 출입증입니다"),
    reasons.UNSUPPORTED_ALGORITHM: ("通行码无效", "Invalid pass", "유효하지 않은 출입증입니다"),
    reasons.UNKNOWN_KEY: (
        "通行码无法验证",
        "Pass cannot be verified",
        "출입증을 확인할 수 없습니다",
    ),
    reasons.BAD_SIGNATURE: ("通行码无效", "Invalid pass", "유효하지 않은 출입증입니다"),
    reasons.WRONG_ISSUER: (
        "非本小区通行码",
        "Pass is for another community",
        "다른 단지의 출입증입니다",
    ),
    reasons.GATE_NOT_ALLOWED: (
        "此通行码不能走本门",
        "Pass not valid at this gate",
        "이 출입구에서 사용할 수 없습니다",
    ),
    reasons.PASS_NOT_YET_VALID: (
        "通行码尚未生效",
        "Pass not yet valid",
        "아직 유효하지 않은 출입증입니다",
    ),
    reasons.PASS_EXPIRED: ("通行码已过期", "Pass expired", "출입증이 만료되었습니다"),
    reasons.PASS_REVOKED: ("通行码已作废", "Pass revoked", "취소된 출입증입니다"),
    reasons.HOME_OBSERVATION: (
        "居家观察期间，请勿外出",
        "Home observation: you may not pass",
        "자가 관찰 중에는 통행할 수 없습니다",
    ),
    reasons.CENTRALIZED_OBSERVATION: (
        "集中观察人员，不能通行",
        "Centralized observation: you may not pass",
        "집중 관찰 대상은 통행할 수 없습니다",
    ),
    reasons.STATUS_UNKNOWN: (
        "健康状态未知，请联系物业",
        "Health status unknown, call the property office",
        "건강 상태를 알 수 없습니다. 관리사무소에 연락하세요",
    ),
    reasons.STATUS_LIST_STALE: (
        "健康状态数据未更新",
        "Health status data is out of date",
        "건강 상태 정보가 오래되었습니다",
    ),
    reasons.FEVER: (
        "体温异常，请在旁等候工作人员",
        "High temperature: please wait, staff will contact you",
        "체온이 높습니다. 잠시 기다려 주세요",
    ),
    reasons.TEMPERATURE_UNAVAILABLE: (
        "未测到体温，请靠近重试",
        "No temperature reading, come closer and retry",
        "체온을 측정하지 못했습니다. 가까이 와서 다시 시도하세요",
    ),
    reasons.VISITOR_PASS_REUSED: (
        "访客码已使用过",
        "Visitor pass already used",
        "이미 사용된 방문자 출입증입니다",
    ),
    reasons.PASSBACK: ("此通行码刚刚已使用", "Pass was just used", "방금 사용된 출입증입니다"),
    reasons.GATE_CLOSED: (
        "本门现已关闭",
        "This gate is closed now",
        "지금은 출입구가 닫혀 있습니다",
    ),
}

# When several reasons deny, the person is told the one they can act on first.
PRIORITY = (
    reasons.FEVER,
    reasons.CENTRALIZED_OBSERVATION,
    reasons.HOME_OBSERVATION,
    reasons.GATE_CLOSED,
    reasons.PASS_REVOKED,
    reasons.PASS_EXPIRED,
    reasons.PASS_NOT_YET_VALID,
    reasons.WRONG_ISSUER,
    reasons.GATE_NOT_ALLOWED,
    reasons.VISITOR_PASS_REUSED,
    reasons.PASSBACK,
    reasons.UNRECOGNIZED_CODE,
    reasons.MALFORMED_PASS,
    reasons.UNSUPPORTED_ALGORITHM,
    reasons.UNKNOWN_KEY,
    reasons.BAD_SIGNATURE,
    reasons.STATUS_UNKNOWN,
    reasons.TEMPERATURE_UNAVAILABLE,
    reasons.STATUS_LIST_STALE,
)


def _texts(triple: "tuple[str, str, str]") -> "dict[str, str]":
    return {LANGUAGES[i]: triple[i] for i in range(len(LANGUAGES))}


def for_step(step: str) -> "dict[str, str]":
    """The prompt for a step of the visit, by language."""
    return _texts(STEPS.get(step, STEPS[FAULT]))


def for_reason(reason: str) -> "dict[str, str]":
    return _texts(REASONS.get(reason, REASONS[reasons.MALFORMED_PASS]))


def main_reason(found: "list[str]") -> "str | None":
    """The denying reason to show first, or None when nothing denies."""
    for reason in PRIORITY:
        if reason in found and reasons.is_denying(reason):
            return reason
    for reason in found:
        if reasons.is_denying(reason):
            return reason
    return None


def for_decision(granted: bool, found: "list[str]") -> "dict[str, str]":
    """The prompt after a decision: welcome, or the one reason the person can act on."""
    if granted:
        return for_step(GRANTED)
    reason = main_reason(found)
    return for_reason(reason) if reason is not None else for_step(FAULT)


def check_complete() -> "list[str]":
    """Reason codes without a prompt (empty when every reason is covered)."""
    missing = [r for r in reasons.ALL if r not in REASONS or r not in PRIORITY]
    return missing + [k for k, v in list(STEPS.items()) + list(REASONS.items()) if len(v) != 3]
