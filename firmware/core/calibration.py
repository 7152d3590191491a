"""Site calibration of the body-temperature model (DESIGN 2.3, `gatekiosk calibrate fit`).

The model is `body = gain * object + ambient_slope * ambient + intercept` (see
`firmware.core.temperature.CompensationModel`). A calibration point is one stable reading of
the sensor with the core temperature a clinical thermometer measured at the same moment:
`(object_c, ambient_c, reference_c)`. What a fit may change depends on what the points can
tell apart:

- fewer than 3 points, or the room temperature spread over less than 4 °C: only the
  intercept; gain and ambient slope are kept as configured (a slope needs rooms that differ);
- enough ambient spread: ambient slope and intercept by least squares, gain 1.0;
- 8 points or more whose object temperatures also spread over 1 °C: the gain too, unless
  object and ambient moved together so closely that gain and slope cannot be told apart.

The normal equations (2x2, 3x3) are written out by hand. Object and ambient are centred on
their means first: the sums stay small, which keeps the equations well conditioned even in
the single-precision floats of small MicroPython ports. Everything here is pure: plain lists
of tuples in, a plain dict out, stable reason codes instead of exceptions.
"""

from firmware.core.values import is_number

TYPE_CHECKING = False
if TYPE_CHECKING:  # MicroPython has no typing module; annotations below are strings
    from typing import Any

# What was fitted.
INTERCEPT_ONLY = "intercept"
AMBIENT = "ambient"
FULL = "full"

# Why a fit was refused (result["reason"]).
NO_POINTS = "no_points"
BAD_POINT = "bad_point"
SINGULAR = "singular"
OUT_OF_BOUNDS = "out_of_bounds"

# Why less was fitted than the points might suggest (result["note"]).
FEW_POINTS = "few_points"
NARROW_AMBIENT = "narrow_ambient"
FEW_POINTS_FOR_GAIN = "few_points_for_gain"
NARROW_OBJECT = "narrow_object"
COLLINEAR = "collinear"

MIN_POINTS_FOR_SLOPE = 3
MIN_AMBIENT_SPREAD_C = 4.0
MIN_POINTS_FOR_GAIN = 8
MIN_OBJECT_SPREAD_C = 1.0
# Squared correlation of object and ambient above which gain and slope are not separable: the
# data then fit any trade between them, and the solution is decided by noise.
MAX_CORRELATION_SQUARED = 0.98
# A pivot this small relative to the matrix's largest entry means a singular system.
PIVOT_EPSILON = 1e-9

COEFFICIENTS = ("gain", "ambient_slope", "intercept")



def first_bad_point(points: "list[Any]") -> int:
    """Index of the first point that is not three finite numbers, or -1 when all are."""
    for index, point in enumerate(points):
        if not isinstance(point, (tuple, list)) or len(point) != 3:
            return index
        for value in point:
            if not is_number(value):
                return index
    return -1


def spread(values: "list[float]") -> float:
    """max - min, 0.0 for no values."""
    if not values:
        return 0.0
    return max(values) - min(values)


def _mean(values: "list[float]") -> float:
    return sum(values) / len(values)


def residuals(
    points: "list[tuple[float, float, float]]", gain: float, ambient_slope: float, intercept: float
) -> "list[float]":
    """reference - model body temperature, per point."""
    return [r - (gain * o + ambient_slope * a + intercept) for o, a, r in points]


def solve(matrix: "list[list[float]]", rhs: "list[float]") -> "list[float] | None":
    """Solve a small square system by Gaussian elimination with partial pivoting.

    Returns None for a singular (or numerically singular) system. The inputs are not changed.
    """
    n = len(rhs)
    rows = []
    for i in range(n):
        row = list(matrix[i])
        row.append(rhs[i])  # the augmented column
        rows.append(row)
    scale = 0.0
    for row in rows:
        for value in row[:n]:
            scale = max(scale, abs(value))
    if scale == 0.0:
        return None
    for col in range(n):
        pivot = col
        for row_index in range(col + 1, n):
            if abs(rows[row_index][col]) > abs(rows[pivot][col]):
                pivot = row_index
        if abs(rows[pivot][col]) <= PIVOT_EPSILON * scale:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for row_index in range(col + 1, n):
            factor = rows[row_index][col] / rows[col][col]
            for k in range(col, n + 1):
                rows[row_index][k] -= factor * rows[col][k]
    solution = [0.0] * n
    for col in range(n - 1, -1, -1):
        total = rows[col][n]
        for k in range(col + 1, n):
            total -= rows[col][k] * solution[k]
        solution[col] = total / rows[col][col]
    return solution


