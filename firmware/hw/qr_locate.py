"""Where a QR code probably is in a frame, and the image operations the reading pipeline uses.

`Region` is an axis-aligned box in frame pixels. `locate_code` finds the most code-like patch
of a frame cheaply, on a copy a quarter of the size or smaller: a QR symbol is a square of
dense edges in both directions, where most of an entrance hall's texture (blinds, lines of
text, door frames) has edges in one direction only. It is a guess, not a detection: a wrong
guess only costs the time of one cropped decoding attempt.

The image operations (crop with scaling, unsharp masking, contrast stretch) use OpenCV, whose
filters measured about twice as fast as Pillow's on the frames the kiosk sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

    GrayFrame = npt.NDArray[np.uint8]

# The locator works on a copy at most this wide (a 1280-pixel frame is looked at 1/8 scale).
LOCATOR_WIDTH_PX = 160
# A patch is code-like when its weaker-direction edge energy (mean absolute luma step of the
# downscaled copy) reaches this; an empty wall or a blurred hall stays below it.
LOCATOR_MIN_ENERGY = 6.0

# The locator's box is grown by this fraction of its side (the quiet zone has no edges).
LOCATOR_MARGIN = 0.15

cv2.setNumThreads(1)  # the reader runs on one thread; the gate loop and MQTT need the other core


@dataclass(frozen=True)
class Region:
    """An axis-aligned box in frame pixels: columns x0..x1, rows y0..y1 (end exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        """Area in pixels."""
        return max(0, self.width) * max(0, self.height)

    def grown(self, fraction: float, shape: tuple[int, ...]) -> Region:
        """This box grown by `fraction` of its larger side on every edge, clipped to `shape`."""
        pad = round(fraction * max(self.width, self.height))
        height, width = shape[:2]
        return Region(
            max(0, self.x0 - pad), max(0, self.y0 - pad),
            min(width, self.x1 + pad), min(height, self.y1 + pad),
        )

    def overlap(self, other: Region) -> float:
        """Area shared with `other`, as a fraction of the smaller of the two."""
        width = min(self.x1, other.x1) - max(self.x0, other.x0)
        height = min(self.y1, other.y1) - max(self.y0, other.y0)
        smaller = min(self.area, other.area)
        if width <= 0 or height <= 0 or smaller == 0:
            return 0.0
        return width * height / smaller


def region_of_points(points: list[tuple[int, int]]) -> Region:
    """The box around a symbol's corner points."""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return Region(min(xs), min(ys), max(xs) + 1, max(ys) + 1)


def locate_code(gray: GrayFrame) -> Region | None:
    """The most code-like patch of `gray`, or None when nothing in it looks like a code."""
    height, width = gray.shape
    step = max(1, width // LOCATOR_WIDTH_PX)
    small = cv2.resize(
        gray, (width // step, height // step), interpolation=cv2.INTER_AREA
    ).astype(np.float32)
    across = np.abs(np.diff(small, axis=1))[:-1, :]
    down = np.abs(np.diff(small, axis=0))[:, :-1]
    window = max(3, small.shape[1] // 16) | 1
    energy = np.minimum(cv2.blur(across, (window, window)), cv2.blur(down, (window, window)))
    peak = float(energy.max())
    if peak < LOCATOR_MIN_ENERGY:
        return None
    row, col = np.unravel_index(int(np.argmax(energy)), energy.shape)
    strong = energy >= 0.5 * peak
    left, right = _run_around(strong[row, :], int(col))
    top, bottom = _run_around(strong[:, col], int(row))
    # The energy map is the code's box blurred by the window: its half-height run is about
    # the code's side; take the larger extent, since a tilted code is narrower one way.
    half = max(right - left, bottom - top, window) / 2.0 + 1.0
    centre_x, centre_y = (left + right) / 2.0 + 0.5, (top + bottom) / 2.0 + 0.5
    box = Region(
        round((centre_x - half) * step), round((centre_y - half) * step),
        round((centre_x + half) * step), round((centre_y + half) * step),
    )
    # Grown for the quiet zone, which has no edges and so no energy.
    return box.grown(LOCATOR_MARGIN, gray.shape)


def _run_around(line: npt.NDArray[np.bool_], index: int) -> tuple[int, int]:
    """First and last index of the run of True values in `line` that contains `index`."""
    start = index
    while start > 0 and line[start - 1]:
        start -= 1
    end = index
    while end < len(line) - 1 and line[end + 1]:
        end += 1
    return start, end


def crop(gray: GrayFrame, region: Region, scale: float = 1.0) -> GrayFrame:
    """The part of `gray` inside `region`, resized by `scale` (bicubic when enlarging)."""
    part = gray[region.y0 : region.y1, region.x0 : region.x1]
    if abs(scale - 1.0) < 1e-3:
        return np.ascontiguousarray(part)
    size = (max(1, round(part.shape[1] * scale)), max(1, round(part.shape[0] * scale)))
    interpolation = cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_AREA
    return np.asarray(cv2.resize(part, size, interpolation=interpolation), dtype=np.uint8)


def unsharp(gray: GrayFrame, sigma_px: float, amount: float) -> GrayFrame:
    """Unsharp masking: the image plus `amount` times its difference from a gaussian blur."""
    blurred = cv2.GaussianBlur(gray, (0, 0), sigma_px)
    return np.asarray(cv2.addWeighted(gray, 1.0 + amount, blurred, -amount, 0.0), dtype=np.uint8)


def stretch_contrast(gray: GrayFrame, clip_fraction: float = 0.01) -> GrayFrame:
    """Levels stretched so that `clip_fraction` of the pixels saturate at each end."""
    low, high = np.quantile(gray, (clip_fraction, 1.0 - clip_fraction))
    if high - low < 4:
        return gray
    scaled = (gray.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    return np.clip(scaled, 0.0, 255.0).astype(np.uint8)
