"""Code reader: camera frames through a QR decoder, off the main loop.

`CodeReader` owns a camera (the small `Camera` port: start, capture_gray, stop), a decoder
(`firmware.hw.qr_decode`) and the injected clock. Its thread captures and decodes frame after
frame and reports each distinct code once per presentation: the same phone held in view is
reported once; after the code has been missing from the frames for `absence_s` it may be
reported again; a different code is reported at once. A camera that stops delivering frames
is a `camera_fault`, reported once; the camera is restarted with exponential back-off on the
injected clock, and the first good frame reports the recovery.

A presentation lasts many frames. With a decoder that takes a hint (the staged pipeline,
`firmware.hw.qr_pipeline.ReadingPipeline.read`), the reader remembers where the code was last
read and has that region decoded first, at full resolution, for `track_s` after the last
read: the phone barely moves from one frame to the next. A presentation counts as read as
soon as any of its frames reads.

The camera port and `PiCamera` (the Raspberry Pi camera through picamera2) are in
`firmware.hw.camera`; their names are importable from here too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from firmware.errors import one_line
from firmware.hw.camera import Camera, CameraTimeout, PiCamera, y_plane
from firmware.hw.device_thread import DeviceThread

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from firmware.clock import Clock
    from firmware.hw.qr_decode import Decoder
    from firmware.hw.qr_locate import Region

    GrayFrame = npt.NDArray[np.uint8]

log = logging.getLogger(__name__)

CAMERA_FAULT = "camera_fault"
# The camera port lives in firmware.hw.camera; these names are kept importable from here.
__all__ = ["CAMERA_FAULT", "Camera", "CameraTimeout", "CodeReader", "PiCamera", "y_plane"]


class CodeReader:
    """Captures and decodes frames in its own thread; reports codes, faults and recovery.

    Callbacks run on the reader's thread: they should only post to the gate's queue.
    `on_code(code)` gets the raw bytes of each new presentation; `on_fault(code, detail)` is
    called once when the camera stops delivering (code "camera_fault"); `on_recovered()` when
    frames come again. `step()` does one capture and decode synchronously (for tests).
    """

    def __init__(
        self,
        camera: Camera,
        decoder: Decoder,
        clock: Clock,
        on_code: Callable[[bytes], None],
        on_fault: Callable[[str, str], None] | None = None,
        on_recovered: Callable[[], None] | None = None,
        *,
        absence_s: float = 1.0,
        track_s: float = 1.0,
        rate_window_s: float = 10.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
    ) -> None:
        if absence_s <= 0 or rate_window_s <= 0 or backoff_initial_s <= 0 or track_s < 0:
            raise ValueError(
                "absence_s, rate_window_s and backoff_initial_s must be positive, track_s >= 0"
            )
        self._camera = camera
        self._decoder = decoder
        self._clock = clock
        self._on_code = on_code
        self._on_fault = on_fault
        self._on_recovered = on_recovered
        self._absence_s = absence_s
        self._track_s = track_s
        self._rate_window_s = rate_window_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = max(backoff_max_s, backoff_initial_s)

        self._lock = threading.Lock()
        self._thread = DeviceThread("code-reader", clock, 0.0, self._step_in_thread)
        # Camera state, touched only by the thread that steps.
        self._camera_running = False
        self._failures = 0
        self._retry_at: float | None = None
        self._in_view: dict[bytes, float] = {}
        # Where the last code was read: (region, frame shape, time); used as the next hint.
        self._tracked: tuple[Region, tuple[int, ...], float] | None = None
        # Figures, read by stats() from any thread (under the lock).
        self._faulted = False
        self._fault_count = 0
        self._first_step_at: float | None = None
        self._last_frame_at: float | None = None
        self._frame_times: deque[float] = deque()
        self._decode_times: deque[float] = deque()
        self._decode_ms: deque[tuple[float, float]] = deque()
        self._frames = 0
        self._decodes = 0

    # Thread -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the reader thread (the camera is started by the thread's first step)."""
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (waiting at most `timeout_s` of real time) and the camera."""
        if not self._thread.stop(timeout_s):
            log.warning("code reader thread still busy after %.1f s", timeout_s)
            return
        self._stop_camera()

    def _step_in_thread(self) -> float | None:
        """One step on the reader's thread; how long to wait before the next (a back-off)."""
        try:
            self.step()
        except Exception:  # a bug must not end the reader: log it and keep going
            log.exception("code reader step failed")
            return 1.0
        retry_at = self._retry_at
        if not self._camera_running and retry_at is not None:
            return retry_at - self._clock.monotonic()
        return 0.0

    # One frame ----------------------------------------------------------------------------
    def step(self) -> list[bytes]:
        """Capture and decode one frame; returns the codes newly reported by this frame."""
        now = self._clock.monotonic()
        with self._lock:
            if self._first_step_at is None:
                self._first_step_at = now
        if not self._camera_running:
            if self._retry_at is not None and now < self._retry_at:
                return []
            try:
                self._camera.start()
            except Exception as exc:
                self._camera_failed(f"camera start failed: {one_line(exc, 200)}")
                return []
            self._camera_running = True
        try:
            frame = self._camera.capture_gray()
        except CameraTimeout as exc:
            self._camera_failed(f"camera stopped delivering frames: {one_line(exc, 200)}")
            return []
        except Exception as exc:
            self._camera_failed(f"camera capture failed: {one_line(exc, 200)}")
            return []
        if getattr(frame, "ndim", None) != 2 or frame.size == 0:
            self._camera_failed(f"camera delivered a bad frame: {getattr(frame, 'shape', None)}")
            return []
        now = self._clock.monotonic()
        self._frame_arrived(now)

        started = time.perf_counter()  # CPU cost of decoding, not gate time: the real clock
        try:
            codes = self._decode(frame, now)
        except Exception as exc:  # a decoder error loses this frame, not the camera
            log.warning(
                "QR decoder %s failed on a frame: %s", self._decoder.name, one_line(exc, 200)
            )
            codes = []
        decode_ms = (time.perf_counter() - started) * 1000.0
        self._frame_decoded(now, decode_ms, found=bool(codes))

        new_codes = self._new_presentations(codes, now)
        for code in new_codes:
            log.info("code read (%d bytes)", len(code))  # never the code itself: it names a pass
            _call_safely(self._on_code, code)
        return new_codes

    def _decode(self, frame: GrayFrame, now: float) -> list[bytes]:
        read = getattr(self._decoder, "read", None)
        if read is None:  # a decoder without hints: the whole frame every time
            return self._decoder.decode(frame)
        hint = None
        tracked = self._tracked
        if tracked is not None:
            region, shape, read_at = tracked
            if shape == frame.shape and now - read_at <= self._track_s:
                hint = region
        result = read(frame, hint=hint)
        if result.codes and result.region is not None:
            self._tracked = (result.region, frame.shape, now)
        codes: list[bytes] = result.codes
        return codes

    def _new_presentations(self, codes: list[bytes], now: float) -> list[bytes]:
        present = set(codes)
        # A code is gone once the frames have missed it for absence_s: time between frames
        # alone (a stalled camera) does not count as absence.
        for code, last_seen in list(self._in_view.items()):
            if code not in present and now - last_seen >= self._absence_s:
                del self._in_view[code]
        new_codes = [code for code in dict.fromkeys(codes) if code not in self._in_view]
        for code in present:
            self._in_view[code] = now
        return new_codes

    # Camera faults ------------------------------------------------------------------------
    def _camera_failed(self, detail: str) -> None:
        self._stop_camera()
        self._failures += 1
        delay = min(self._backoff_initial_s * 2 ** (self._failures - 1), self._backoff_max_s)
        self._retry_at = self._clock.monotonic() + delay
        log.warning("%s; restarting the camera in %.0f s", detail, delay)
        with self._lock:
            first = not self._faulted
            self._faulted = True
            if first:
                self._fault_count += 1
        if first and self._on_fault is not None:
            _call_safely(self._on_fault, CAMERA_FAULT, detail)

    def _stop_camera(self) -> None:
        was_running, self._camera_running = self._camera_running, False
        try:
            self._camera.stop()
        except Exception as exc:
            if was_running:
                log.warning("camera stop failed: %s", one_line(exc, 200))

    def _frame_arrived(self, now: float) -> None:
        self._failures = 0
        self._retry_at = None
        with self._lock:
            recovered = self._faulted
            self._faulted = False
            self._last_frame_at = now
            self._frames += 1
            self._frame_times.append(now)
            _forget_before(self._frame_times, now - self._rate_window_s)
        if recovered:
            log.info("camera delivers frames again")
            if self._on_recovered is not None:
                _call_safely(self._on_recovered)

    def _frame_decoded(self, now: float, decode_ms: float, found: bool) -> None:
        with self._lock:
            self._decode_ms.append((now, decode_ms))
            while self._decode_ms and self._decode_ms[0][0] <= now - self._rate_window_s:
                self._decode_ms.popleft()
            if found:
                self._decodes += 1
                self._decode_times.append(now)
            _forget_before(self._decode_times, now - self._rate_window_s)

    # Telemetry ----------------------------------------------------------------------------
    @property
    def faulted(self) -> bool:
        """True from a camera fault until the next good frame."""
        with self._lock:
            return self._faulted

    def stats(self) -> dict[str, Any]:
        """Figures for telemetry.

        frame_rate_hz: frames per second over the last `rate_window_s`; decode_rate_hz: frames
        per second in which a code was read, same window (both None before the first step);
        frames, decodes: totals; last_frame_age_s: seconds since the last frame (None before
        one); decode_ms: mean decoding time over the window; camera_ok; camera_faults.
        """
        now = self._clock.monotonic()
        with self._lock:
            start = self._first_step_at
            span = None if start is None else min(self._rate_window_s, now - start)
            cutoff = now - self._rate_window_s
            frames_in_window = sum(1 for t in self._frame_times if t > cutoff)
            decodes_in_window = sum(1 for t in self._decode_times if t > cutoff)
            timings = [ms for t, ms in self._decode_ms if t > cutoff]
            return {
                "frame_rate_hz": None if not span else frames_in_window / span,
                "decode_rate_hz": None if not span else decodes_in_window / span,
                "frames": self._frames,
                "decodes": self._decodes,
                "last_frame_age_s": (
                    None if self._last_frame_at is None else now - self._last_frame_at
                ),
                "decode_ms": sum(timings) / len(timings) if timings else None,
                "camera_ok": not self._faulted and start is not None,
                "camera_faults": self._fault_count,
            }


def _forget_before(times: deque[float], cutoff: float) -> None:
    while times and times[0] <= cutoff:
        times.popleft()


def _call_safely(callback: Callable[..., None], *args: Any) -> None:
    # A failing listener must not stop the reader; it is logged where it fails.
    try:
        callback(*args)
    except Exception:
        log.exception("code reader callback %r failed", callback)
