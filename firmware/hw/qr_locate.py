"""Where a QR code probably is in a frame, and the image operations the reading pipeline uses.

`Region` is an axis-aligned box in frame pixels. `locate_code` finds the most code-like patch
of a frame cheaply, on a copy a quarter of the size or smaller: a QR symbol is a patch of
dense luma steps in every direction (across, down and both diagonals), where most of an
entrance hall's texture (blinds, lines of text, door frames, at whatever angle) is flat along
one of them. The box is the connected patch around the strongest point. It is a
guess, not a detection: a wrong guess only costs the time of one cropped decoding attempt.

The image operations (crop with scaling, edge padding, unsharp masking, contrast stretch) use
OpenCV, whose filters measured about twice as fast as Pillow's on the frames the kiosk sees.
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
# The code is the connected patch around the peak where the energy reaches this share of it.
LOCATOR_FRACTION = 0.35

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
    small = cv2.resize(gray, (width // step, height // step), interpolation=cv2.INTER_AREA)
    # Luma steps in four directions; a straight edge or line (text, blinds, a door frame,
    # at any angle) is flat along at least one of them, a code's modules along none.
    corner = small[:-1, :-1]
    steps = (
        cv2.absdiff(small[:-1, 1:], corner),
        cv2.absdiff(small[1:, :-1], corner),
        cv2.absdiff(small[1:, 1:], corner),
        cv2.absdiff(small[1:, :-1], small[:-1, 1:]),
    )
    window = max(3, small.shape[1] // 16) | 1
    blurred = [cv2.blur(d, (window, window)) for d in steps]
    energy = cv2.min(cv2.min(blurred[0], blurred[1]), cv2.min(blurred[2], blurred[3]))
    peak = float(energy.max())
    if peak < LOCATOR_MIN_ENERGY:
        return None
    row, col = np.unravel_index(int(np.argmax(energy)), energy.shape)
    strong = (energy >= LOCATOR_FRACTION * peak).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(strong, connectivity=8)
    left, top, across_px, down_px = (int(v) for v in stats[labels[row, col], :4])
    # The energy map is the code's box blurred by the window, thresholded at LOCATOR_FRACTION
    # of its height: the patch reaches about (0.5 - LOCATOR_FRACTION) windows beyond the code.
    inset = window * (0.5 - LOCATOR_FRACTION)
    box = Region(
        round((left + inset) * step), round((top + inset) * step),
        round((left + across_px - inset + 1) * step), round((top + down_px - inset + 1) * step),
    )
    # Grown for the quiet zone, which has no edges and so no energy.
    return box.grown(LOCATOR_MARGIN, gray.shape)


def crop(gray: GrayFrame, region: Region, scale: float = 1.0) -> GrayFrame:
    """The part of `gray` inside `region`, resized by `scale` (bicubic when enlarging)."""
    part = gray[region.y0 : region.y1, region.x0 : region.x1]
    if abs(scale - 1.0) < 1e-3:
        return np.ascontiguousarray(part)
    size = (max(1, round(part.shape[1] * scale)), max(1, round(part.shape[0] * scale)))
    interpolation = cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_AREA
    return np.asarray(cv2.resize(part, size, interpolation=interpolation), dtype=np.uint8)


def pad_frame_edges(
    image: GrayFrame, region: Region, shape: tuple[int, ...], pad_px: int
) -> tuple[GrayFrame, tuple[int, int]]:
    """`image` (a crop of `region`) extended by `pad_px` on each side where `region` touches
    the edge of a frame of `shape`, by repeating its edge; also the (left, top) padding."""
    height, width = shape[:2]
    left = pad_px if region.x0 <= 0 else 0
    top = pad_px if region.y0 <= 0 else 0
    right = pad_px if region.x1 >= width else 0
    bottom = pad_px if region.y1 >= height else 0
    if pad_px <= 0 or not (left or top or right or bottom):
        return image, (0, 0)
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return np.asarray(padded, dtype=np.uint8), (left, top)


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

