"""Temperature rules (DESIGN 2.3): body temperature from the IR sensor's object and ambient
readings, plausibility, a stable reading from a window of samples, and the fever threshold.

The MLX90614 sees forehead skin, which reads below core temperature by an amount that grows as
the room gets colder. The compensation is a calibrated linear model,
    body = gain * object + ambient_slope * ambient + intercept,
whose constants come from configuration (`gatekiosk calibrate` fits them on site).
"""

from firmware.core.values import is_number

TYPE_CHECKING = False
if TYPE_CHECKING:  # MicroPython has no typing module; annotations below are strings
    pass

NORMAL = "normal"
FEVER = "fever"
REMEASURE = "remeasure"
UNAVAILABLE = "unavailable"


class CompensationModel:
    """Linear skin-to-core model. Defaults: one published MLX90614 forehead fit
    (core - forehead ~ -0.186 * Ta + 6.81 °C); a site calibration replaces them."""

    def __init__(self, gain: float = 1.0, ambient_slope: float = -0.186, intercept: float = 6.81):
        self.gain = gain
        self.ambient_slope = ambient_slope
        self.intercept = intercept

    def body(self, object_c: float, ambient_c: float) -> float:
        return self.gain * object_c + self.ambient_slope * ambient_c + self.intercept


class TemperaturePolicy:
    """Thresholds and windows; every value is configurable, defaults are DESIGN 2.3's."""

    def __init__(
        self,
        threshold_c: float = 37.3,
        confirm_fever: bool = True,
        body_min_c: float = 34.0,
        body_max_c: float = 42.5,
        ambient_min_c: float = 0.0,
        ambient_max_c: float = 50.0,
        window_s: float = 1.0,
        min_samples: int = 3,
        max_spread_c: float = 0.3,
    ) -> None:
        self.threshold_c = threshold_c
        self.confirm_fever = confirm_fever
        self.body_min_c = body_min_c
        self.body_max_c = body_max_c
        self.ambient_min_c = ambient_min_c
        self.ambient_max_c = ambient_max_c
        self.window_s = window_s
        self.min_samples = min_samples
        self.max_spread_c = max_spread_c


class Reading:
    """One stable measurement: medians over the samples that made it."""

    def __init__(self, object_c: float, ambient_c: float, body_c: float, samples: int, t: float):
        self.object_c = object_c
        self.ambient_c = ambient_c
        self.body_c = body_c
        self.samples = samples
        self.t = t


def centi(value: float) -> int:
    """Hundredths of a degree, rounded half away from zero: the unit every comparison uses.

    The sensor's resolution is 0.02 °C, so 37.3 itself is not representable (37.29 -> 37.31);
    comparing in integer hundredths keeps 37.29 below and 37.30 at the threshold regardless of
    floating-point noise in the compensation.
    """
    scaled = value * 100.0
    return int(scaled + 0.5) if scaled >= 0 else -int(-scaled + 0.5)


def is_fever(body_c: float, threshold_c: float) -> bool:
    """Screening standards word the alarm as "reaches or exceeds": >=."""
    return centi(body_c) >= centi(threshold_c)


def _median(values: "list[float]") -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    if n % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2.0



def stable_reading(
    samples: "list[tuple[float, float, float]]",
    now: float,
    model: CompensationModel,
    policy: TemperaturePolicy,
) -> "Reading | None":
    """A stable reading from timed samples (t, object_c, ambient_c), or None.

    Only samples within `window_s` before `now` count; an implausible sample (ambient outside
    the sensor's valid range, body outside the physiological window, NaN) is dropped. At least
    `min_samples` of the most recent plausible samples must agree within `max_spread_c`.
    """
    plausible = []
    for sample in samples:
        if len(sample) != 3:
            continue
        t, object_c, ambient_c = sample
        if not (is_number(t) and is_number(object_c) and is_number(ambient_c)):
            continue
        if t > now or t < now - policy.window_s:
            continue
        if not (policy.ambient_min_c <= ambient_c <= policy.ambient_max_c):
            continue
        body = model.body(object_c, ambient_c)
        if not (policy.body_min_c <= body <= policy.body_max_c):
            continue
        plausible.append((t, object_c, ambient_c, body))
    if len(plausible) < policy.min_samples:
        return None
    plausible.sort()
    recent = plausible[-policy.min_samples :]
    bodies = [s[3] for s in recent]
    if max(bodies) - min(bodies) > policy.max_spread_c:
        return None
    return Reading(
        _median([s[1] for s in recent]),
        _median([s[2] for s in recent]),
        _median(bodies),
        len(recent),
        recent[-1][0],
    )


def assess(bodies: "list[float]", policy: TemperaturePolicy) -> str:
    """NORMAL, FEVER, REMEASURE or UNAVAILABLE for successive body readings at one visit.

    A first reading at or above the threshold is re-measured once after a prompt; fever is
    decided only when the re-measurement also reads at or above it (when `confirm_fever`).
    Readings outside the physiological window count as no reading: never guessed.
    """
    usable = [b for b in bodies if is_number(b) and policy.body_min_c <= b <= policy.body_max_c]
    if len(usable) != len(bodies) or not usable:
        return UNAVAILABLE
    first = usable[0]
    if not is_fever(first, policy.threshold_c):
        return NORMAL
    if not policy.confirm_fever:
        return FEVER
    if len(usable) < 2:
        return REMEASURE
    return FEVER if is_fever(usable[1], policy.threshold_c) else NORMAL


# The room where the compensation model holds well (FIELD-NOTES: warn outside 16-32 °C).
ROOM_LOW_C = 16.0
ROOM_HIGH_C = 32.0


def ambient_warning(
    ambient_c: float, low_c: float = ROOM_LOW_C, high_c: float = ROOM_HIGH_C
) -> bool:
    """True when the room is outside the range where the compensation model holds well."""
    return ambient_c < low_c or ambient_c > high_c
