"""Rendering a scene into a frame: the optical image (card over the hall, exposure, glare,
defocus and motion blur), then the sensor (noise, 8-bit quantisation, optional JPEG)."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFilter

from host_sim.camera_sim.card import place_card
from host_sim.camera_sim.hall import background
from host_sim.camera_sim.scene import OPTICS_SIGMA_PX, REFERENCE_WIDTH_PX, Conditions, Scene

if TYPE_CHECKING:
    import numpy.typing as npt

    GrayFrame = npt.NDArray[np.uint8]
    FloatImage = npt.NDArray[np.float32]

# A glare blob's peak, well above full scale so that its core saturates.
_GLARE_PEAK = 2.5 * 255.0


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
    image = np.asarray(background(size, scene.background), dtype=np.float32).copy()
    if scene.card is not None:
        warped, mask, qr_centre, qr_side_px = place_card(scene.card, size)
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
