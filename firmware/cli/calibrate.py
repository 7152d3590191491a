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

Exit 0 when a point was recorded or a model fitted; 1 when refused (nobody in range, unsteady,
a thermometer fault, no points, a fit out of bounds); 2 for bad arguments, configuration or
points file (one line on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware import payloads
from firmware.clock import Clock, SystemClock
from firmware.config import Config, ConfigError, ModelConfig, load, parse
from firmware.core import calibration
from firmware.errors import one_line

if TYPE_CHECKING:
    from firmware.hw.thermometer import Sample, Thermometer

DEFAULT_SAMPLES = 16
MIN_SAMPLES = 4
MAX_SAMPLES = 200
POINTS_FILE = "calibration.csv"
POINTS_FILE_MODE = 0o644
COLUMNS = ("time", "object_c", "ambient_c", "reference_c", "samples", "spread_c")
# A few failed reads in a recording are the bus's hiccups (Errno 121); more is a fault.
MAX_FAILED_FRACTION = 0.25
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


class UsageError(Exception):
    """Bad arguments, configuration or points file: one line, exit 2."""


class Refused(Exception):
    """The measurement or the fit is not good enough: one line, exit 1."""


@dataclass(frozen=True)
class Point:
    """One calibration point: medians of a recording and the reference core temperature."""

    time: str
    object_c: float
    ambient_c: float
    reference_c: float
    samples: int
    spread_c: float

    def as_tuple(self) -> tuple[float, float, float]:
        """(object_c, ambient_c, reference_c), as firmware.core.calibration takes them."""
        return (self.object_c, self.ambient_c, self.reference_c)


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
        type=_sample_count,
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


def _sample_count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not MIN_SAMPLES <= int(text) <= MAX_SAMPLES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number in {MIN_SAMPLES}..{MAX_SAMPLES}"
        )
    return int(text)


# -- the points file --------------------------------------------------------------------------


def points_path(cfg: Config, given: str | None) -> Path:
    """The points file: as given, or calibration.csv in the data directory."""
    return Path(given) if given else Path(cfg.device.data_dir) / POINTS_FILE


