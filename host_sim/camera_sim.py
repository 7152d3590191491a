"""Simulated kiosk camera: renders what stands in front of the lens, frame by frame.

A scene is either nothing (the background clutter of an entrance hall) or a card held up to
the camera — a phone screen or a printed card carrying a pass QR — at a distance, tilt and
rotation, seen through the degradations real frames suffer: defocus and motion blur, sensor
noise, glare, low contrast, dark mode, JPEG artefacts. Frames are the grayscale Y plane the Pi
camera delivers, so they go through the real QR decoder unchanged.

Geometry is a pinhole camera with the Raspberry Pi Camera Module 3's field of view: the size
of a QR module in camera pixels follows from the code's printed size and its distance, which
is what decides whether a pass can be read (about 3 camera pixels per module are needed).

Only numpy and Pillow are used; every random choice comes from the caller's seeded generator.
"""

from __future__ import annotations

import base64
import io
import math
import threading
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFilter

from firmware.hw.code_reader import CameraTimeout

if TYPE_CHECKING:
    import numpy.typing as npt

    from firmware.clock import Clock

    GrayFrame = npt.NDArray[np.uint8]
    FloatImage = npt.NDArray[np.float32]

# Raspberry Pi Camera Module 3 (IMX708, standard lens) product brief: "Vertical field of view:
# 41 degrees" on its 16:9 sensor. 4:3 frames keep the full height and crop the sides, so the
# vertical field decides the focal length in pixels for every frame size we use.
CAMERA_VERTICAL_FOV_DEG = 41.0
# Sharpness of lens + sensor + ISP, as a gaussian sigma in camera pixels, on top of any blur.
OPTICS_SIGMA_PX = 0.7
# Blur and motion are given in pixels of a frame this wide and scale with the frame, so one
# scene looks the same at every resolution.
REFERENCE_WIDTH_PX = 640

PHONE = "phone"
PAPER = "paper"
# Side of the QR symbol (without its quiet zone) as people show it: a pass app on a phone
# screen, and a pass printed on a card of credit-card size (ISO/IEC 7810 ID-1, 85.60 x 53.98 mm).
DEFAULT_QR_MM = {PHONE: 55.0, PAPER: 45.0}
QR_ERROR_CORRECTION = "m"
QR_QUIET_ZONE_MODULES = 4

# Luma levels (0-255) of what the camera sees at normal exposure.
_SCREEN_LIGHT, _SCREEN_DARK = 235.0, 12.0  # phone screen: white and black pixels
_PHONE_BODY = 28.0
_PAPER_WHITE, _PAPER_INK = 215.0, 30.0
# A glare blob's peak, well above full scale so that its core saturates.
_GLARE_PEAK = 2.5 * 255.0


@dataclass(frozen=True)
class Card:
    """A phone screen or printed card carrying a pass QR, held in front of the camera.

    distance_mm is from the lens to the QR's centre; tilt_deg turns the card away from facing
    the camera about an axis lying in the card at tilt_axis_deg; rotation_deg turns it in its
    own plane; offset places the QR centre in the frame (fractions of the half-width and
    half-height, 0 = centre); contrast scales the difference between dark and light (1 = full);
    dark_mode shows light modules on a dark screen.
    """

    text: str
    medium: str = PHONE
    distance_mm: float = 150.0
    qr_mm: float | None = None
    tilt_deg: float = 0.0
    tilt_axis_deg: float = 0.0
    rotation_deg: float = 0.0
    offset: tuple[float, float] = (0.0, 0.0)
    dark_mode: bool = False
    contrast: float = 1.0

    def __post_init__(self) -> None:
        if self.medium not in DEFAULT_QR_MM:
            raise ValueError(f"medium must be {PHONE!r} or {PAPER!r}, not {self.medium!r}")
        if not self.text:
            raise ValueError("a card needs the text of its QR code")
        if not 50.0 <= self.distance_mm <= 3000.0:
            raise ValueError("distance_mm must be within 50-3000")
        if not 0.0 <= self.tilt_deg <= 75.0:
            raise ValueError("tilt_deg must be within 0-75")
        if not 0.0 < self.contrast <= 1.0:
            raise ValueError("contrast must be within (0, 1]")
        if self.qr_mm is not None and not 5.0 <= self.qr_mm <= 150.0:
            raise ValueError("qr_mm must be within 5-150")

    @property
    def symbol_mm(self) -> float:
        """Side of the QR symbol without its quiet zone, in millimetres."""
        return self.qr_mm if self.qr_mm is not None else DEFAULT_QR_MM[self.medium]


