"""The simulated camera device: the camera port of the code reader over rendered frames."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from firmware.hw.code_reader import CameraTimeout
from host_sim.camera_sim.optics import expose, render_optical_image
from host_sim.camera_sim.scene import Card, Conditions, Scene

if TYPE_CHECKING:
    import numpy.typing as npt

    from firmware.clock import Clock

    GrayFrame = npt.NDArray[np.uint8]
    FloatImage = npt.NDArray[np.float32]


class SimCamera:
    """Camera port that delivers rendered frames of whatever it is shown.

    Paced on the injected clock (one frame every 1/fps seconds of that clock; without a
    clock, frames come as fast as they are rendered). Faults for
    tests and the simulator: `stall()` stops delivering frames (each capture waits
    `timeout_s` on the clock, then raises CameraTimeout, as the Pi camera does),
    `fail_with(exc)` makes captures raise `exc`, `fail_starts(n)` makes the next n starts fail.
    """

    def __init__(
        self,
        size: tuple[int, int] = (640, 480),
        clock: Clock | None = None,
        fps: float = 15.0,
        seed: int = 0,
        timeout_s: float = 2.0,
    ) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.size = size
        self._clock = clock
        self._frame_interval_s = 1.0 / fps
        self._timeout_s = timeout_s
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._scene = Scene()
        self._cached: tuple[Scene, FloatImage] | None = None
        self._stalled = False
        self._capture_error: BaseException | None = None
        self._failing_starts = 0
        self.started = False
        self.starts = 0
        self.frames_delivered = 0

    # What stands in front of the camera -------------------------------------------------
    def show(self, card: Card, conditions: Conditions | None = None) -> None:
        """Hold `card` in front of the camera (keeping the current conditions if none given)."""
        with self._lock:
            current = self._scene
            self._scene = Scene(card, conditions or current.conditions, current.background)

    def clear(self) -> None:
        """Nobody in front of the camera: only the background."""
        with self._lock:
            self._scene = Scene(None, self._scene.conditions, self._scene.background)

    def set_scene(self, scene: Scene) -> None:
        """Replace the whole scene (card, conditions and background)."""
        with self._lock:
            self._scene = scene

    @property
    def scene(self) -> Scene:
        """What the camera currently looks at."""
        with self._lock:
            return self._scene

    # Fault injection ----------------------------------------------------------------------
    def stall(self) -> None:
        """Stop delivering frames (a hung sensor or a loose ribbon cable)."""
        with self._lock:
            self._stalled = True

    def fail_with(self, error: BaseException | None) -> None:
        """Make every capture raise `error` (None: captures work again)."""
        with self._lock:
            self._capture_error = error

    def fail_starts(self, count: int) -> None:
        """Make the next `count` calls to start() fail, as a camera that is not detected."""
        with self._lock:
            self._failing_starts = count

    def heal(self) -> None:
        """Undo every injected fault."""
        with self._lock:
            self._stalled = False
            self._capture_error = None
            self._failing_starts = 0

    # Camera port --------------------------------------------------------------------------
    def start(self) -> None:
        """Start streaming (fails while `fail_starts` has starts left to fail)."""
        with self._lock:
            self.starts += 1
            if self._failing_starts > 0:
                self._failing_starts -= 1
                raise RuntimeError("simulated camera: no camera detected")
            self.started = True

    def stop(self) -> None:
        """Stop streaming."""
        with self._lock:
            self.started = False

    def capture_gray(self) -> GrayFrame:
        """The next frame's Y plane; blocks one frame interval on the clock."""
        with self._lock:
            if not self.started:
                raise RuntimeError("simulated camera: capture before start")
            stalled, error, scene = self._stalled, self._capture_error, self._scene
        if stalled:
            self._sleep(self._timeout_s)
            raise CameraTimeout(f"no frame within {self._timeout_s:g} s")
        if error is not None:
            raise error
        self._sleep(self._frame_interval_s)
        clean = self._optical_image(scene)
        frame = expose(clean, scene.conditions, self._rng)
        with self._lock:
            self.frames_delivered += 1
        return frame

    def _optical_image(self, scene: Scene) -> FloatImage:
        cached = self._cached
        if cached is not None and cached[0] == scene:
            return cached[1]
        clean = render_optical_image(scene, self.size)
        self._cached = (scene, clean)
        return clean

    def _sleep(self, seconds: float) -> None:
        if self._clock is not None:
            self._clock.sleep(seconds)
