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
# The screen's own page when the firmware is not running (shown by the page itself).
OUT_OF_SERVICE = "out_of_service"

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
    FAULT: ("设备故障，暂停服务", "Out of service: device fault", "고장으로 서비스 중지"),
    OUT_OF_SERVICE: ("暂停服务", "Out of service", "서비스 중지"),
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
    reasons.FEVER: ("体温异常", "High temperature", "체온이 높습니다"),
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

# What to do next, in plain words: the line under the prompt on the screen, and the second
# sentence the voice says. Every step and every reason has one.
_CALL_OFFICE = (
    "请联系社区工作人员，电话见告示",
    "Please call the community office at the number on the notice",
    "안내문에 있는 번호로 관리사무소에 연락하세요",
)
_FRESH_CODE = (
    "请在小程序中重新打开通行码",
    "Open your pass again in the app for a fresh code",
    "앱에서 출입 코드를 다시 열어 주세요",
)

NEXT_STEPS = {
    IDLE: (
        "将二维码对准摄像头",
        "Hold the QR code up to the camera",
        "QR 코드를 카메라에 비춰 주세요",
    ),
    MEASURING: ("请保持不动", "Hold still for a moment", "잠시 움직이지 마세요"),
    REMEASURE: (
        "请后退一步，再靠近测温区",
        "Step back, then face the sensor again",
        "한 걸음 물러났다가 다시 센서를 보세요",
    ),
    GRANTED: ("门已打开，请推门进入", "The door is open: push to enter", "문이 열렸습니다. 밀고 들어가세요"),
    DENIED: _CALL_OFFICE,
    EXIT: ("请推门离开", "Push the door to leave", "문을 밀고 나가세요"),
    REMOTE_OPEN: ("请推门进入", "Push the door to enter", "문을 밀고 들어가세요"),
    FAULT: _CALL_OFFICE,
    OUT_OF_SERVICE: _CALL_OFFICE,
}

NEXT_FOR_REASON = {
    reasons.UNRECOGNIZED_CODE: (
        "请出示社区通行码，不是付款码",
        "Show your community pass code, not a payment code",
        "결제 코드가 아닌 단지 출입 코드를 보여 주세요",
    ),
    reasons.MALFORMED_PASS: _FRESH_CODE,
    reasons.UNSUPPORTED_ALGORITHM: _FRESH_CODE,
    reasons.UNKNOWN_KEY: _CALL_OFFICE,
    reasons.BAD_SIGNATURE: _FRESH_CODE,
    reasons.WRONG_ISSUER: (
        "请使用本小区发放的通行码",
        "Use the pass issued by this community",
        "이 단지에서 발급한 출입증을 사용하세요",
    ),
    reasons.GATE_NOT_ALLOWED: (
        "请走通行码允许的门",
        "Please use a gate your pass allows",
        "출입증에 허용된 출입구를 이용하세요",
    ),
    reasons.PASS_NOT_YET_VALID: (
        "请在通行码生效后再来",
        "Come back when your pass starts",
        "출입증 시작 시간 이후에 다시 오세요",
    ),
    reasons.PASS_EXPIRED: (
        "请在小程序中续期，或联系社区工作人员",
        "Renew your pass in the app, or call the community office",
        "앱에서 출입증을 갱신하거나 관리사무소에 연락하세요",
    ),
    reasons.PASS_REVOKED: _CALL_OFFICE,
    reasons.HOME_OBSERVATION: (
        "请回家，需要帮助请联系社区工作人员",
        "Please go back home; call the community office if you need help",
        "댁으로 돌아가 주세요. 도움이 필요하면 관리사무소에 연락하세요",
    ),
    reasons.CENTRALIZED_OBSERVATION: (
        "请在原地等候，工作人员会与您联系",
        "Please wait here; staff will contact you",
        "이 자리에서 기다려 주세요. 직원이 연락드립니다",
    ),
    reasons.STATUS_UNKNOWN: _CALL_OFFICE,
    reasons.STATUS_LIST_STALE: ("请通行", "Please go ahead", "들어가세요"),
    reasons.FEVER: (
        "请到一旁等候，已通知工作人员",
        "Please step aside and wait; staff have been notified",
        "옆에서 기다려 주세요. 직원에게 알렸습니다",
    ),
    reasons.TEMPERATURE_UNAVAILABLE: (
        "请摘下帽子，靠近测温区，再出示通行码",
        "Take off your hat, move closer to the sensor and show your code again",
        "모자를 벗고 센서에 가까이 와서 코드를 다시 보여 주세요",
    ),
    reasons.VISITOR_PASS_REUSED: (
        "请向邀请您的住户申请新的访客码",
        "Ask the resident who invited you for a new visitor pass",
        "초대한 주민에게 새 방문자 출입증을 요청하세요",
    ),
    reasons.PASSBACK: (
        "每人请使用自己的通行码",
        "Everyone must use their own pass",
        "각자 자신의 출입증을 사용하세요",
    ),
    reasons.GATE_CLOSED: (
        "请走其他开放的门，或联系社区工作人员",
        "Please use another gate, or call the community office",
        "다른 출입구를 이용하거나 관리사무소에 연락하세요",
    ),
}