@dataclass(frozen=True)
class Conditions:
    """How the camera sees the scene: optics, motion, light and sensor.

    blur_px (defocus, gaussian sigma) and motion_px (length of a straight smear at
    motion_angle_deg) are in pixels of a 640-pixel-wide frame; noise is the sensor's noise
    sigma in luma levels; glare is the radius of a saturated reflection as a fraction of the
    QR's side, centred at glare_at (fractions of the side from the QR's centre); exposure
    scales the light; jpeg_quality re-encodes the frame (None: raw, as the Pi delivers it).
    """

    blur_px: float = 0.0
    motion_px: float = 0.0
    motion_angle_deg: float = 0.0
    noise: float = 2.0
    glare: float = 0.0
    glare_at: tuple[float, float] = (0.15, -0.1)
    exposure: float = 1.0
    jpeg_quality: int | None = None

    def __post_init__(self) -> None:
        if self.blur_px < 0 or self.motion_px < 0 or self.noise < 0 or self.glare < 0:
            raise ValueError("blur_px, motion_px, noise and glare cannot be negative")
        if not 0.0 < self.exposure <= 4.0:
            raise ValueError("exposure must be within (0, 4]")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 95:
            raise ValueError("jpeg_quality must be within 1-95")


@dataclass(frozen=True)
class Scene:
    """What the camera looks at: a card or nothing, in front of one of the backgrounds."""

    card: Card | None = None
    conditions: Conditions = field(default_factory=Conditions)
    background: int = 0


def focal_length_px(size: tuple[int, int]) -> float:
    """Focal length in pixels of a frame of `size` (width, height) from the camera's field."""
    _, height = size
    return (height / 2.0) / math.tan(math.radians(CAMERA_VERTICAL_FOV_DEG) / 2.0)


@lru_cache(maxsize=64)
def qr_matrix(text: str) -> npt.NDArray[np.bool_]:
    """The QR symbol of `text` with its quiet zone, True for dark modules (error level M)."""
    symbol = segno.make_qr(text, error=QR_ERROR_CORRECTION, boost_error=False)
    rows = list(symbol.matrix_iter(scale=1, border=QR_QUIET_ZONE_MODULES))
    matrix = np.array(rows, dtype=bool)
    matrix.flags.writeable = False
    return matrix


def module_mm(card: Card) -> float:
    """Side of one QR module on the card, in millimetres."""
    modules = qr_matrix(card.text).shape[0] - 2 * QR_QUIET_ZONE_MODULES
    return card.symbol_mm / modules


def pixels_per_module(card: Card, size: tuple[int, int]) -> float:
    """Camera pixels per QR module for the card facing the camera at its distance."""
    return focal_length_px(size) * module_mm(card) / card.distance_mm


def render_scene(scene: Scene, size: tuple[int, int], rng: np.random.Generator) -> GrayFrame:
    """One grayscale frame (height x width uint8) of `scene` at `size` (width, height)."""
    clean = render_optical_image(scene, size)
    return expose(clean, scene.conditions, rng)


def render_optical_image(scene: Scene, size: tuple[int, int]) -> FloatImage:
    """The light reaching the sensor (float luma, unclipped), before noise and encoding.

    Deterministic: a camera showing an unchanged scene reuses it and only adds fresh noise.
    """
    width, height = size
    if width < 64 or height < 48:
        raise ValueError("a frame must be at least 64 x 48 pixels")
    conditions = scene.conditions
    image = np.asarray(_background(size, scene.background), dtype=np.float32).copy()
    if scene.card is not None:
        warped, mask, qr_centre, qr_side_px = _place_card(scene.card, size)
        image = image * (1.0 - mask) + warped * mask
        image *= conditions.exposure
        if conditions.glare > 0:
            centre = (
                qr_centre[0] + conditions.glare_at[0] * qr_side_px,
                qr_centre[1] + conditions.glare_at[1] * qr_side_px,
            )
            _add_glare(image, centre, conditions.glare * qr_side_px)
    else:
        image *= conditions.exposure
    scale = width / REFERENCE_WIDTH_PX
    image = _gaussian_blur(image, math.hypot(OPTICS_SIGMA_PX, conditions.blur_px * scale))
    if conditions.motion_px > 0:
        image = _motion_blur(image, conditions.motion_px * scale, conditions.motion_angle_deg)
    return image


