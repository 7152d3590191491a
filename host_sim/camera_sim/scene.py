"""What stands in front of the simulated camera: a card (phone screen or printed pass) or
nothing, how the camera sees it (optics, motion, light, sensor), the pinhole geometry of the
Camera Module 3, and the random mix of scenes a gate camera meets (`realistic_scene`).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import segno

from host_sim.camera_sim.hall import BACKGROUND_VARIANTS

if TYPE_CHECKING:
    import numpy.typing as npt

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
    background = int(rng.integers(0, BACKGROUND_VARIANTS))
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