# Labels on the screen beside the measured temperature and the pass type (never a name).
LABELS = {
    "temperature": ("体温", "Temperature", "체온"),
    "resident": ("住户", "Resident", "주민"),
    "visitor": ("访客", "Visitor", "방문자"),
    "staff": ("工作人员", "Staff", "직원"),
    "unit": ("房号", "Unit", "호수"),
}


def label(name: str) -> "dict[str, str]":
    """A screen label by language (empty texts for an unknown name)."""
    return _texts(LABELS.get(name, ("", "", "")))

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


def next_for_step(step: str) -> "dict[str, str]":
    """What to do next at a step of the visit, by language."""
    return _texts(NEXT_STEPS.get(step, NEXT_STEPS[FAULT]))


def next_for_reason(reason: str) -> "dict[str, str]":
    """What to do next after a refusal for `reason`, by language."""
    return _texts(NEXT_FOR_REASON.get(reason, _CALL_OFFICE))


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


def next_for_decision(granted: bool, found: "list[str]") -> "dict[str, str]":
    """What to do next after a decision: go in, or what the main reason asks of the person."""
    if granted:
        return next_for_step(GRANTED)
    reason = main_reason(found)
    return next_for_reason(reason) if reason is not None else next_for_step(FAULT)


def spoken(text: "dict[str, str]", next_step: "dict[str, str]", lang: str) -> str:
    """The sentence the voice says in `lang`: the prompt, then what to do next."""
    first = text.get(lang, "")
    second = next_step.get(lang, "")
    if not second or second == first:
        return first
    stop = "。" if lang == "zh" else ". "
    if first.endswith(("。", "！", ".", "!", ":")):
        stop = "" if lang == "zh" else " "
    return first + stop + second


# A prompt's key names its table and entry: "step.idle", "reason.fever". The voice's audio
# files and the screen's snapshots are keyed by it.


def all_keys() -> "list[str]":
    """Every prompt's key: each step, then each reason."""
    return ["step." + k for k in STEPS] + ["reason." + r for r in reasons.ALL]


def texts_for_key(key: str) -> "dict[str, str]":
    """The prompt of `key`, by language (the fault prompt for an unknown key)."""
    table, _, name = key.partition(".")
    if table == "reason" and name in REASONS:
        return for_reason(name)
    return for_step(name if table == "step" and name in STEPS else FAULT)


def next_for_key(key: str) -> "dict[str, str]":
    """What to do next after the prompt of `key`, by language."""
    table, _, name = key.partition(".")
    if table == "reason":
        return next_for_reason(name)
    return next_for_step(name if table == "step" else FAULT)


def key_for(text: "dict[str, str]") -> "str | None":
    """The key of the prompt whose texts are `text` (the first in table order), or None."""
    for key in all_keys():
        if texts_for_key(key) == text:
            return key
    return None


def check_complete() -> "list[str]":
    """Reason codes or steps without a prompt and a next step, in every language (empty when
    everything is covered)."""
    missing = [r for r in reasons.ALL if r not in REASONS or r not in PRIORITY]
    missing += [r for r in reasons.ALL if r not in NEXT_FOR_REASON]
    missing += [s for s in STEPS if s not in NEXT_STEPS]
    tables = list(STEPS.items()) + list(REASONS.items())
    tables += list(NEXT_STEPS.items()) + list(NEXT_FOR_REASON.items())
    return missing + [k for k, v in tables if len(v) != 3 or not all(v)]