def expose(clean: FloatImage, conditions: Conditions, rng: np.random.Generator) -> GrayFrame:
    """Sensor noise, quantisation to 8 bits and optional JPEG re-encoding of an optical image."""
    frame = clean
    if conditions.noise > 0:
        noise = rng.standard_normal(clean.shape, dtype=np.float32)
        frame = clean + noise * np.float32(conditions.noise)
    gray = np.clip(frame, 0.0, 255.0).round().astype(np.uint8)
    if conditions.jpeg_quality is not None:
        buffer = io.BytesIO()
        Image.fromarray(gray).save(buffer, format="JPEG", quality=conditions.jpeg_quality)
        buffer.seek(0)
        gray = np.asarray(Image.open(buffer).convert("L"), dtype=np.uint8)
    return gray


def sample_pass_text(rng: np.random.Generator) -> str:
    """Random text shaped like a pass: a compact JWS of ~500 characters (QR version 18).

    Three base64url segments (header, claims, Ed25519 signature) of the lengths a gate pass
    has; not signed, so only good for exercising the camera and the decoder.
    """

    def segment(size: int) -> str:
        return base64.urlsafe_b64encode(rng.bytes(size)).rstrip(b"=").decode("ascii")

    return ".".join((segment(60), segment(260), segment(64)))


def realistic_scene(
    rng: np.random.Generator, text: str, empty_share: float = 0.15
) -> Scene:
    """A random scene as a gate camera meets them: mostly passes shown at arm's length.

    The mix (phones and printed cards, 7-30 cm, tilted, turned, sometimes out of focus or
    moving, dim, glaring, in dark mode, or re-encoded) is what the read-rate benchmark uses.
    """
    background = int(rng.integers(0, _BACKGROUND_VARIANTS))
    if rng.random() < empty_share:
        return Scene(None, Conditions(noise=float(rng.uniform(1.5, 6.0))), background)
    medium = PHONE if rng.random() < 0.75 else PAPER
    distance = float(rng.triangular(70.0, 140.0, 300.0))
    rotation = float(rng.uniform(-180, 180) if rng.random() < 0.1 else rng.normal(0, 12))
    card = Card(
        text=text,
        medium=medium,
        distance_mm=distance,
        tilt_deg=float(min(abs(rng.normal(0.0, 15.0)), 60.0)),
        tilt_axis_deg=float(rng.uniform(0.0, 180.0)),
        rotation_deg=rotation,
        offset=(float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.3, 0.3))),
        dark_mode=medium == PHONE and rng.random() < 0.2,
        contrast=float(rng.uniform(0.3, 0.6) if rng.random() < 0.2 else rng.uniform(0.8, 1.0)),
    )
    # Camera Module 3 focuses from 10 cm: anything nearer is out of focus, and autofocus
    # is sometimes still hunting when the frame is taken.
    blur = max(0.0, (100.0 - distance) / 12.0)
    if rng.random() < 0.2:
        blur += float(rng.uniform(0.5, 2.0))
    low_light = rng.random() < 0.15
    conditions = Conditions(
        blur_px=blur,
        motion_px=float(rng.uniform(1.0, 6.0)) if rng.random() < 0.25 else 0.0,
        motion_angle_deg=float(rng.uniform(0.0, 180.0)),
        noise=float(rng.uniform(4.0, 9.0) if low_light else rng.uniform(1.5, 5.0)),
        glare=float(rng.uniform(0.05, 0.2)) if rng.random() < 0.2 else 0.0,
        glare_at=(float(rng.uniform(-0.4, 0.4)), float(rng.uniform(-0.4, 0.4))),
        exposure=float(rng.uniform(0.35, 0.6)) if low_light else 1.0,
        jpeg_quality=int(rng.integers(35, 76)) if rng.random() < 0.15 else None,
    )
    return Scene(card, conditions, background)


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


# Rendering ------------------------------------------------------------------------------------
_BACKGROUND_VARIANTS = 4
_TEXTURE_STEPS = (2, 3, 4, 6, 8, 11, 16)


