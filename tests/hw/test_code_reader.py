"""CodeReader: one report per presentation, camera faults with back-off and recovery, rates."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from firmware.clock import ManualClock, SystemClock
from firmware.hw.code_reader import CAMERA_FAULT, CameraTimeout, CodeReader
from firmware.hw.qr_decode import make_decoder
from host_sim.camera_sim import Card, SimCamera, sample_pass_text

FRAME_INTERVAL_S = 0.1  # the fake camera runs at 10 frames per second
A, B = b"pass-A", b"pass-B"


class FakeCamera:
    """A camera port whose frames "show" whatever codes the test puts in front of it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.showing: tuple[bytes, ...] = ()
        self.capture_error: BaseException | None = None
        self.start_error: BaseException | None = None
        self.frame: object = np.zeros((4, 4), np.uint8)
        self.starts: list[float] = []
        self.stops = 0
        self.running = False

    def start(self) -> None:
        self.starts.append(self.clock.monotonic())
        if self.start_error is not None:
            raise self.start_error
        self.running = True

    def capture_gray(self):  # type: ignore[no-untyped-def]
        assert self.running, "capture on a camera that was not started"
        if self.capture_error is not None:
            raise self.capture_error
        self.clock.advance(FRAME_INTERVAL_S)
        return self.frame

    def stop(self) -> None:
        self.stops += 1
        self.running = False


class FakeDecoder:
    """Finds in each frame the codes the camera was showing when it was taken."""

    name = "fake"

    def __init__(self, camera: FakeCamera) -> None:
        self.camera = camera
        self.error: BaseException | None = None

    def decode(self, gray: object) -> list[bytes]:
        if self.error is not None:
            raise self.error
        return list(self.camera.showing)


class Recorder:
    def __init__(self) -> None:
        self.codes: list[bytes] = []
        self.faults: list[tuple[str, str]] = []
        self.recoveries = 0

    def on_code(self, code: bytes) -> None:
        self.codes.append(code)

    def on_fault(self, code: str, detail: str) -> None:
        self.faults.append((code, detail))

    def on_recovered(self) -> None:
        self.recoveries += 1


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def camera(clock: ManualClock) -> FakeCamera:
    return FakeCamera(clock)


@pytest.fixture
def seen() -> Recorder:
    return Recorder()


@pytest.fixture
def reader(camera: FakeCamera, clock: ManualClock, seen: Recorder) -> CodeReader:
    return CodeReader(
        camera, FakeDecoder(camera), clock, seen.on_code, seen.on_fault, seen.on_recovered,
        absence_s=1.0,
    )


def frames(reader: CodeReader, clock: ManualClock, seconds: float) -> list[bytes]:
    """Run the reader for `seconds` (a step per frame interval); the codes reported meanwhile."""
    reported: list[bytes] = []
    for _ in range(round(seconds / FRAME_INTERVAL_S)):
        before = clock.monotonic()
        reported += reader.step()
        if clock.monotonic() == before:  # no frame taken (camera down): time passes anyway
            clock.sleep(FRAME_INTERVAL_S)
    return reported


