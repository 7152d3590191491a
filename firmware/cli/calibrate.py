"""`gatekiosk calibrate`: fit the body-temperature model on site (DESIGN 2.3).

    gatekiosk calibrate record --config FILE --reference C [--samples N] [--out FILE] [--json]
    gatekiosk calibrate fit [--config FILE] [--points FILE] [--json]

`record` reads the thermometer N times (default 16) through the real driver while a person (or
a blackbody) faces it, and appends one point — median object, median ambient, the reference
core temperature a clinical thermometer measured, the time — to a CSV file (default
`<data_dir>/calibration.csv`). It refuses, in one line, when nobody is in range or the readings
are unsteady. `fit` fits `body = gain * object + ambient_slope * ambient + intercept` to the
points (firmware.core.calibration decides how much the points can fit) and prints the
`[temperature.model]` table to paste into the config, with the residuals. A fit whose
coefficients the config would refuse is refused.

A line of the CSV that starts with `#` is ignored: comment out a point to leave it out of the fit.
The points file and recording are `firmware.cli.calibration_points`; what a fit says,
`firmware.cli.calibration_fit`.

Exit 0 when a point was recorded or a model fitted; 1 when refused (nobody in range, unsteady,
a thermometer fault, no points, a fit out of bounds); 2 for bad arguments, configuration or
points file (one line on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
from collections.abc import Callable

from firmware import payloads
from firmware.cli.calibration_fit import MODES, fit_points, model_toml, note_text, refusal
from firmware.cli.calibration_points import (
    POINTS_FILE,
    check_inputs,
    points_path,
    read_points,
    record,
)
from firmware.cli.errors import ERROR_CHARS, Refused, UsageError
from firmware.cli.technician import count_in, quiet_logging
from firmware.clock import SystemClock
from firmware.config import Config, ConfigError, load
from firmware.errors import one_line

DEFAULT_SAMPLES = 16
MIN_SAMPLES = 4
MAX_SAMPLES = 200


# -- arguments --------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the record and fit actions."""
    actions = parser.add_subparsers(
        dest="calibrate_action", metavar="ACTION", parser_class=type(parser)
    )
    actions.required = True

    record = actions.add_parser(
        "record", help="take readings with a person in front and store one calibration point"
    )
    record.add_argument("--config", required=True, help="configuration file (TOML)")
    record.add_argument(
        "--reference",
        required=True,
        type=_finite_float,
        metavar="C",
        help="core temperature measured now with a clinical thermometer, °C",
    )
    record.add_argument(
        "--samples",
        type=count_in(MIN_SAMPLES, MAX_SAMPLES),
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"readings to take (default {DEFAULT_SAMPLES})",
    )
    record.add_argument("--out", help=f"points file (default <data_dir>/{POINTS_FILE})")
    record.add_argument("--json", action="store_true", help="print the point as JSON")
    record.set_defaults(_action=_record_main)

    fit = actions.add_parser("fit", help="fit the model to the recorded points")
    fit.add_argument("--config", help="configuration file (default: the built-in defaults)")
    fit.add_argument("--points", help=f"points file (default <data_dir>/{POINTS_FILE})")
    fit.add_argument("--json", action="store_true", help="print the fit as JSON")
    fit.set_defaults(_action=_fit_main)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


# -- record -----------------------------------------------------------------------------------