def read_points(path: Path) -> tuple[list[Point], int]:
    """The points in a CSV file and how many `#` lines were skipped. Raises UsageError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file (record points first)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    lines = text.splitlines()
    kept = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    commented = sum(1 for _, line in kept if line.lstrip().startswith("#"))
    rows = [(n, line) for n, line in kept if not line.lstrip().startswith("#")]
    if not rows:
        return [], commented
    header_number, header_line = rows[0]
    header = next(csv.reader([header_line]))
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise UsageError(
            f"{path} line {header_number}: not a calibration file (no {', '.join(missing)} column)"
        )
    points = []
    for number, line in rows[1:]:
        values = next(csv.reader([line]))
        if len(values) != len(header):
            raise UsageError(f"{path} line {number}: {len(values)} fields, not {len(header)}")
        row = dict(zip(header, values, strict=True))
        points.append(_point_from_row(row, f"{path} line {number}"))
    return points, commented


def _point_from_row(row: dict[str, str], where: str) -> Point:
    numbers: dict[str, float] = {}
    for name in ("object_c", "ambient_c", "reference_c", "spread_c"):
        try:
            value = float(row[name])
        except ValueError:
            raise UsageError(f"{where}: {name} {row[name]!r} is not a number") from None
        if not math.isfinite(value):
            raise UsageError(f"{where}: {name} {row[name]!r} is not a finite number")
        numbers[name] = value
    if not row["samples"].isdigit():
        raise UsageError(f"{where}: samples {row['samples']!r} is not a whole number")
    return Point(
        time=row["time"],
        object_c=numbers["object_c"],
        ambient_c=numbers["ambient_c"],
        reference_c=numbers["reference_c"],
        samples=int(row["samples"]),
        spread_c=numbers["spread_c"],
    )


def _csv_line(values: list[str] | tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


def append_point(path: Path, point: Point) -> int:
    """Append `point` (a header first in a new file), synced; returns how many points the
    file holds now. Raises UsageError when the file is not a points file, OSError on I/O."""
    existing = read_points(path)[0] if path.exists() else None
    row = (
        point.time,
        f"{point.object_c:.3f}",
        f"{point.ambient_c:.3f}",
        f"{point.reference_c:.2f}",
        str(point.samples),
        f"{point.spread_c:.3f}",
    )
    data = _csv_line(row)
    if existing is None:
        data = _csv_line(COLUMNS) + data
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, POINTS_FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return 1 if existing is None else len(existing) + 1


# -- record -----------------------------------------------------------------------------------


def take_reading(
    thermometer: Thermometer,
    clock: Clock,
    samples: int,
    sample_hz: float,
    max_spread_c: float,
    reference_c: float,
) -> Point:
    """`samples` reads at `sample_hz`; one point, or Refused with one line saying why."""
    from firmware.hw.thermometer import ThermometerFault

    good: list[Sample] = []
    faults: list[ThermometerFault] = []
    for index in range(samples):
        if index:
            clock.sleep(1.0 / sample_hz)
        try:
            good.append(thermometer.read())
        except ThermometerFault as error:
            faults.append(error)
    if len(faults) > samples * MAX_FAILED_FRACTION:
        last = faults[-1]
        raise Refused(
            f"thermometer: {len(faults)} of {samples} reads failed ({last.code}: {last.detail})"
        )
    away = sum(1 for s in good if not s.person_present)
    if away:
        raise Refused(
            f"no person in range in {away} of {len(good)} readings: hold the forehead in front "
            "of the sensor, still, and run it again"
        )
    objects = [s.object_c for s in good]
    ambients = [s.ambient_c for s in good]
    object_spread = calibration.spread(objects)
    if object_spread > max_spread_c:
        raise Refused(
            f"unsteady: object readings spread {object_spread:.2f} °C (more than "
            f"{max_spread_c:g}); hold still and run it again"
        )
    ambient_spread = calibration.spread(ambients)
    if ambient_spread > max_spread_c:
        raise Refused(
            f"unsteady: the sensor's own temperature moved {ambient_spread:.2f} °C; let the "
            "kiosk settle and run it again"
        )
    return Point(
        time=payloads.iso_time(clock.time()),
        object_c=statistics.median(objects),
        ambient_c=statistics.median(ambients),
        reference_c=reference_c,
        samples=len(good),
        spread_c=object_spread,
    )


def check_inputs(cfg: Config, reference_c: float, out: Path) -> None:
    """A plausible core temperature and a points file that can be written; UsageError."""
    t = cfg.temperature
    if not t.body_min_c <= reference_c <= t.body_max_c:
        raise UsageError(
            f"--reference {reference_c:g} is not a core temperature "
            f"({t.body_min_c:g}–{t.body_max_c:g} °C)"
        )
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such directory")
    if out.exists():
        read_points(out)  # refuses a file that is not a points file before anyone waits


def record(
    cfg: Config,
    reference_c: float,
    samples: int,
    out: Path,
    *,
    clock: Clock,
    thermometer: Thermometer,
) -> tuple[Point, int]:
    """Record one point into `out`; returns it and the file's point count now.

    Raises UsageError (bad reference, unusable file) or Refused (the measurement).
    """
    check_inputs(cfg, reference_c, out)
    t = cfg.temperature
    point = take_reading(
        thermometer, clock, samples, cfg.thermometer.sample_hz, t.max_spread_c, reference_c
    )
    try:
        count = append_point(out, point)
    except OSError as exc:
        raise UsageError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return point, count


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
            raise Refused(f"thermometer: cannot open the I2C bus: {one_line(exc, 240)}") from None
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
    from firmware.cli.selftest import quiet_logging

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
            sys.stderr.write(f"{prefix}: internal error: {one_line(exc, 240)}\n")
            return 1
