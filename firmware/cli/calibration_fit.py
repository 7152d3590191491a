"""What `gatekiosk calibrate fit` makes of the points: the fit within the bounds the config
accepts, the residuals of the configured model beside it, the `[temperature.model]` table to
paste, and the sentences for a refusal or a fit that changed less than it might have.

The fitting maths is firmware.core.calibration.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from firmware.cli.calibration_points import Point
from firmware.config import Config, ModelConfig, parse
from firmware.core import calibration

DECIMALS = 4

NOTES = {
    calibration.FEW_POINTS: (
        "fewer than {slope_points} points: only the intercept is fitted; gain and "
        "ambient_slope kept from the config"
    ),
    calibration.NARROW_AMBIENT: (
        "the rooms spread {ambient_spread:.1f} °C, less than {ambient_needed:g} °C: only the "
        "intercept is fitted; gain and ambient_slope kept from the config (record points on a "
        "colder and a warmer day to fit the slope)"
    ),
    calibration.FEW_POINTS_FOR_GAIN: (
        "fewer than {gain_points} points: gain 1.0; ambient_slope and intercept fitted"
    ),
    calibration.NARROW_OBJECT: (
        "object temperatures spread {object_spread:.1f} °C, less than {object_needed:g} °C: "
        "gain 1.0; ambient_slope and intercept fitted"
    ),
    calibration.COLLINEAR: (
        "object and ambient rose and fell together, so gain and slope cannot be told apart: "
        "gain 1.0; ambient_slope and intercept fitted"
    ),
}
MODES = {
    calibration.INTERCEPT_ONLY: "intercept",
    calibration.AMBIENT: "ambient_slope and intercept (gain 1.0)",
    calibration.FULL: "gain, ambient_slope and intercept",
}


def model_bounds() -> dict[str, tuple[float, float]]:
    """The range the config accepts for each model coefficient (firmware/config.py)."""
    return {
        f.name: (float(f.metadata["low"]), float(f.metadata["high"]))
        for f in dataclasses.fields(ModelConfig)
    }


def model_toml(result: dict[str, Any], stamp: str) -> str:
    """The `[temperature.model]` table for a successful fit, checked to load as config."""
    text = (
        "[temperature.model]\n"
        f"# fitted by `gatekiosk calibrate fit` at {stamp} from {result['points']} points: "
        f"RMS {result['rms_c']:.2f} °C, max {result['max_abs_c']:.2f} °C\n"
        f"gain = {result['gain']:.{DECIMALS}f}\n"
        f"ambient_slope = {result['ambient_slope']:.{DECIMALS}f}\n"
        f"intercept = {result['intercept']:.{DECIMALS}f}\n"
    )
    parse(text, "the fitted [temperature.model]")  # raises ConfigError if it would not load
    return text


def refusal(result: dict[str, Any], source: Path) -> str:
    """One line on why `calibration.fit` refused."""
    reason = result["reason"]
    if reason == calibration.NO_POINTS:
        return f"no points in {source}: record some with `gatekiosk calibrate record`"
    if reason == calibration.SINGULAR:
        return "the points cannot determine the model (all at the same temperatures?)"
    if reason == calibration.OUT_OF_BOUNDS:
        name = result["bound"]
        low, high = model_bounds()[name]
        return (
            f"{name} {result[name]:.4f} is outside {low:g}..{high:g}, which the config refuses: "
            "look for a point with a wrong reference, comment it out and fit again"
        )
    return f"the points in {source} are not usable ({reason})"


def note_text(result: dict[str, Any]) -> str | None:
    """Why the fit changed less than it might have, as a sentence."""
    template = NOTES.get(result["note"])
    if template is None:
        return None
    return template.format(
        slope_points=calibration.MIN_POINTS_FOR_SLOPE,
        gain_points=calibration.MIN_POINTS_FOR_GAIN,
        ambient_spread=result["ambient_spread_c"] or 0.0,
        ambient_needed=calibration.MIN_AMBIENT_SPREAD_C,
        object_spread=result["object_spread_c"] or 0.0,
        object_needed=calibration.MIN_OBJECT_SPREAD_C,
    )


def fit_points(cfg: Config, points: list[Point]) -> dict[str, Any]:
    """Fit, with the config's current model for what is kept and for comparison."""
    m = cfg.temperature.model
    tuples = [p.as_tuple() for p in points]
    result = calibration.fit(tuples, m.gain, m.ambient_slope, model_bounds())
    if tuples:
        current = calibration.residuals(tuples, m.gain, m.ambient_slope, m.intercept)
        result["current_rms_c"] = math.sqrt(sum(e * e for e in current) / len(current))
        result["current_max_abs_c"] = max(abs(e) for e in current)
    return result
