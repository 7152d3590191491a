"""Camera ports: the Pi camera's picamera2 calls (on a stand-in module) and the simulated camera."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from typing import ClassVar

import numpy as np
import pytest
import zxingcpp

from firmware.clock import ManualClock
from firmware.hw.code_reader import CameraTimeout, PiCamera, y_plane
from firmware.hw.qr_decode import make_decoder
from host_sim.camera_sim import (
    QR_QUIET_ZONE_MODULES,
    Card,
    Conditions,
    Scene,
    SimCamera,
    pixels_per_module,
    qr_matrix,
    realistic_scene,
    render_scene,
    sample_pass_text,
)

PASS = sample_pass_text(np.random.default_rng(21))


# The luma plane of YUV420 -----------------------------------------------------------------
def yuv420(width: int, height: int, stride: int) -> np.ndarray:
    luma = (np.arange(height * stride) % 251).astype(np.uint8).reshape(height, stride)
    chroma = np.full((height // 2, stride), 128, np.uint8)
    return np.vstack([luma, chroma])


def test_the_y_plane_is_the_first_height_rows_without_stride_padding() -> None:
    buffer = yuv420(640, 480, stride=704)
    gray = y_plane(buffer, (640, 480))
    assert gray.shape == (480, 640) and gray.dtype == np.uint8
    assert np.array_equal(gray, buffer[:480, :640])
    assert not (gray == 128).all(axis=1).any()  # no chroma row slipped in


@pytest.mark.parametrize("shape", [(480, 640), (720, 600), (720, 640, 3)])
def test_a_buffer_that_is_not_yuv420_of_that_size_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="YUV420"):
        y_plane(np.zeros(shape, np.uint8), (640, 480))


# PiCamera on a stand-in picamera2 ---------------------------------------------------------
class FakePicamera2:
    """Records what PiCamera asks of picamera2; frames come from `FakePicamera2.frames`."""

    made: ClassVar[list[FakePicamera2]] = []
    has_autofocus = True
    fail_start = False
    frames: ClassVar[list[object]] = []

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.camera_controls = {"AfMode": (0, 2, 0)} if self.has_autofocus else {}
        self.calls: list[tuple] = []
        FakePicamera2.made.append(self)

    def create_video_configuration(self, **kwargs: object) -> dict:
        self.calls.append(("create_video_configuration", kwargs))
        return {"video": kwargs}

    def configure(self, config: dict) -> None:
        self.calls.append(("configure", config))

    def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.calls.append(("start",))

    def set_controls(self, controls: dict) -> None:
        self.calls.append(("set_controls", controls))

    def capture_array(self, name: str = "main", wait: object = None) -> str:
        self.calls.append(("capture_array", name, wait))
        return "job"

    def wait(self, job: str, timeout: float | None = None) -> object:
        self.calls.append(("wait", job, timeout))
        item = self.frames.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        self.calls.append(("stop",))

    def close(self) -> None:
        self.calls.append(("close",))


@pytest.fixture
def picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    FakePicamera2.made = []
    FakePicamera2.has_autofocus = True
    FakePicamera2.fail_start = False
    FakePicamera2.frames = []
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    libcamera = types.ModuleType("libcamera")
    libcamera.controls = types.SimpleNamespace(  # type: ignore[attr-defined]
        AfModeEnum=types.SimpleNamespace(Manual=0, Auto=1, Continuous=2)
    )
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setitem(sys.modules, "libcamera", libcamera)
    return FakePicamera2


def test_pi_camera_streams_yuv420_with_continuous_autofocus(
    picamera2: type[FakePicamera2],
) -> None:
    camera = PiCamera((1280, 960), timeout_s=1.5)
    picamera2.frames = [yuv420(1280, 960, stride=1280)]
    camera.start()
    gray = camera.capture_gray()
    assert gray.shape == (960, 1280)
    (device,) = picamera2.made
    assert device.calls[:4] == [
        ("create_video_configuration", {"main": {"size": (1280, 960), "format": "YUV420"}}),
        ("configure", {"video": {"main": {"size": (1280, 960), "format": "YUV420"}}}),
        ("start",),
        ("set_controls", {"AfMode": 2}),
    ]
    assert device.calls[4:] == [("capture_array", "main", False), ("wait", "job", 1.5)]


def test_pi_camera_without_autofocus_is_left_as_it_is(picamera2: type[FakePicamera2]) -> None:
    picamera2.has_autofocus = False
    PiCamera((640, 480)).start()
    assert not [call for call in picamera2.made[0].calls if call[0] == "set_controls"]


def test_pi_camera_frame_timeout_is_a_camera_timeout(picamera2: type[FakePicamera2]) -> None:
    camera = PiCamera((640, 480), timeout_s=2.0)
    camera.start()
    picamera2.frames = [TimeoutError()]
    with pytest.raises(CameraTimeout, match="no frame within 2 s"):
        camera.capture_gray()


def test_pi_camera_is_closed_on_stop_and_on_a_failed_start(
    picamera2: type[FakePicamera2],
) -> None:
    camera = PiCamera((640, 480))
    camera.start()
    camera.stop()
    assert picamera2.made[0].calls[-2:] == [("stop",), ("close",)]
    camera.stop()  # stopping twice is harmless
    picamera2.fail_start = True
    with pytest.raises(RuntimeError):
        camera.start()
    assert picamera2.made[1].calls[-1] == ("close",)
    with pytest.raises(RuntimeError, match="not started"):
        camera.capture_gray()


# The simulated camera ---------------------------------------------------------------------
def test_rendering_is_reproducible_with_the_same_seed() -> None:
    scene = realistic_scene(np.random.default_rng(5), PASS, empty_share=0.0)
    first = render_scene(scene, (640, 480), np.random.default_rng(9))
    again = render_scene(scene, (640, 480), np.random.default_rng(9))
    other = render_scene(scene, (640, 480), np.random.default_rng(10))
    assert first.shape == (480, 640) and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_the_pinhole_model_puts_the_module_size_where_the_decoder_finds_it() -> None:
    card = Card(PASS, distance_mm=150.0)
    size = (1280, 960)
    frame = render_scene(Scene(card, Conditions(noise=0.0)), size, np.random.default_rng(1))
    (found,) = zxingcpp.read_barcodes(frame)
    corners = found.position
    measured_side = abs(corners.top_right.x - corners.top_left.x)
    modules = qr_matrix(PASS).shape[0] - 2 * QR_QUIET_ZONE_MODULES
    assert measured_side == pytest.approx(modules * pixels_per_module(card, size), rel=0.03)


def test_the_same_scene_has_twice_the_pixels_per_module_at_twice_the_resolution() -> None:
    card = Card(PASS, distance_mm=200.0)
    assert pixels_per_module(card, (1280, 960)) == pytest.approx(
        2 * pixels_per_module(card, (640, 480))
    )
    assert pixels_per_module(replace(card, distance_mm=100.0), (640, 480)) == pytest.approx(
        2 * pixels_per_module(card, (640, 480))
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Card(PASS, medium="tablet"), "medium"),
        (lambda: Card(PASS, distance_mm=10.0), "distance_mm"),
        (lambda: Card(PASS, tilt_deg=80.0), "tilt_deg"),
        (lambda: Card(PASS, contrast=0.0), "contrast"),
        (lambda: Card(""), "text"),
        (lambda: Conditions(noise=-1.0), "negative"),
        (lambda: Conditions(jpeg_quality=0), "jpeg_quality"),
    ],
)
def test_impossible_scenes_are_refused(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_sim_camera_is_paced_on_the_clock_and_shows_what_it_is_given() -> None:
    clock = ManualClock()
    camera = SimCamera((640, 480), clock=clock, fps=20.0, seed=3)
    decoder = make_decoder("zxing")
    camera.start()
    started = clock.monotonic()
    assert decoder.decode(camera.capture_gray()) == []
    camera.show(Card(PASS, distance_mm=110.0))
    assert decoder.decode(camera.capture_gray()) == [PASS.encode()]
    camera.clear()
    assert decoder.decode(camera.capture_gray()) == []
    assert clock.monotonic() - started == pytest.approx(3 / 20.0)
    assert camera.frames_delivered == 3


def test_sim_camera_faults() -> None:
    clock = ManualClock()
    camera = SimCamera((640, 480), clock=clock, timeout_s=2.0)
    with pytest.raises(RuntimeError, match="before start"):
        camera.capture_gray()
    camera.fail_starts(1)
    with pytest.raises(RuntimeError, match="no camera detected"):
        camera.start()
    camera.start()
    camera.stall()
    before = clock.monotonic()
    with pytest.raises(CameraTimeout):
        camera.capture_gray()
    assert clock.monotonic() - before == pytest.approx(2.0)
    camera.heal()
    camera.fail_with(OSError("sensor I/O error"))
    with pytest.raises(OSError, match="sensor"):
        camera.capture_gray()
    camera.heal()
    assert camera.capture_gray().shape == (480, 640)


def test_pi_camera_started_again_releases_the_first_one(picamera2: type[FakePicamera2]) -> None:
    camera = PiCamera((640, 480))
    camera.start()
    camera.start()
    first, second = picamera2.made
    assert first.calls[-2:] == [("stop",), ("close",)]
    assert ("close",) not in second.calls
