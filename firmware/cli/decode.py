"""`gatekiosk decode IMAGE...`: decode QR codes in image files, one JSON line per image.

For a technician checking a pass image, a camera snapshot or a printed card scan with the
same decoder the kiosk uses. Each line is either
`{"image": path, "decoder": name, "codes": [text or {"hex": ...}], "ms": decode time}` or
`{"image": path, "error": "one-line reason"}` for a file that cannot be opened as an image.
Exit status: 0 when every image was read (even with no code in it), 1 when any could not be,
2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from firmware.errors import one_line
from firmware.hw.qr_decode import (
    DECODER_NAMES,
    DEFAULT_DECODER,
    Decoder,
    DecoderUnavailable,
    make_decoder,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the subcommand's arguments."""
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    parser.add_argument(
        "--decoder",
        choices=DECODER_NAMES,
        default=DEFAULT_DECODER,
        help=f"QR decoder to use (default: {DEFAULT_DECODER})",
    )


# Largest image decoded, in pixels: a 12-megapixel phone photo or an A4 scan at 400 dpi fits.
# A small file can declare a huge image (a 519 KB PNG once took 1.19 GB to decode): the size
# is checked from the header, before any pixel is decoded.
MAX_IMAGE_PIXELS = 16_000_000


def load_gray(path: str) -> npt.NDArray[np.uint8]:
    """The image at `path` as 8-bit grayscale; transparent parts are shown on white.

    Raises OSError or ValueError with a readable message when the file is not an image or
    has more than MAX_IMAGE_PIXELS pixels.
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ValueError(
                    f"image too large: {width} x {height} pixels "
                    f"(at most {MAX_IMAGE_PIXELS:,} are decoded)"
                )
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                # A QR saved with a transparent background would otherwise turn black on black.
                rgba = image.convert("RGBA")
                backdrop = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                gray = Image.alpha_composite(backdrop, rgba).convert("L")
            else:
                gray = image.convert("L")
    except UnidentifiedImageError:
        raise ValueError("not an image file Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"image too large: {exc}") from None
    except SyntaxError as exc:  # Pillow reports some malformed files this way
        raise ValueError(f"malformed image: {exc}") from None
    return np.asarray(gray, dtype=np.uint8)


def code_as_json(code: bytes) -> str | dict[str, str]:
    """The code's text when it is UTF-8, else its bytes in hex."""
    try:
        return code.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": code.hex()}


def decode_file(path: str, decoder: Decoder) -> dict[str, Any]:
    """One output record for the image at `path`."""
    try:
        gray = load_gray(path)
    except (OSError, ValueError) as exc:
        return {"image": path, "error": _reason(exc)}
    started = time.perf_counter()
    try:
        codes = decoder.decode(gray)
    except Exception as exc:  # a decoder crash on one image must not hide the others
        return {"image": path, "error": f"decoder failed: {_reason(exc)}"}
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    return {
        "image": path,
        "decoder": decoder.name,
        "codes": [code_as_json(code) for code in codes],
        "ms": round(elapsed_ms, 2),
    }


def main(args: argparse.Namespace) -> int:
    """Decode every image given; print one JSON line each."""
    try:
        decoder = make_decoder(args.decoder)
    except (ValueError, DecoderUnavailable) as exc:
        sys.stderr.write(f"gatekiosk decode: error: {exc}\n")
        return 2 if isinstance(exc, ValueError) else 1
    all_read = True
    for path in args.images:
        record = decode_file(path, decoder)
        all_read = all_read and "error" not in record
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
    return 0 if all_read else 1


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return one_line(exc, 200)
