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

The package: `scene` (what is shown and how it is seen, the geometry, `realistic_scene`),
`hall` (the background), `card` (the card's texture and warp), `optics` (`render_scene`:
optics and sensor), `device` (`SimCamera`). Everything public is importable from here.
"""

from host_sim.camera_sim.device import SimCamera
from host_sim.camera_sim.optics import expose, render_optical_image, render_scene
from host_sim.camera_sim.scene import (
    CAMERA_VERTICAL_FOV_DEG,
    DEFAULT_QR_MM,
    OPTICS_SIGMA_PX,
    PAPER,
    PHONE,
    QR_ERROR_CORRECTION,
    QR_QUIET_ZONE_MODULES,
    REFERENCE_WIDTH_PX,
    Card,
    Conditions,
    Scene,
    focal_length_px,
    module_mm,
    pixels_per_module,
    qr_matrix,
    realistic_scene,
    sample_pass_text,
)

__all__ = [
    "CAMERA_VERTICAL_FOV_DEG",
    "DEFAULT_QR_MM",
    "OPTICS_SIGMA_PX",
    "PAPER",
    "PHONE",
    "QR_ERROR_CORRECTION",
    "QR_QUIET_ZONE_MODULES",
    "REFERENCE_WIDTH_PX",
    "Card",
    "Conditions",
    "Scene",
    "SimCamera",
    "expose",
    "focal_length_px",
    "module_mm",
    "pixels_per_module",
    "qr_matrix",
    "realistic_scene",
    "render_optical_image",
    "render_scene",
    "sample_pass_text",
]
