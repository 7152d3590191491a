"""A faster camera for a day's bulk of people: the code drawn flat, read by the real decoder.

Rendering a phone held in space (`camera_sim`) costs a QR encoding in pure Python and a
perspective warp per scene — well over 100 ms a person on this host; a day has ~800 people.
For people whose pass the scenario does not hold at an angle or a distance, this wrapper shows
the code as a camera facing it squarely would: zxing-cpp encodes it (C++), each module is
4×4 pixels in a 640×480 grey frame. The frame still goes through the real `CodeReader` and
decoder. Everyone else, and every fault (stall, errors), goes to the wrapped `SimCamera`.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import zxingcpp

from host_sim.camera_sim import SimCamera

PX_PER_MODULE = 4
DARK, LIGHT, BACKGROUND = 40, 210, 120


def flat_frame(text: str, size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """A `size` (width, height) grey frame with `text`'s QR centred, 4 px per module."""
    with warnings.catch_warnings():  # write_barcode is the call this zxing-cpp version has
        warnings.simplefilter("ignore", DeprecationWarning)
        symbol = np.array(zxingcpp.write_barcode(zxingcpp.BarcodeFormat.QRCode, text,
                                                 width=0, height=0, quiet_zone=4))
    modules = np.where(symbol < 128, DARK, LIGHT).astype(np.uint8)
    card = np.kron(modules, np.ones((PX_PER_MODULE, PX_PER_MODULE), dtype=np.uint8))
    width, height = size
    frame = np.full((height, width), BACKGROUND, dtype=np.uint8)
    side = min(card.shape[0], height, width)
    top, left = (height - side) // 2, (width - side) // 2
    frame[top:top + side, left:left + side] = card[:side, :side]
    return frame


class FlatCardCamera:
    """Camera port: a flat code when one is shown, else (and on any fault) the SimCamera."""

    def __init__(self, sim: SimCamera) -> None:
        self.sim = sim
        self._lock = threading.Lock()
        self._frame: npt.NDArray[np.uint8] | None = None
        self._stalled = False
        self.frames_delivered = 0
        # perf_counter() when a frame first carried the code now in view (None: not yet / none).
        self.code_frame_real: float | None = None
        self._code_in_view = False

    def show_flat(self, text: str) -> None:
        """Hold `text`'s code squarely in front of the camera."""
        frame = flat_frame(text, self.sim.size)
        self.sim.clear()
        with self._lock:
            self._frame = frame
        self._new_view(code=True)

    def _new_view(self, code: bool) -> None:
        self._code_in_view = code
        self.code_frame_real = None

    def clear(self) -> None:
        """Nobody in front of a flat-mode camera: the empty grey frame (still decoded)."""
        frame = np.full((self.sim.size[1], self.sim.size[0]), BACKGROUND, dtype=np.uint8)
        with self._lock:
            if self._frame is not None:
                self._frame = frame
        self._new_view(code=False)

    def release(self) -> None:
        """Back to the rendering SimCamera for what comes next."""
        with self._lock:
            self._frame = None
        self._new_view(code=True)

    @property
    def showing(self) -> bool:
        """A flat code (not the empty frame) is in view."""
        with self._lock:
            return self._frame is not None and bool(self._frame.min() < BACKGROUND)

    def current_frame(self) -> npt.NDArray[np.uint8] | None:
        """The flat frame in view (None: the SimCamera's scene is what is seen)."""
        with self._lock:
            return self._frame

    def stall(self) -> None:
        """Stop delivering frames, flat or not (the SimCamera's own stall)."""
        self._stalled = True
        self.sim.stall()

    def heal(self) -> None:
        self._stalled = False
        self.sim.heal()

    def start(self) -> None:
        self.sim.start()

    def stop(self) -> None:
        self.sim.stop()

    def capture_gray(self) -> Any:
        with self._lock:
            frame = self._frame
        if frame is None or self._stalled:
            captured = self.sim.capture_gray()
            showing = frame is None and self.sim.scene.card is not None
        else:
            self.frames_delivered += 1
            captured, showing = frame, self._code_in_view
        if showing and self.code_frame_real is None:
            self.code_frame_real = time.perf_counter()
        return captured

    def __getattr__(self, name: str) -> Any:  # anything else the reader asks of a camera
        return getattr(self.sim, name)
