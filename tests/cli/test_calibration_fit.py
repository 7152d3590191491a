"""The pure calibration fit: what the points can tell apart decides what is fitted."""

from __future__ import annotations

import random

import pytest

from firmware.core import calibration

BOUNDS = {"gain": (0.5, 1.5), "ambient_slope": (-1.0, 1.0), "intercept": (-10.0, 15.0)}


def points_from(gain, slope, intercept, pairs, noise=0.0, seed=0):
    """(object, ambient, reference) points on an exact model, optionally with noise."""
    rng = random.Random(seed)
    return [
        (o, a, gain * o + slope * a + intercept + (rng.gauss(0, noise) if noise else 0.0))
        for o, a in pairs
    ]


def independent_pairs(n, seed=1):
    """Object and ambient varied independently: every coefficient is identifiable."""
    rng = random.Random(seed)
    return [(rng.uniform(32.5, 36.5), rng.uniform(14.0, 31.0)) for _ in range(n)]


def test_full_fit_recovers_known_coefficients_exactly():
    pts = points_from(0.93, -0.21, 8.4, independent_pairs(12))
    result = calibration.fit(pts, 1.0, -0.186, BOUNDS)
    assert result["ok"] and result["mode"] == calibration.FULL and result["note"] is None
    assert result["gain"] == pytest.approx(0.93, abs=1e-9)
    assert result["ambient_slope"] == pytest.approx(-0.21, abs=1e-9)
    assert result["intercept"] == pytest.approx(8.4, abs=1e-7)
    assert result["rms_c"] == pytest.approx(0.0, abs=1e-9)
    assert result["max_abs_c"] == pytest.approx(0.0, abs=1e-9)
    assert result["points"] == 12


def test_ambient_fit_recovers_slope_and_intercept_with_gain_one():
    pts = points_from(1.0, -0.186, 6.81, independent_pairs(5))
    result = calibration.fit(pts, 0.8, 0.3, BOUNDS)
    assert result["ok"] and result["mode"] == calibration.AMBIENT
    assert result["note"] == calibration.FEW_POINTS_FOR_GAIN
    assert result["gain"] == 1.0
    assert result["ambient_slope"] == pytest.approx(-0.186, abs=1e-9)
    assert result["intercept"] == pytest.approx(6.81, abs=1e-8)


def test_noisy_points_give_the_least_squares_answer():
    pts = points_from(0.95, -0.15, 7.5, independent_pairs(40, seed=3), noise=0.05, seed=4)
    result = calibration.fit(pts, 1.0, -0.186, BOUNDS)
    assert result["mode"] == calibration.FULL
    assert result["gain"] == pytest.approx(0.95, abs=0.03)
    assert result["ambient_slope"] == pytest.approx(-0.15, abs=0.01)
    # Least squares: no other model has smaller squared residuals than the fitted one.
    best = sum(
        e * e
        for e in calibration.residuals(
            pts, result["gain"], result["ambient_slope"], result["intercept"]
        )
    )
    for dg, ds, dc in ((0.001, 0, 0), (0, 0.001, 0), (0, 0, 0.001), (-0.001, 0.001, 0)):
        moved = calibration.residuals(
            pts, result["gain"] + dg, result["ambient_slope"] + ds, result["intercept"] + dc
        )
        assert sum(e * e for e in moved) > best
    assert result["rms_c"] == pytest.approx(0.05, abs=0.02)


@pytest.mark.parametrize(
    ("pairs", "note"),
    [
        ([(34.0, 20.0), (35.0, 29.0)], calibration.FEW_POINTS),
        ([(34.0, 21.0), (34.5, 22.0), (35.0, 23.5), (35.2, 22.2)], calibration.NARROW_AMBIENT),
    ],
)
def test_intercept_only_keeps_configured_gain_and_slope(pairs, note):
    # The site's true model has another slope; the points cannot show it, so it is kept.
    pts = points_from(1.0, -0.25, 7.9, pairs)
    result = calibration.fit(pts, 0.97, -0.186, BOUNDS)
    assert result["ok"] and result["mode"] == calibration.INTERCEPT_ONLY
    assert result["note"] == note
    assert result["gain"] == 0.97 and result["ambient_slope"] == -0.186
    # The intercept centres the residuals of the kept gain and slope.
    mean = sum(calibration.residuals(pts, 0.97, -0.186, result["intercept"])) / len(pts)
    assert mean == pytest.approx(0.0, abs=1e-9)


