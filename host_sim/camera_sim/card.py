"""The card as the camera sees it: its texture (the pass QR, text lines, the phone's body)
and its perspective warp into the frame by the pinhole model."""

from __future__ import annotations

import math
import zlib
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from host_sim.camera_sim.scene import (
    PAPER,
    PHONE,
    QR_QUIET_ZONE_MODULES,
    Card,
    focal_length_px,
    pixels_per_module,
    qr_matrix,
)

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatImage = npt.NDArray[np.float32]

# Luma levels (0-255) of what the camera sees at normal exposure.
_SCREEN_LIGHT, _SCREEN_DARK = 235.0, 12.0  # phone screen: white and black pixels
_PHONE_BODY = 28.0
_PAPER_WHITE, _PAPER_INK = 215.0, 30.0
_TEXTURE_STEPS = (2, 3, 4, 6, 8, 11, 16)


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


def place_card(
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
