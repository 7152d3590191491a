"""The calibration points file and how a point is recorded into it.

A CSV file (default `<data_dir>/calibration.csv`) with the columns of `COLUMNS`, one point a
row: the median object and ambient temperatures of a recording, the reference core temperature
a clinical thermometer measured, the time, the sample count and the object readings' spread.
A line that starts with `#` is ignored: comment out a point to leave it out of the fit.
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from firmware import payloads
from firmware.cli.errors import Refused, UsageError
from firmware.cli.technician import read_samples
from firmware.clock import Clock
from firmware.config import Config
from firmware.core import calibration

if TYPE_CHECKING:
    from firmware.hw.thermometer import Thermometer

POINTS_FILE = "calibration.csv"
POINTS_FILE_MODE = 0o644
COLUMNS = ("time", "object_c", "ambient_c", "reference_c", "samples", "spread_c")
# A few failed reads in a recording are the bus's hiccups (Errno 121); more is a fault.
MAX_FAILED_FRACTION = 0.25


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


# -- the file ---------------------------------------------------------------------------------


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
    good, faults = read_samples(thermometer, clock, samples, sample_hz)
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