def _record_main(args: argparse.Namespace) -> int:
    from firmware import assemble
    from firmware.hw.thermometer import Thermometer, release_bus

    cfg = _load_config(args.config)
    out = points_path(cfg, args.out)
    check_inputs(cfg, args.reference, out)
    clock = SystemClock()
    # Driver libraries print warnings of their own (Blinka on an unknown board): stdout is
    # kept for what this command says.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            bus = assemble.open_thermometer_bus(cfg, clock)
        except Exception as exc:  # Blinka raises anything from ImportError to RuntimeError
            reason = one_line(exc, ERROR_CHARS)
            raise Refused(f"thermometer: cannot open the I2C bus: {reason}") from None
    if not args.json:
        sys.stdout.write(
            f"reading {args.samples} samples at {cfg.thermometer.sample_hz:g} Hz: "
            "hold still in front of the sensor...\n"
        )
        sys.stdout.flush()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            point, count = record(
                cfg,
                args.reference,
                args.samples,
                out,
                clock=clock,
                thermometer=Thermometer(bus, cfg.thermometer, clock),
            )
    finally:
        release_bus(bus)
    model_body = cfg.temperature.compensation_model().body(point.object_c, point.ambient_c)
    if args.json:
        document = {
            **dataclasses.asdict(point),
            "file": str(out),
            "points_in_file": count,
            "current_model_body_c": round(model_body, 2),
        }
        sys.stdout.write(json.dumps(document, sort_keys=True) + "\n")
        return 0
    sys.stdout.write(
        f"recorded point {count} in {out}: object {point.object_c:.2f} °C, ambient "
        f"{point.ambient_c:.2f} °C, reference {point.reference_c:.2f} °C "
        f"(spread {point.spread_c:.2f} °C)\n"
        f"the configured model reads {model_body:.2f} °C here "
        f"({model_body - point.reference_c:+.2f} °C)\n"
        "next: more people, and on colder and warmer days; then `gatekiosk calibrate fit`\n"
    )
    return 0


# -- fit --------------------------------------------------------------------------------------


def _fit_main(args: argparse.Namespace) -> int:
    cfg = _load_config(args.config) if args.config else Config()
    source = points_path(cfg, args.points)
    points, commented = read_points(source)
    result = fit_points(cfg, points)
    result.update(points_file=str(source), commented_out=commented, note_text=note_text(result))
    if not result["ok"]:
        raise Refused(refusal(result, source))
    stamp = payloads.iso_time(SystemClock().time())
    try:
        block = model_toml(result, stamp)
    except ConfigError as exc:
        raise Refused(f"the fitted model would not load: {exc}") from None
    if args.json:
        result["toml"] = block
        sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
        return 0
    skipped = f" ({commented} commented out)" if commented else ""
    out = sys.stdout
    out.write(f"points: {len(points)} used{skipped} from {source}\n")
    out.write(
        f"spread: ambient {result['ambient_spread_c']:.1f} °C, "
        f"object {result['object_spread_c']:.1f} °C\n"
    )
    out.write(f"fitted: {MODES[result['mode']]}\n")
    if result["note_text"]:
        out.write(f"note: {result['note_text']}\n")
    out.write(
        f"residuals: RMS {result['rms_c']:.2f} °C, max {result['max_abs_c']:.2f} °C "
        f"(configured model: RMS {result['current_rms_c']:.2f} °C, "
        f"max {result['current_max_abs_c']:.2f} °C)\n"
    )
    out.write("\npaste into the config file, replacing its [temperature.model] table:\n\n")
    out.write(block)
    return 0


# -- entry ------------------------------------------------------------------------------------


def _load_config(path: str) -> Config:
    try:
        return load(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def main(args: argparse.Namespace) -> int:
    """Run the chosen action: 0 done, 1 refused, 2 bad input; one line on stderr."""
    action: Callable[[argparse.Namespace], int] = args._action
    prefix = f"gatekiosk calibrate {args.calibrate_action}"
    with quiet_logging(False):
        try:
            return action(args)
        except UsageError as exc:
            sys.stderr.write(f"{prefix}: error: {exc}\n")
            return 2
        except Refused as exc:
            sys.stderr.write(f"{prefix}: refused: {exc}\n")
            return 1
        except Exception as exc:  # a bug still ends in one line, never a traceback
            sys.stderr.write(f"{prefix}: internal error: {one_line(exc, ERROR_CHARS)}\n")
            return 1
