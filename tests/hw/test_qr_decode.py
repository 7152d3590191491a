"""Every QR decoder on rendered camera frames: read what can be read, never a wrong code."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import segno
from PIL import Image

from firmware.hw.qr_decode import (
    DECODER_NAMES,
    DEFAULT_DECODER,
    Decoder,
    PyzbarDecoder,
    ZxingDecoder,
    make_decoder,
)
from firmware.hw.qr_pipeline import ReadingPipeline
from host_sim.camera_sim import (
    PAPER,
    Card,
    Conditions,
    Scene,
    pixels_per_module,
    render_scene,
    sample_pass_text,
)

SIZE = (640, 480)
PASS = sample_pass_text(np.random.default_rng(7))
OTHER_PASS = sample_pass_text(np.random.default_rng(8))
# 110 mm from the lens a phone's pass has about 3.6 camera pixels per module at 640 x 480.
FACING = Card(PASS, distance_mm=110.0)

READABLE = {
    "facing": (FACING, Conditions()),
    "printed_card": (replace(FACING, medium=PAPER, distance_mm=90.0), Conditions()),
    "turned_sideways": (replace(FACING, tilt_deg=10.0, tilt_axis_deg=90.0), Conditions()),
    "rotated": (replace(FACING, rotation_deg=40.0), Conditions()),
    "upside_down": (replace(FACING, rotation_deg=180.0), Conditions()),
    "defocused": (FACING, Conditions(blur_px=1.0)),
    "moving": (FACING, Conditions(motion_px=3.0, motion_angle_deg=20.0)),
    "noisy": (FACING, Conditions(noise=12.0)),
    "glare": (FACING, Conditions(glare=0.08)),
    "low_contrast": (replace(FACING, contrast=0.3), Conditions()),
    "dark_mode": (replace(FACING, dark_mode=True), Conditions()),
    "jpeg": (FACING, Conditions(jpeg_quality=30)),
    "dim_light": (FACING, Conditions(exposure=0.4, noise=5.0)),
}

HOPELESS = {
    "too_far": (replace(FACING, distance_mm=400.0), Conditions()),
    "defocused": (FACING, Conditions(blur_px=4.0)),
    "moving_fast": (FACING, Conditions(motion_px=15.0, motion_angle_deg=20.0)),
    "noise": (FACING, Conditions(noise=80.0)),
    "glare": (FACING, Conditions(glare=0.45, glare_at=(0.0, 0.0))),
    "contrast": (replace(FACING, contrast=0.04), Conditions()),
    "jpeg_at_the_reading_limit": (replace(FACING, distance_mm=150.0), Conditions(jpeg_quality=2)),
    "edge_on": (replace(FACING, tilt_deg=75.0), Conditions()),
}


@pytest.fixture(scope="module", params=DECODER_NAMES)
def decoder(request: pytest.FixtureRequest) -> Decoder:
    return make_decoder(request.param)


def frame_of(card: Card | None, conditions: Conditions, seed: int, background: int = 0):
    return render_scene(Scene(card, conditions, background), SIZE, np.random.default_rng(seed))


@pytest.mark.parametrize("case", sorted(READABLE))
def test_pass_is_read_through_a_reasonable_degradation(decoder: Decoder, case: str) -> None:
    card, conditions = READABLE[case]
    for seed in (1, 2):
        assert decoder.decode(frame_of(card, conditions, seed)) == [PASS.encode()], seed


@pytest.mark.parametrize("case", sorted(HOPELESS))
def test_hopeless_frame_yields_nothing(decoder: Decoder, case: str) -> None:
    card, conditions = HOPELESS[case]
    for seed in (1, 2):
        assert decoder.decode(frame_of(card, conditions, seed)) == [], seed


def test_three_pixels_per_module_is_enough(decoder: Decoder) -> None:
    # FIELD-NOTES: decoding needs roughly 3 camera pixels per module.
    module_px_at_1m = pixels_per_module(replace(FACING, distance_mm=1000.0), SIZE)
    card = replace(FACING, distance_mm=1000.0 * module_px_at_1m / 3.0)
    assert pixels_per_module(card, SIZE) == pytest.approx(3.0)
    assert decoder.decode(frame_of(card, Conditions(noise=3.0), 3)) == [PASS.encode()]


def test_empty_scenes_yield_no_code(decoder: Decoder) -> None:
    for background in range(4):
        frame = frame_of(None, Conditions(noise=4.0), background, background)
        assert decoder.decode(frame) == []


def test_two_passes_in_one_frame_are_both_read(decoder: Decoder) -> None:
    left = frame_of(FACING, Conditions(), 4)
    right = frame_of(Card(OTHER_PASS, distance_mm=110.0), Conditions(), 5)
    codes = decoder.decode(np.hstack([left, right]))
    assert sorted(codes) == sorted([PASS.encode(), OTHER_PASS.encode()])


def test_utf8_text_comes_back_byte_for_byte(decoder: Decoder) -> None:
    payload = "pass 3-2-501 通行".encode()
    buffer = io.BytesIO()
    segno.make_qr(payload, error="m").save(buffer, kind="png", scale=4, border=4)
    gray = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
    assert decoder.decode(gray) == [payload]


def test_a_cropped_view_of_a_frame_is_decoded(decoder: Decoder) -> None:
    frame = frame_of(FACING, Conditions(), 6)
    view = frame[20:460, 30:610]  # not contiguous in memory
    assert decoder.decode(view) == [PASS.encode()]


@pytest.mark.parametrize(
    "bad",
    [np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64), np.float32), [[0, 255]], np.zeros(10)],
)
def test_a_frame_that_is_not_a_gray_image_is_refused(decoder: Decoder, bad: object) -> None:
    with pytest.raises(ValueError, match="2-D uint8"):
        decoder.decode(bad)  # type: ignore[arg-type]


def test_zbar_reads_dark_mode_only_thanks_to_the_inverted_retry() -> None:
    frame = frame_of(replace(FACING, dark_mode=True), Conditions(), 1)
    assert PyzbarDecoder(try_inverted=False).decode(frame) == []
    assert PyzbarDecoder(try_inverted=True).decode(frame) == [PASS.encode()]


def test_decoders_are_made_by_name() -> None:
    assert isinstance(make_decoder("pyzbar"), PyzbarDecoder)
    assert isinstance(make_decoder("zxing"), ReadingPipeline)
    assert isinstance(make_decoder("zxing-bare"), ZxingDecoder)
    assert make_decoder().name == DEFAULT_DECODER
    assert DEFAULT_DECODER in DECODER_NAMES


def test_unknown_decoder_name_is_a_one_line_error() -> None:
    expected = r"^unknown QR decoder 'opencv': choose one of pyzbar, zxing, zxing-bare$"
    with pytest.raises(ValueError, match=expected):
        make_decoder("opencv")


@pytest.mark.parametrize("medium", ["phone", "paper"])
@pytest.mark.parametrize("text", ["x", "this-is-not-a-pass", "WEIXIN-PAY-7777"])
def test_short_codes_whose_quiet_zone_exceeds_the_card_still_render_and_decode(medium, text):
    from host_sim import camera_sim

    scene = camera_sim.Scene(camera_sim.Card(text, medium=medium, distance_mm=150))
    frame = camera_sim.render_scene(scene, (640, 480), np.random.default_rng(0))
    assert make_decoder("zxing").decode(frame) == [text.encode()]
