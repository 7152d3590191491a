"""The reading pipeline: a cheap pass on every frame, heavier passes only when it fails.

Order of work on one frame (each step runs only while nothing has been read and the frame's
budget allows it):

1. `track` — the region where the code was found in an earlier frame (the caller's hint),
   cropped at full resolution. A pass is shown for many frames: most frames of a presentation
   are read here, on a fraction of the pixels.
2. `frame` — the whole frame, zxing-cpp's defaults (local-average binarizer, its own
   downscaled and inverted retries). This is the bare decoder: the pipeline never reads less.
   Symbols it detects but cannot decode give their position for step 3.
3. `crop-*` — the candidate regions (the hint, symbols detected in step 2, else the
   locator's guess on a downscaled copy, `qr_locate.locate_code`) cropped, enlarged when small,
   sharpened by unsharp masking, padded where the frame's edge cuts them off: the passes of
   `CROP_PASSES`, in order.

Work is counted in pixels handed to the decoder or to a filter; a frame may spend at most
`budget` times its own pixel count (the bare decoder spends 1). A wall-clock deadline can be
added on top: past it, no crop pass starts (the fast steps always run).

Only QR Model 2 is decoded: zxing-cpp's `QRCode` format also admits Micro QR, which once read
a false "6868" out of a pass code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from firmware.hw.qr_locate import (
    Region,
    crop,
    locate_code,
    pad_frame_edges,
    region_of_points,
    stretch_contrast,
    unsharp,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    GrayFrame = npt.NDArray[np.uint8]

# A found or detected symbol's box is grown by this fraction of its side before cropping:
# room for its quiet zone and for the phone moving between frames.
CROP_MARGIN = 0.3
# A candidate smaller than this cannot hold a readable pass (21 modules at 1.5 pixels).
MIN_CANDIDATE_PX = 32
# At most this many candidate regions get the crop passes.
MAX_CANDIDATES = 2
# Total work per frame, in frame-sized units (1 = the bare decoder's whole-frame pass).
DEFAULT_BUDGET = 3.0
# A crop cut off by the frame's edge is padded there by this fraction of its side: zxing-cpp
# does not find a symbol whose quiet zone the edge cuts off, and reads it once it has one.
EDGE_PAD = 0.08


@dataclass(frozen=True)
class CropPass:
    """One way of looking again at a candidate region.

    The crop is enlarged so that its larger side is about `target_side_px` (never shrunk,
    at most `max_scale` times), then optionally contrast stretched and unsharp masked
    (`sharpen` = gaussian sigma in pixels of the enlarged crop, amount), then decoded with
    zxing-cpp's `binarizer`.
    """

    name: str
    target_side_px: int = 0
    max_scale: float = 1.0
    sharpen: tuple[float, float] | None = None
    stretch: bool = False
    binarizer: str = "LocalAverage"

    def scale_for(self, region: Region) -> float:
        """How much this pass enlarges `region`."""
        side = max(region.width, region.height, 1)
        return min(self.max_scale, max(1.0, self.target_side_px / side))

    def work_px(self, region: Region) -> int:
        """Pixels this pass handles on `region` (each filter counts as one more pass over it)."""
        scale = self.scale_for(region)
        filters = (scale > 1.0) + (self.sharpen is not None) + self.stretch
        return round(region.area * scale * scale * (1 + filters))


# Chosen by measurement on rendered frames (bench/bench_decode.py): enlarging a small code
# towards 360 pixels a side and sharpening it recovered most of what any pass did. Left out
# for recovering next to nothing for their time: a second, lightly sharpened pass at the
# crop's own scale, a plain enlargement, zxing-cpp's global-histogram and fixed-threshold
# binarizers, a contrast stretch, local contrast normalisation, a sharpened whole frame, and
# Wiener deconvolution of a gaussian blur (sigma 1 or 1.5 px, before or after the sharpened
# pass: it read the same frames the sharpened crop reads, and no other).
CROP_PASSES: tuple[CropPass, ...] = (
    CropPass("crop-sharp", target_side_px=360, max_scale=2.0, sharpen=(1.5, 1.5)),
)


@dataclass(frozen=True)
class Attempt:
    """One step tried on a frame: its name, the pixels it handled, whether it read a code, and
    the CPU time the calling thread spent on it."""

    stage: str
    work_px: int
    read: bool
    ms: float


@dataclass
class ReadResult:
    """What the pipeline found in one frame and what it tried to find it."""

    codes: list[bytes] = field(default_factory=list)
    region: Region | None = None  # where the (first) code was read, in frame pixels
    attempts: list[Attempt] = field(default_factory=list)
    budget_px: int = 0

    @property
    def stage(self) -> str | None:
        """The step that read the code, or None."""
        return next((a.stage for a in self.attempts if a.read), None)

    @property
    def work_px(self) -> int:
        """Pixels handled in all, never more than `budget_px`."""
        return sum(a.work_px for a in self.attempts)


class ReadingPipeline:
    """zxing-cpp (QR Model 2 only) in stages within a per-frame budget; see the module doc."""

    name = "zxing"

    def __init__(
        self,
        crop_passes: tuple[CropPass, ...] = CROP_PASSES,
        budget: float = DEFAULT_BUDGET,
        deadline_s: float | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        import zxingcpp

        if budget < 1.0:
            raise ValueError("the budget must allow at least the whole-frame pass (1.0)")
        self._zxing = zxingcpp
        self._formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCodeModel2)
        self.crop_passes = crop_passes
        self.budget = budget
        self.deadline_s = deadline_s
        self._timer = timer

    def decode(self, gray: GrayFrame) -> list[bytes]:
        """Raw bytes of each distinct QR code found in `gray` (the `Decoder` interface)."""
        return self.read(gray).codes

    def read(self, gray: GrayFrame, hint: Region | None = None) -> ReadResult:
        """Read `gray`, looking first in `hint` (where a code was found in a recent frame)."""
        from firmware.hw.qr_decode import checked_gray

        gray = checked_gray(gray)
        frame_px = gray.shape[0] * gray.shape[1]
        result = ReadResult(budget_px=round(self.budget * frame_px))
        started = self._timer()
        if hint is not None:
            hint = hint.grown(0.0, gray.shape)
            if hint.area > 0 and self._run(result, "track", gray, hint, None, started):
                return result
        detected: list[Region] = []
        if self._run(result, "frame", gray, None, None, started, detected):
            return result
        for candidate in self._candidates(gray, hint, detected):
            for crop_pass in self.crop_passes:
                if self._run(result, crop_pass.name, gray, candidate, crop_pass, started):
                    return result
        return result

    def _candidates(
        self, gray: GrayFrame, hint: Region | None, detected: list[Region]
    ) -> list[Region]:
        regions = ([hint] if hint is not None and hint.area > 0 else []) + detected
        distinct = _distinct_regions(regions)
        if not distinct:  # nothing detected, or only specks: the locator's guess
            distinct = _distinct_regions([located] if (located := locate_code(gray)) else [])
        return distinct[:MAX_CANDIDATES]

    def _run(
        self,
        result: ReadResult,
        stage: str,
        gray: GrayFrame,
        region: Region | None,
        crop_pass: CropPass | None,
        started: float,
        detected: list[Region] | None = None,
    ) -> bool:
        """Try one step if budget and deadline allow; True when it read a code."""
        whole = Region(0, 0, gray.shape[1], gray.shape[0])
        area = region or whole
        work = crop_pass.work_px(area) if crop_pass is not None else area.area
        if result.work_px + work > result.budget_px:
            return False
        late = self.deadline_s is not None and self._timer() - started >= self.deadline_s
        if late and crop_pass is not None:  # the fast steps run on every frame
            return False
        begun = time.thread_time()
        scale = crop_pass.scale_for(area) if crop_pass is not None else 1.0
        image = gray if region is None else crop(gray, area, scale)
        binarizer = "LocalAverage"
        if crop_pass is not None:
            if crop_pass.stretch:
                image = stretch_contrast(image)
            if crop_pass.sharpen is not None:
                image = unsharp(image, *crop_pass.sharpen)
            binarizer = crop_pass.binarizer
        pad = (0, 0)
        if crop_pass is not None:
            pad_px = round(EDGE_PAD * scale * max(area.width, area.height))
            image, pad = pad_frame_edges(image, area, gray.shape, pad_px)
        found = self._zxing.read_barcodes(
            image,
            formats=self._formats,
            binarizer=getattr(self._zxing.Binarizer, binarizer),
            return_errors=detected is not None,
            try_downscale=crop_pass is None,
            try_rotate=crop_pass is None,
        )
        codes: list[bytes] = []
        for symbol in found:
            box = _frame_box(symbol, area, scale, pad)
            if symbol.valid and symbol.bytes:
                if not codes:
                    result.region = box.grown(CROP_MARGIN, gray.shape)
                codes.append(bytes(symbol.bytes))
            elif detected is not None:
                detected.append(box.grown(CROP_MARGIN, gray.shape))
        result.codes = list(dict.fromkeys(codes))
        ms = (time.thread_time() - begun) * 1000.0
        result.attempts.append(Attempt(stage, work, bool(codes), ms))
        return bool(codes)


def _distinct_regions(regions: list[Region]) -> list[Region]:
    """`regions` without those too small to hold a pass or mostly inside an earlier one."""
    distinct: list[Region] = []
    for region in regions:
        if min(region.width, region.height) < MIN_CANDIDATE_PX:
            continue
        if all(region.overlap(kept) < 0.6 for kept in distinct):
            distinct.append(region)
    return distinct


def _frame_box(
    symbol: Any, area: Region, scale: float, pad: tuple[int, int] = (0, 0)
) -> Region:
    """The box of a symbol found in a crop of `area` enlarged by `scale` and padded by `pad`
    (left, top) pixels, in frame pixels."""
    position = symbol.position
    corners = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    points = [
        (area.x0 + round((point.x - pad[0]) / scale), area.y0 + round((point.y - pad[1]) / scale))
        for point in corners
    ]
    return region_of_points(points)