@lru_cache(maxsize=16)
def _background(size: tuple[int, int], variant: int) -> npt.NDArray[np.uint8]:
    """An entrance hall behind the card: wall, door frame, notices, a person, blinds, tiles.

    Drawn in fractions of the frame so that every resolution shows the same hall.
    """
    width, height = size
    layout = np.random.default_rng(1000 + variant % _BACKGROUND_VARIANTS)
    top, bottom = layout.uniform(90, 150), layout.uniform(110, 170)
    wall = np.linspace(top, bottom, height, dtype=np.float32)[:, None]
    image = Image.fromarray(np.repeat(wall, width, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(image)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        return (int(x0 * width), int(y0 * height), int(x1 * width), int(y1 * height))

    # Door frame and floor tiles.
    door_x = layout.uniform(0.05, 0.3)
    draw.rectangle(box(door_x, 0.05, door_x + 0.3, 1.0), outline=60, width=max(2, width // 80))
    tile = max(4, width // 24)
    for row_y in range(int(0.8 * height), height, tile):
        for col_x in range((row_y // tile) % 2 * tile, width, 2 * tile):
            draw.rectangle((col_x, row_y, col_x + tile - 1, row_y + tile - 1), fill=175)
    # Notices with lines of text on the wall.
    for _ in range(3):
        x0, y0 = layout.uniform(0.0, 0.8), layout.uniform(0.0, 0.6)
        w, h = layout.uniform(0.08, 0.2), layout.uniform(0.1, 0.25)
        draw.rectangle(box(x0, y0, x0 + w, y0 + h), fill=int(layout.uniform(190, 240)))
        for line in range(int(h * height / max(6, height // 40))):
            ly = y0 + (line + 0.5) * max(6, height // 40) / height
            lw = w * layout.uniform(0.4, 0.9)
            draw.rectangle(box(x0 + 0.01, ly, x0 + 0.01 + lw, ly + 0.006), fill=50)
    # Window blinds: a stripe pattern, the kind of texture that tempts a finder detector.
    bx = layout.uniform(0.55, 0.8)
    stripe = max(3, height // 60)
    for y in range(int(0.05 * height), int(0.4 * height), 2 * stripe):
        draw.rectangle((int(bx * width), y, int((bx + 0.18) * width), y + stripe - 1), fill=215)
    # A person waiting behind: head and shoulders.
    px = layout.uniform(0.35, 0.7)
    draw.ellipse(box(px, 0.25, px + 0.12, 0.45), fill=int(layout.uniform(80, 130)))
    draw.rectangle(box(px - 0.08, 0.45, px + 0.2, 1.0), fill=int(layout.uniform(30, 90)))
    result = np.asarray(image, dtype=np.uint8)
    result.flags.writeable = False
    return result


def _card_texture(card: Card, px_per_module: int) -> tuple[Image.Image, float, float, float]:
    """The card at full contrast as an "LA" image, the pixel of the QR's centre, and pixels
    per millimetre."""
    return _card_texture_cached(
        card.text, card.medium, card.symbol_mm, card.dark_mode, px_per_module
    )


def _card_levels(medium: str, dark_mode: bool) -> tuple[float, float]:
    """Luma of the card's surface and of its ink (the QR's background and its modules)."""
    if medium == PAPER:
        return _PAPER_WHITE, _PAPER_INK
    return (_SCREEN_DARK, _SCREEN_LIGHT) if dark_mode else (_SCREEN_LIGHT, _SCREEN_DARK)


@lru_cache(maxsize=16)  # a close-up phone at 1280 x 960 is a texture of ~14 MB
def _card_texture_cached(
    text: str, medium: str, symbol_mm: float, dark_mode: bool, k: int
) -> tuple[Image.Image, float, float, float]:
    matrix = qr_matrix(text)
    modules = matrix.shape[0] - 2 * QR_QUIET_ZONE_MODULES
    px_per_mm = k * modules / symbol_mm
    # The card's extent in millimetres around the QR's centre (x right, y down).
    if medium == PHONE:
        left, right, top, bottom = -36.0, 36.0, -62.0, 88.0
    else:
        half = symbol_mm / 2 + 5.0
        left, right, top, bottom = -half, -half + 85.6, -26.99, 26.99
    surface, ink = _card_levels(medium, dark_mode)
    width = round((right - left) * px_per_mm)
    height = round((bottom - top) * px_per_mm)
    texture = np.full((height, width), surface, dtype=np.float32)

    def span(lo_mm: float, hi_mm: float, origin_mm: float) -> slice:
        return slice(max(0, round((lo_mm - origin_mm) * px_per_mm)),
                     max(0, round((hi_mm - origin_mm) * px_per_mm)))

    # Lines of text around the code: deterministic per pass, so the same card looks the same.
    layout = np.random.default_rng(zlib.crc32(text.encode()))
    if medium == PHONE:
        texture[:, : span(left, -33.5, left).stop] = _PHONE_BODY
        texture[:, span(33.5, right, left)] = _PHONE_BODY
        texture[: span(top, -53.0, top).stop, :] = _PHONE_BODY
        texture[span(79.0, bottom, top), :] = _PHONE_BODY
        lines = [(-48.0, 4.0, 40.0)] + [(40.0 + 7.0 * i, 3.0, 0.0) for i in range(5)]
        for y_mm, h_mm, w_mm in lines:
            w_mm = w_mm or float(layout.uniform(20.0, 55.0))
            texture[span(y_mm, y_mm + h_mm, top), span(-w_mm / 2, w_mm / 2, left)] = ink
    else:
        x0 = symbol_mm / 2 + 8.0
        for i in range(6):
            y_mm = -20.0 + 7.0 * i
            w_mm = float(layout.uniform(12.0, right - x0 - 3.0))
            texture[span(y_mm, y_mm + 2.5, top), span(x0, x0 + w_mm, left)] = ink
    # The symbol with its quiet zone, each module k x k pixels.
    symbol = np.where(np.repeat(np.repeat(matrix, k, axis=0), k, axis=1), ink, surface)
    side_mm = symbol.shape[0] / px_per_mm
    rows = span(-side_mm / 2, side_mm / 2, top)
    cols = span(-side_mm / 2, side_mm / 2, left)
    # A small symbol's quiet zone can be wider than the phone's screen: the part of the
    # quiet zone that does not fit is trimmed evenly (it is plain surface anyway).
    over_w = max(0, symbol.shape[1] - width)
    over_h = max(0, symbol.shape[0] - height)
    if over_w or over_h:
        symbol = symbol[
            over_h // 2 : symbol.shape[0] - (over_h - over_h // 2),
            over_w // 2 : symbol.shape[1] - (over_w - over_w // 2),
        ]
        rows = slice(rows.start + over_h // 2, rows.stop)
        cols = slice(cols.start + over_w // 2, cols.stop)
    row0 = min(max(0, rows.start), height - symbol.shape[0])
    col0 = min(max(0, cols.start), width - symbol.shape[1])
    rows = slice(row0, row0 + symbol.shape[0])
    cols = slice(col0, col0 + symbol.shape[1])
    texture[rows, cols] = symbol
    luma = Image.fromarray(np.clip(texture, 0, 255).round().astype(np.uint8))
    alpha = Image.new("L", luma.size, 255)
    image = Image.merge("LA", (luma, alpha))
    centre_u = cols.start + symbol.shape[1] / 2.0
    centre_v = rows.start + symbol.shape[0] / 2.0
    return image, centre_u, centre_v, px_per_mm


def _rotation(card: Card) -> npt.NDArray[np.float64]:
    """Card-to-camera rotation: in-plane rotation, then the tilt about an in-plane axis."""
    roll = math.radians(card.rotation_deg)
    in_plane = np.array(
        [[math.cos(roll), -math.sin(roll), 0.0], [math.sin(roll), math.cos(roll), 0.0], [0, 0, 1]]
    )
    axis_angle = math.radians(card.tilt_axis_deg)
    axis = np.array([math.cos(axis_angle), math.sin(axis_angle), 0.0])
    theta = math.radians(card.tilt_deg)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    tilt = np.eye(3) + math.sin(theta) * cross + (1 - math.cos(theta)) * (cross @ cross)
    rotation: npt.NDArray[np.float64] = tilt @ in_plane
    return rotation


def _place_card(
    card: Card, size: tuple[int, int]
) -> tuple[FloatImage, FloatImage, tuple[float, float], float]:
    """The card warped into the frame: luma, coverage mask, QR centre (px), QR side (px)."""
    width, height = size
    focal = focal_length_px(size)
    centre_x, centre_y = width / 2.0, height / 2.0
    # Texture resolution at least twice the camera's, so bilinear sampling does not alias;
    # a few fixed steps, so that textures are reused from frame to frame.
    wanted = 2.0 * pixels_per_module(card, size) * 1.3
    k = next((step for step in _TEXTURE_STEPS if step >= wanted), _TEXTURE_STEPS[-1])
    texture, u0, v0, px_per_mm = _card_texture(card, k)
    rotation = _rotation(card)
    depth = card.distance_mm
    shift_x = card.offset[0] * centre_x * depth / focal
    shift_y = card.offset[1] * centre_y * depth / focal
    translation = np.array([shift_x, shift_y, depth])
    # Texture pixel (u, v) sits at rotation @ ((u - u0, v - v0, 0) / px_per_mm) + translation.
    e_u = rotation[:, 0] / px_per_mm
    e_v = rotation[:, 1] / px_per_mm
    origin = translation - u0 * e_u - v0 * e_v
    corners_z = [origin[2] + u * e_u[2] + v * e_v[2]
                 for u in (0, texture.width) for v in (0, texture.height)]
    if min(corners_z) < 0.2 * depth:
        # Steeply tilted close up, the far end of a phone would reach behind the lens: keep
        # only the symbol and its quiet zone, which always stays in front.
        side = qr_matrix(card.text).shape[0] * k
        left, top = round(u0 - side / 2), round(v0 - side / 2)
        texture = texture.crop((left, top, left + side, top + side))
        origin = origin + left * e_u + top * e_v
    intrinsics = np.array([[focal, 0.0, centre_x], [0.0, focal, centre_y], [0.0, 0.0, 1.0]])
    texture_to_frame = intrinsics @ np.column_stack([e_u, e_v, origin])
    frame_to_texture = np.linalg.inv(texture_to_frame)
    frame_to_texture /= frame_to_texture[2, 2]
    coefficients = tuple(float(c) for c in frame_to_texture.flatten()[:8])
    warped = texture.transform(
        size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR,
        fillcolor=(0, 0),
    )
    luma = np.asarray(warped.getchannel("L"), dtype=np.float32)
    if card.contrast < 1.0:
        # A dim screen or faded print: dark and light move towards each other.
        surface, ink = _card_levels(card.medium, card.dark_mode)
        mid = np.float32((surface + ink) / 2.0)
        luma = mid + (luma - mid) * np.float32(card.contrast)
    mask = np.asarray(warped.getchannel("A"), dtype=np.float32) / np.float32(255.0)
    centre_frame = texture_to_frame @ np.array([u0, v0, 1.0])
    qr_centre = (float(centre_frame[0] / centre_frame[2]), float(centre_frame[1] / centre_frame[2]))
    qr_side_px = focal * card.symbol_mm / float(centre_frame[2])
    return luma, mask, qr_centre, qr_side_px


def _add_glare(image: FloatImage, centre: tuple[float, float], radius_px: float) -> None:
    """A specular reflection: a gaussian blob whose core saturates the sensor (in place)."""
    if radius_px <= 0:
        return
    height, width = image.shape
    reach = 3.0 * radius_px
    x0, x1 = max(0, int(centre[0] - reach)), min(width, int(centre[0] + reach) + 1)
    y0, y1 = max(0, int(centre[1] - reach)), min(height, int(centre[1] + reach) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(centre[1])
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(centre[0])
    squared = (xs * xs + ys * ys) / np.float32(radius_px * radius_px)
    image[y0:y1, x0:x1] += np.float32(_GLARE_PEAK) * np.exp(-0.5 * squared)


def _gaussian_blur(image: FloatImage, sigma_px: float) -> FloatImage:
    """Gaussian blur (Pillow's filter works on 8-bit images: saturated light clips first)."""
    gray = np.clip(image, 0.0, 255.0).round().astype(np.uint8)
    if sigma_px >= 0.05:
        gray = np.asarray(Image.fromarray(gray).filter(ImageFilter.GaussianBlur(sigma_px)))
    return np.asarray(gray, dtype=np.float32)


def _motion_blur(image: FloatImage, length_px: float, angle_deg: float) -> FloatImage:
    """A straight smear of `length_px` at `angle_deg`: the mean of shifted copies."""
    steps = max(2, math.ceil(length_px) + 1)
    angle = math.radians(angle_deg)
    total = np.zeros_like(image)
    for i in range(steps):
        along = (i / (steps - 1) - 0.5) * length_px
        shift = (round(along * math.sin(angle)), round(along * math.cos(angle)))
        total += np.roll(image, shift, axis=(0, 1))
    result: FloatImage = total / np.float32(steps)
    return result