def fit_intercept(
    points: "list[tuple[float, float, float]]", gain: float, ambient_slope: float
) -> float:
    """The intercept that centres the residuals, gain and slope held fixed."""
    return _mean([r - gain * o - ambient_slope * a for o, a, r in points])


def fit_ambient(points: "list[tuple[float, float, float]]") -> "tuple[float, float] | None":
    """(ambient_slope, intercept) with gain 1.0: least squares of reference - object on ambient.

    Normal equations in the centred ambient x = a - mean(a), target y = r - o:
        [ Sxx  Sx ] [slope]   [ Sxy ]
        [ Sx   n  ] [c'   ] = [ Sy  ]        intercept = c' - slope * mean(a)
    """
    n = float(len(points))
    mean_a = _mean([a for _, a, _ in points])
    sxx = sx = sxy = sy = 0.0
    for o, a, r in points:
        x = a - mean_a
        y = r - o
        sxx += x * x
        sx += x
        sxy += x * y
        sy += y
    solution = solve([[sxx, sx], [sx, n]], [sxy, sy])
    if solution is None:
        return None
    slope, centred_intercept = solution
    return slope, centred_intercept - slope * mean_a


def fit_full(
    points: "list[tuple[float, float, float]]",
) -> "tuple[float, float, float] | None":
    """(gain, ambient_slope, intercept) by least squares of reference on object and ambient.

    Normal equations in the centred u = o - mean(o), v = a - mean(a), target r:
        [ Suu  Suv  Su ] [gain ]   [ Sur ]
        [ Suv  Svv  Sv ] [slope] = [ Svr ]     intercept = c' - gain * mean(o)
        [ Su   Sv   n  ] [c'   ]   [ Sr  ]                    - slope * mean(a)
    """
    n = float(len(points))
    mean_o = _mean([o for o, _, _ in points])
    mean_a = _mean([a for _, a, _ in points])
    suu = suv = su = svv = sv = sur = svr = sr = 0.0
    for o, a, r in points:
        u = o - mean_o
        v = a - mean_a
        suu += u * u
        suv += u * v
        su += u
        svv += v * v
        sv += v
        sur += u * r
        svr += v * r
        sr += r
    solution = solve([[suu, suv, su], [suv, svv, sv], [su, sv, n]], [sur, svr, sr])
    if solution is None:
        return None
    gain, slope, centred_intercept = solution
    return gain, slope, centred_intercept - gain * mean_o - slope * mean_a


def correlation_squared(points: "list[tuple[float, float, float]]") -> float:
    """Squared correlation of object and ambient over the points (0.0 if either is constant)."""
    mean_o = _mean([o for o, _, _ in points])
    mean_a = _mean([a for _, a, _ in points])
    suu = svv = suv = 0.0
    for o, a, _ in points:
        u = o - mean_o
        v = a - mean_a
        suu += u * u
        svv += v * v
        suv += u * v
    if suu == 0.0 or svv == 0.0:
        return 0.0
    return (suv * suv) / (suu * svv)


