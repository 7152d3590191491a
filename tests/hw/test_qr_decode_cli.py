"""`gatekiosk decode IMAGE...`: one JSON line per image, stable exit codes, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import segno
from PIL import Image

from firmware.cli import main as gatekiosk
from firmware.hw.qr_decode import DEFAULT_DECODER
from host_sim.camera_sim import Card, Conditions, Scene, render_scene, sample_pass_text

PASS = sample_pass_text(np.random.default_rng(11))


def write_camera_frame(path: Path, card: Card | None) -> Path:
    frame = render_scene(Scene(card, Conditions()), (640, 480), np.random.default_rng(1))
    Image.fromarray(frame).save(path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict], str]:
    code = gatekiosk(["decode", *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


@pytest.mark.parametrize("decoder", ["pyzbar", "zxing", "zxing-bare"])
def test_each_image_gets_one_line_with_its_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], decoder: str
) -> None:
    with_pass = write_camera_frame(tmp_path / "phone.png", Card(PASS, distance_mm=110.0))
    empty = write_camera_frame(tmp_path / "hall.png", None)
    code, lines, err = run(capsys, str(with_pass), str(empty), "--decoder", decoder)
    assert code == 0 and err == ""
    assert [line["image"] for line in lines] == [str(with_pass), str(empty)]
    assert lines[0]["codes"] == [PASS] and lines[1]["codes"] == []
    assert all(line["decoder"] == decoder and line["ms"] >= 0 for line in lines)


def test_the_default_decoder_is_used_without_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = write_camera_frame(tmp_path / "phone.jpg", Card(PASS, distance_mm=100.0))
    code, lines, _ = run(capsys, str(image))
    assert code == 0
    assert lines == [{"image": str(image), "decoder": DEFAULT_DECODER, "codes": [PASS],
                      "ms": lines[0]["ms"]}]


def test_unreadable_files_are_reported_and_the_rest_still_decoded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    good = write_camera_frame(tmp_path / "phone.png", Card(PASS, distance_mm=110.0))
    missing = tmp_path / "missing.png"
    code, lines, err = run(capsys, str(garbage), str(good), str(missing), str(tmp_path))
    assert code == 1 and err == ""
    assert lines[0] == {"image": str(garbage), "error": lines[0]["error"]}
    assert "\n" not in lines[0]["error"] and lines[0]["error"]
    assert lines[1]["codes"] == [PASS]
    assert lines[2] == {"image": str(missing), "error": "no such file"}
    assert lines[3] == {"image": str(tmp_path), "error": "is a directory"}


def test_binary_code_is_printed_as_hex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = bytes([0x00, 0x9F, 0xFF, 0x80]) * 4
    image = tmp_path / "binary.png"
    segno.make_qr(payload, error="m").save(str(image), kind="png", scale=5, border=4)
    code, lines, _ = run(capsys, str(image), "--decoder", "zxing")
    assert code == 0
    assert lines[0]["codes"] == [{"hex": payload.hex()}]


def test_transparent_background_is_read_as_white(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Black modules on fully transparent black: flattened naively, the whole image is black.
    dark = np.array(list(segno.make_qr("gate-pass", error="m").matrix_iter(border=4)), bool)
    dark = dark.repeat(5, axis=0).repeat(5, axis=1)
    rgba = np.zeros((*dark.shape, 4), np.uint8)
    rgba[..., 3] = np.where(dark, 255, 0)
    image = tmp_path / "transparent.png"
    Image.fromarray(rgba).save(image)
    assert np.asarray(Image.open(image).convert("L")).max() == 0
    code, lines, _ = run(capsys, str(image))
    assert code == 0 and lines[0]["codes"] == ["gate-pass"]


def test_an_image_of_too_many_pixels_is_refused_before_it_is_decoded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small file can declare a huge image; its size is read from the header only.
    huge = tmp_path / "huge.png"
    Image.new("L", (5000, 4000), 255).save(huge)  # 20 Mpx, a file of about 20 KB
    good = write_camera_frame(tmp_path / "phone.png", Card(PASS, distance_mm=110.0))
    loads: list[tuple[int, int]] = []
    real_load = Image.Image.load

    def counting_load(image: Image.Image):  # type: ignore[no-untyped-def]
        loads.append(image.size)
        return real_load(image)

    monkeypatch.setattr(Image.Image, "load", counting_load)
    code, lines, err = run(capsys, str(huge), str(good))
    assert code == 1 and err == ""
    assert lines[0] == {
        "image": str(huge),
        "error": "image too large: 5000 x 4000 pixels (at most 16,000,000 are decoded)",
    }
    assert (5000, 4000) not in loads
    assert lines[1]["codes"] == [PASS]


@pytest.mark.parametrize(
    "argv", [[], ["--decoder", "opencv", "x.png"], ["x.png", "--frames", "3"]]
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        gatekiosk(["decode", *argv])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
