"""The `[camera]` section: which camera, which decoder, the frame size."""

from __future__ import annotations

from dataclasses import dataclass

from firmware.hw.qr_decode import DECODER_NAMES, DEFAULT_DECODER
from firmware.settings import setting


@dataclass(frozen=True)
class CameraSettings:
    """How the code reader sees."""

    # "pi": picamera2 on the Pi; "sim": rendered frames (host simulator).
    source: str = setting("pi", choices=("pi", "sim"))
    # "zxing": the staged reading pipeline; "zxing-bare": one plain zxing-cpp pass; "pyzbar".
    decoder: str = setting(DEFAULT_DECODER, choices=DECODER_NAMES)
    width: int = setting(1280, 160, 4056)
    height: int = setting(960, 120, 3040)
    # A code absent this long may be reported again (a new presentation).
    absence_s: float = setting(1.0, 0.1, 30.0)