def _choose_mode(
    points: "list[tuple[float, float, float]]", ambient_spread: float, object_spread: float
) -> "tuple[str, str | None]":
    n = len(points)
    if n < MIN_POINTS_FOR_SLOPE:
        return INTERCEPT_ONLY, FEW_POINTS
    if ambient_spread < MIN_AMBIENT_SPREAD_C:
        return INTERCEPT_ONLY, NARROW_AMBIENT
    if n < MIN_POINTS_FOR_GAIN:
        return AMBIENT, FEW_POINTS_FOR_GAIN
    if object_spread < MIN_OBJECT_SPREAD_C:
        return AMBIENT, NARROW_OBJECT
    if correlation_squared(points) > MAX_CORRELATION_SQUARED:
        return AMBIENT, COLLINEAR
    return FULL, None


def out_of_bounds(
    coefficients: "dict[str, float]", bounds: "dict[str, tuple[float, float]]"
) -> "str | None":
    """The first coefficient outside its (inclusive) bounds, or None."""
    for name in COEFFICIENTS:
        if name not in bounds or name not in coefficients:
            continue
        low, high = bounds[name]
        value = coefficients[name]
        if not is_number(value) or value < low or value > high:
            return name
    return None


def fit(
    points: "list[tuple[float, float, float]]",
    gain: float,
    ambient_slope: float,
    bounds: "dict[str, tuple[float, float]] | None" = None,
) -> "dict[str, Any]":
    """Fit the model to `points` (object_c, ambient_c, reference_c).

    `gain` and `ambient_slope` are the configured values, kept when the points cannot fit them.
    `bounds` maps coefficient names to the (low, high) a configuration accepts.

    Returns a dict: ok, reason (None or NO_POINTS, BAD_POINT, SINGULAR, OUT_OF_BOUNDS), mode
    (INTERCEPT_ONLY, AMBIENT, FULL), note (why less was fitted, or None), gain,
    ambient_slope, intercept, points, ambient_spread_c, object_spread_c, rms_c, max_abs_c
    (residuals of the fitted model), bad_point (index) and bound (the coefficient outside
    its bounds) where they apply.
    """
    result = {
        "ok": False,
        "reason": None,
        "mode": None,
        "note": None,
        "gain": None,
        "ambient_slope": None,
        "intercept": None,
        "points": len(points),
        "ambient_spread_c": None,
        "object_spread_c": None,
        "rms_c": None,
        "max_abs_c": None,
        "bad_point": None,
        "bound": None,
    }  # type: dict[str, Any]
    if not points:
        result["reason"] = NO_POINTS
        return result
    bad = first_bad_point(points)
    if bad >= 0:
        result["reason"] = BAD_POINT
        result["bad_point"] = bad
        return result
    clean = [(float(o), float(a), float(r)) for o, a, r in points]
    ambient_spread = spread([a for _, a, _ in clean])
    object_spread = spread([o for o, _, _ in clean])
    result["ambient_spread_c"] = ambient_spread
    result["object_spread_c"] = object_spread
    mode, note = _choose_mode(clean, ambient_spread, object_spread)

    coefficients = None  # type: tuple[float, float, float] | None
    if mode == FULL:
        coefficients = fit_full(clean)
    elif mode == AMBIENT:
        pair = fit_ambient(clean)
        if pair is not None:
            coefficients = (1.0, pair[0], pair[1])
    else:
        coefficients = (gain, ambient_slope, fit_intercept(clean, gain, ambient_slope))
    result["mode"] = mode
    result["note"] = note
    if coefficients is None:
        result["reason"] = SINGULAR
        return result

    fitted_gain, fitted_slope, fitted_intercept = coefficients
    result["gain"] = fitted_gain
    result["ambient_slope"] = fitted_slope
    result["intercept"] = fitted_intercept
    errors = residuals(clean, fitted_gain, fitted_slope, fitted_intercept)
    result["rms_c"] = (_mean([e * e for e in errors])) ** 0.5
    result["max_abs_c"] = max([abs(e) for e in errors])
    if bounds is not None:
        outside = out_of_bounds(
            {"gain": fitted_gain, "ambient_slope": fitted_slope, "intercept": fitted_intercept},
            bounds,
        )
        if outside is not None:
            result["reason"] = OUT_OF_BOUNDS
            result["bound"] = outside
            return result
    result["ok"] = True
    return result