# Presentations -----------------------------------------------------------------------------
def test_a_phone_held_in_view_is_reported_once(
    reader: CodeReader, camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    camera.showing = (A,)
    assert reader.step() == [A]
    assert frames(reader, clock, 5.0) == []
    assert seen.codes == [A]


def test_the_same_pass_shown_again_after_it_left_is_reported_again(
    reader: CodeReader, camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    camera.showing = (A,)
    frames(reader, clock, 1.0)
    camera.showing = ()
    frames(reader, clock, 1.1)  # a full absence_s of frames without it
    camera.showing = (A,)
    frames(reader, clock, 1.0)
    assert seen.codes == [A, A]


def test_a_few_frames_missing_the_code_do_not_end_the_presentation(
    reader: CodeReader, camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    # Blur or a moving hand: the decoder misses the code now and then while it stays in view.
    for _ in range(5):
        camera.showing = (A,)
        frames(reader, clock, 0.5)
        camera.showing = ()
        frames(reader, clock, 0.8)
    assert seen.codes == [A]


def test_a_different_pass_is_reported_at_once(
    reader: CodeReader, camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    camera.showing = (A,)
    frames(reader, clock, 1.0)
    camera.showing = (B,)
    assert reader.step() == [B]
    camera.showing = (A,)  # A was gone for a single frame: still its first presentation
    assert reader.step() == []
    assert seen.codes == [A, B]


def test_two_passes_in_one_frame_are_each_reported_once(
    reader: CodeReader, camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    camera.showing = (A, B, A)
    frames(reader, clock, 2.0)
    assert seen.codes == [A, B]


def test_frames_that_never_came_do_not_count_as_absence(
    reader: CodeReader, camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    camera.showing = (A,)
    frames(reader, clock, 0.5)
    camera.capture_error = CameraTimeout("no frame")
    reader.step()
    clock.advance(5.0)  # the camera is restarted meanwhile; the phone is still there
    camera.capture_error = None
    frames(reader, clock, 1.0)
    assert seen.codes == [A]


# Camera faults ----------------------------------------------------------------------------
def test_a_camera_that_stops_delivering_is_one_fault_and_restarts_with_back_off(
    reader: CodeReader, camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    frames(reader, clock, 0.5)
    camera.capture_error = CameraTimeout("no frame within 2 s")
    failed_at = clock.monotonic()
    for _ in range(1300):  # 130 s of the reader trying
        reader.step()
        clock.advance(0.1)
    assert seen.faults == [(CAMERA_FAULT, "camera stopped delivering frames: no frame within 2 s")]
    restarts = [t - failed_at for t in camera.starts[1:]]
    gaps = np.diff([0.0, *restarts])
    assert gaps == pytest.approx([1, 2, 4, 8, 16, 30, 30, 30], abs=0.11)
    assert not camera.running and camera.stops >= len(restarts)
    assert reader.faulted and seen.recoveries == 0


def test_the_first_good_frame_reports_recovery_and_resets_the_back_off(
    reader: CodeReader, camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    camera.capture_error = RuntimeError("ribbon cable loose")
    for _ in range(100):
        reader.step()
        clock.advance(0.1)
    camera.capture_error = None
    frames(reader, clock, 20.0)  # long enough for the next restart (at most 16 s away)
    assert seen.recoveries == 1 and not reader.faulted
    assert seen.faults == [(CAMERA_FAULT, "camera capture failed: ribbon cable loose")]
    # A new failure starts the back-off from its first step again and is a new fault.
    camera.capture_error = RuntimeError("again")
    reader.step()
    failed_at, starts_before = clock.monotonic(), len(camera.starts)
    while len(camera.starts) == starts_before:
        clock.advance(0.05)
        reader.step()
    assert camera.starts[-1] - failed_at == pytest.approx(1.0, abs=0.06)
    assert [code for code, _ in seen.faults] == [CAMERA_FAULT, CAMERA_FAULT]


def test_a_camera_missing_at_boot_is_a_fault(
    reader: CodeReader, camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    camera.start_error = RuntimeError("no cameras available")
    assert reader.step() == []
    assert seen.faults == [(CAMERA_FAULT, "camera start failed: no cameras available")]
    assert reader.stats()["camera_ok"] is False


@pytest.mark.parametrize("bad_frame", [None, np.zeros((4, 4, 3), np.uint8), np.zeros((0, 0))])
def test_a_frame_that_is_not_an_image_is_a_camera_fault(
    reader: CodeReader, camera: FakeCamera, seen: Recorder, bad_frame: object
) -> None:
    camera.frame = bad_frame
    reader.step()
    assert [code for code, _ in seen.faults] == [CAMERA_FAULT]


def test_a_decoder_error_loses_the_frame_not_the_camera(
    camera: FakeCamera, clock: ManualClock, seen: Recorder
) -> None:
    decoder = FakeDecoder(camera)
    reader = CodeReader(camera, decoder, clock, seen.on_code, seen.on_fault)
    camera.showing = (A,)
    decoder.error = RuntimeError("decoder crashed")
    assert reader.step() == []
    decoder.error = None
    assert reader.step() == [A]
    assert seen.faults == [] and reader.stats()["frames"] == 2


def test_failing_listeners_do_not_stop_the_reader(camera: FakeCamera, clock: ManualClock) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("listener bug")

    reader = CodeReader(camera, FakeDecoder(camera), clock, explode, explode, explode)
    camera.showing = (A,)
    assert reader.step() == [A]
    camera.capture_error = RuntimeError("gone")
    reader.step()
    assert reader.faulted


# Rates ------------------------------------------------------------------------------------
def test_stats_give_frame_and_decode_rates_over_the_window(
    camera: FakeCamera, clock: ManualClock
) -> None:
    reader = CodeReader(camera, FakeDecoder(camera), clock, lambda code: None, rate_window_s=10.0)
    before = reader.stats()
    assert before["frame_rate_hz"] is None and before["last_frame_age_s"] is None
    for i in range(200):  # 20 s at 10 frames/s, a code read in one frame of four
        camera.showing = (A,) if i % 4 == 0 else ()
        reader.step()
    stats = reader.stats()
    assert stats["frame_rate_hz"] == pytest.approx(10.0, rel=0.02)
    assert stats["decode_rate_hz"] == pytest.approx(2.5, rel=0.05)
    assert stats["frames"] == 200 and stats["decodes"] == 50
    assert stats["last_frame_age_s"] == pytest.approx(0.0)
    assert stats["decode_ms"] >= 0 and stats["camera_ok"] is True
    clock.advance(3.0)
    stats = reader.stats()
    assert stats["last_frame_age_s"] == pytest.approx(3.0)
    assert stats["frame_rate_hz"] == pytest.approx(7.0, rel=0.03)  # 3 s without frames


# The simulated camera through the real decoder -------------------------------------------
def test_simulated_presentations_through_the_real_decoder(clock: ManualClock) -> None:
    text = sample_pass_text(np.random.default_rng(3))
    camera = SimCamera((640, 480), clock=clock, fps=15.0, seed=1)
    seen = Recorder()
    reader = CodeReader(camera, make_decoder("zxing"), clock, seen.on_code, absence_s=1.0)
    camera.show(Card(text, distance_mm=110.0))
    for _ in range(30):  # 2 s held in view
        reader.step()
    camera.clear()
    for _ in range(20):
        reader.step()
    camera.show(Card(text, distance_mm=120.0, rotation_deg=15.0))
    for _ in range(10):
        reader.step()
    assert seen.codes == [text.encode(), text.encode()]
    assert reader.stats()["frame_rate_hz"] == pytest.approx(15.0, rel=0.05)


# The reader's own thread ------------------------------------------------------------------
def test_the_thread_reports_codes_faults_and_recovery(clock: ManualClock) -> None:
    text = sample_pass_text(np.random.default_rng(4))
    camera = SimCamera((640, 480), clock=clock, fps=15.0, seed=2)
    read, faulted, recovered = threading.Event(), threading.Event(), threading.Event()
    codes: list[bytes] = []

    def on_code(code: bytes) -> None:
        codes.append(code)
        read.set()

    reader = CodeReader(
        camera, make_decoder("zxing"), clock, on_code,
        on_fault=lambda code, detail: faulted.set(), on_recovered=recovered.set,
    )
    camera.show(Card(text, distance_mm=110.0))
    reader.start()
    try:
        assert read.wait(10.0)
        camera.stall()
        assert faulted.wait(10.0)
        camera.heal()
        assert recovered.wait(10.0)
    finally:
        reader.stop()
    assert codes[0] == text.encode()
    assert not camera.started


def test_stop_is_prompt_during_a_long_back_off() -> None:
    camera = FakeCamera(ManualClock())
    camera.start_error = RuntimeError("no camera")
    faulted = threading.Event()
    reader = CodeReader(
        camera, FakeDecoder(camera), SystemClock(), lambda code: None,
        on_fault=lambda code, detail: faulted.set(), backoff_initial_s=30.0,
    )
    reader.start()
    assert faulted.wait(5.0)
    started = time.monotonic()
    reader.stop(timeout_s=5.0)
    assert time.monotonic() - started < 2.0
    assert len(camera.starts) == 1  # no retry before the 30 s back-off ran out
