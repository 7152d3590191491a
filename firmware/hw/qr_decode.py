"""QR decoder backends behind one small interface: pyzbar (ZBar), bare zxing-cpp, and the
staged reading pipeline over zxing-cpp (`firmware.hw.qr_pipeline`).

A decoder takes a grayscale frame (the Y plane of the camera's YUV stream, a 2-D uint8 numpy
array) and returns the raw bytes of every QR code it found. The bytes are not interpreted
here: the credential layer decides what a pass is.

`DEFAULT_DECODER` is the backend that measured better on realistic rendered frames
(`bench/bench_decode.py`: read rate first, then time per frame).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    GrayFrame = npt.NDArray[np.uint8]

# zxing-cpp read more codes than ZBar on every frame size of the benchmark, and in less time;
# the staged pipeline over it ("zxing") reads more again than one bare pass ("zxing-bare"),
# within twice its mean time per frame.
DEFAULT_DECODER = "zxing"


class DecoderUnavailable(RuntimeError):
    """The decoding library (or its native part, e.g. libzbar0) is not installed."""


class Decoder(Protocol):
    """Finds QR codes in one grayscale frame."""

    name: str

    def decode(self, gray: GrayFrame) -> list[bytes]:
        """Raw bytes of each distinct QR code found in `gray`, in the order found."""
        ...


def checked_gray(gray: GrayFrame) -> GrayFrame:
    """`gray` as a contiguous 2-D uint8 array; ValueError for anything else."""
    import numpy as np

    if not isinstance(gray, np.ndarray) or gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError("a frame must be a 2-D uint8 array (the Y plane)")
    # Both libraries read the buffer row by row; a strided view (e.g. a crop) must be copied.
    return np.ascontiguousarray(gray)


def _distinct(found: list[bytes]) -> list[bytes]:
    # A decoder may report the same symbol twice (e.g. ZBar on a normal and an inverted pass).
    return list(dict.fromkeys(code for code in found if code))


class PyzbarDecoder:
    """ZBar through pyzbar, QR symbology only.

    ZBar finds dark-on-light codes only; a phone in dark mode shows light-on-dark, so when a
    frame yields nothing it is scanned once more inverted (`try_inverted`).
    """

    name = "pyzbar"

    def __init__(self, try_inverted: bool = True) -> None:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as exc:  # pyzbar raises ImportError when libzbar is absent
            raise DecoderUnavailable(f"pyzbar decoder unavailable: {exc}") from None
        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]
        self._try_inverted = try_inverted

    def _scan(self, gray: GrayFrame) -> list[bytes]:
        height, width = gray.shape
        # The (pixels, width, height) form skips pyzbar's guessing of the image type.
        found = self._pyzbar.decode((gray.tobytes(), width, height), symbols=self._symbols)
        return [symbol.data for symbol in found]

    def decode(self, gray: GrayFrame) -> list[bytes]:
        """Raw bytes of each QR code in the frame (see `Decoder.decode`)."""
        gray = checked_gray(gray)
        codes = self._scan(gray)
        if not codes and self._try_inverted:
            codes = self._scan(255 - gray)
        return _distinct(codes)


class ZxingDecoder:
    """zxing-cpp in one pass with its defaults, QR Model 2 only (it tries inverted codes itself).

    zxing-cpp 3's `QRCode` format also admits Micro QR, which once read a false "6868" out of
    a pass code: a pass is never a Micro QR, so only `QRCodeModel2` is asked for.
    """

    name = "zxing-bare"

    def __init__(self) -> None:
        try:
            import zxingcpp
        except ImportError as exc:
            raise DecoderUnavailable(f"zxing decoder unavailable: {exc}") from None
        self._zxingcpp = zxingcpp
        self._formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCodeModel2)

    def decode(self, gray: GrayFrame) -> list[bytes]:
        """Raw bytes of each QR code in the frame (see `Decoder.decode`)."""
        gray = checked_gray(gray)
        found = self._zxingcpp.read_barcodes(gray, formats=self._formats)
        return _distinct([bytes(barcode.bytes) for barcode in found if barcode.valid])


def _staged() -> Decoder:
    try:
        from firmware.hw.qr_pipeline import ReadingPipeline
    except ImportError as exc:  # zxing-cpp or OpenCV missing
        raise DecoderUnavailable(f"zxing decoder unavailable: {exc}") from None
    return ReadingPipeline()


_BACKENDS: dict[str, Callable[[], Decoder]] = {
    PyzbarDecoder.name: PyzbarDecoder,
    "zxing": _staged,
    ZxingDecoder.name: ZxingDecoder,
}
DECODER_NAMES: tuple[str, ...] = tuple(_BACKENDS)


def make_decoder(name: str = DEFAULT_DECODER) -> Decoder:
    """The decoder called `name`: "pyzbar", "zxing" (the staged pipeline) or "zxing-bare".

    Raises ValueError for an unknown name and DecoderUnavailable when its library is missing.
    """
    backend = _BACKENDS.get(name)
    if backend is None:
        raise ValueError(f"unknown QR decoder {name!r}: choose one of {', '.join(DECODER_NAMES)}")
    return backend()
