"""Camera port and the Raspberry Pi camera behind it (picamera2, imported only when started).

A camera delivers grayscale frames, the luma (Y) plane of the camera's YUV420 stream, one per
call; `CameraTimeout` is raised when no frame comes in time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    GrayFrame = npt.NDArray[np.uint8]


class CameraTimeout(Exception):
    """The camera delivered no frame within its timeout."""


class Camera(Protocol):
    """A camera that delivers grayscale frames (the Y plane), one per call."""

    def start(self) -> None:
        """Open and start streaming; raises if the camera cannot be started."""

    def capture_gray(self) -> GrayFrame:
        """The next frame as a 2-D uint8 array; raises CameraTimeout if none comes in time."""
        ...

    def stop(self) -> None:
        """Stop streaming and release the camera."""


def y_plane(yuv420: GrayFrame, size: tuple[int, int]) -> GrayFrame:
    """The luma (Y) plane of a YUV420 frame as picamera2 returns it.

    picamera2 gives YUV420 as one 2-D array of height * 3 / 2 rows: the Y plane's `height` rows,
    then the quarter-size U and V planes. Rows may be padded to the stride, so columns past
    `width` are dropped too.
    """
    width, height = size
    if yuv420.ndim != 2 or yuv420.shape[0] < height * 3 // 2 or yuv420.shape[1] < width:
        raise ValueError(
            f"expected a YUV420 array of at least {height * 3 // 2} x {width}, got {yuv420.shape}"
        )
    return yuv420[:height, :width]


class PiCamera:
    """Raspberry Pi camera through picamera2: a YUV420 video stream, Y plane only.

    Continuous autofocus is switched on where the camera has it (Camera Module 3). A capture
    waits at most `timeout_s` for its frame, then raises CameraTimeout.
    """

    def __init__(
        self, size: tuple[int, int] = (1280, 960), timeout_s: float = 2.0, camera_index: int = 0
    ) -> None:
        self.size = size
        self._timeout_s = timeout_s
        self._camera_index = camera_index
        self._camera: Any = None

    def start(self) -> None:
        """Open the camera, configure the YUV420 stream, start it, and enable autofocus."""
        from picamera2 import Picamera2  # only on the Pi

        self.stop()  # a second Picamera2 on the same camera would find it busy
        camera = Picamera2(self._camera_index)
        try:
            config = camera.create_video_configuration(main={"size": self.size, "format": "YUV420"})
            camera.configure(config)
            camera.start()
            if "AfMode" in camera.camera_controls:
                from libcamera import controls

                camera.set_controls({"AfMode": controls.AfModeEnum.Continuous})
        except Exception:
            camera.close()
            raise
        self._camera = camera

    def capture_gray(self) -> GrayFrame:
        """The next frame's Y plane."""
        camera = self._camera
        if camera is None:
            raise RuntimeError("camera not started")
        job = camera.capture_array("main", wait=False)
        try:
            yuv = camera.wait(job, timeout=self._timeout_s)
        except TimeoutError:
            raise CameraTimeout(f"no frame within {self._timeout_s:g} s") from None
        return y_plane(yuv, self.size)

    def stop(self) -> None:
        """Stop the stream and close the camera so that it can be opened again."""
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
            finally:
                camera.close()