def test_one_point_fits_the_intercept_through_it():
    result = calibration.fit([(34.6, 22.0, 36.9)], 1.0, -0.186, BOUNDS)
    assert result["mode"] == calibration.INTERCEPT_ONLY
    assert result["intercept"] == pytest.approx(36.9 - 34.6 + 0.186 * 22.0)
    assert result["rms_c"] == pytest.approx(0.0, abs=1e-12)


def test_narrow_object_spread_keeps_gain_one():
    pairs = [(34.5 + 0.05 * (i % 3), 15.0 + i) for i in range(10)]
    result = calibration.fit(points_from(1.0, -0.2, 7.0, pairs), 1.0, -0.186, BOUNDS)
    assert result["mode"] == calibration.AMBIENT and result["note"] == calibration.NARROW_OBJECT
    assert result["ambient_slope"] == pytest.approx(-0.2, abs=1e-9)


def test_object_moving_with_ambient_cannot_fit_the_gain():
    # Forehead warms exactly with the room: gain and slope trade off, so gain stays 1.0.
    pairs = [(30.0 + 0.25 * a, a) for a in (15.0, 17.0, 19.0, 21.0, 23.0, 25.0, 27.0, 29.0)]
    result = calibration.fit(points_from(1.0, -0.2, 7.0, pairs), 1.0, -0.186, BOUNDS)
    assert result["mode"] == calibration.AMBIENT and result["note"] == calibration.COLLINEAR
    assert result["gain"] == 1.0
    assert result["ambient_slope"] == pytest.approx(-0.2, abs=1e-9)


def test_out_of_bound_fits_are_refused_with_the_coefficient_named():
    # A reference thermometer read 10 °C high on the cold days: an impossible slope.
    pts = points_from(1.0, -1.6, 40.0, independent_pairs(5))
    result = calibration.fit(pts, 1.0, -0.186, BOUNDS)
    assert not result["ok"]
    assert result["reason"] == calibration.OUT_OF_BOUNDS
    assert result["bound"] == "ambient_slope"
    assert result["ambient_slope"] == pytest.approx(-1.6, abs=1e-9)  # shown, not used


def test_intercept_out_of_bounds_is_refused_too():
    result = calibration.fit([(20.0, 22.0, 37.0)], 1.0, -0.186, BOUNDS)
    assert result["reason"] == calibration.OUT_OF_BOUNDS and result["bound"] == "intercept"


def test_without_bounds_nothing_is_refused():
    pts = points_from(1.0, -1.6, 40.0, independent_pairs(5))
    assert calibration.fit(pts, 1.0, -0.186)["ok"]


@pytest.mark.parametrize(
    "bad",
    [
        (34.0, 22.0),
        (34.0, float("nan"), 36.8),
        (34.0, 22.0, float("inf")),
        ("34", 22.0, 36.8),
        (True, 22.0, 36.8),
        None,
    ],
)
def test_bad_points_get_a_reason_and_their_index(bad):
    result = calibration.fit([(34.0, 22.0, 36.8), bad], 1.0, -0.186, BOUNDS)
    assert not result["ok"]
    assert result["reason"] == calibration.BAD_POINT and result["bad_point"] == 1


def test_no_points_is_a_reason_not_an_exception():
    result = calibration.fit([], 1.0, -0.186, BOUNDS)
    assert not result["ok"] and result["reason"] == calibration.NO_POINTS


def test_solver_solves_and_reports_singular_systems():
    assert calibration.solve([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]) == pytest.approx([0.8, 1.4])
    solution = calibration.solve(
        [[0.0, 2.0, 1.0], [1.0, 1.0, 1.0], [4.0, 0.0, 3.0]], [7.0, 6.0, 13.0]
    )
    assert solution == pytest.approx([1.0, 2.0, 3.0])  # needs a row swap: first pivot is 0
    assert calibration.solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0]) is None
    assert calibration.solve([[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0]) is None
