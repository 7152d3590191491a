"""Scenes for measuring the code reader: both pass forms, presentations, distance sweeps.

- `sample_text(form, rng)`: random text shaped like a pass of either form — a ~420-character
  JWT (QR version 16, byte mode) or a compact `GK1:` code of ~170 characters from the QR
  alphanumeric alphabet (version 8): the sizes the two pass forms of DESIGN 2.1/2.1b have.
- `degradations(scene, size)`: names for what makes a scene hard, for per-degradation figures.
- `presentation(rng, scene, frames)`: the frames of one person holding a pass up: the same
  scene with a hand's small movements and the glare moving with them.
- `distance_scene(rng, text, distance_mm)`: a typical pass held facing the camera at a distance.
- `entering(rng, scene, fps, hold_s)`: the frames of a phone entering the view from beyond
  its edge and from farther away, slowing into `scene`'s pose (smeared by its own speed on
  the way), then held with a hand's shake.
"""

from __future__ import annotations

import base64
import math
import string
from dataclasses import replace
from typing import TYPE_CHECKING

from host_sim.camera_sim import PHONE, Card, Conditions, Scene, pixels_per_module

if TYPE_CHECKING:
    import numpy as np

JWT = "jwt"
COMPACT = "gk1"
FORMS = (JWT, COMPACT)
JWT_CHARS = 420
COMPACT_CHARS = 170
_ALPHANUMERIC = string.digits + string.ascii_uppercase


def sample_text(form: str, rng: np.random.Generator) -> str:
    """Random text of a pass of `form` (JWT or COMPACT); unsigned, for the camera only."""
    if form == JWT:
        def segment(size: int) -> str:
            return base64.urlsafe_b64encode(rng.bytes(size)).rstrip(b"=").decode("ascii")

        header, signature = segment(27), segment(64)
        claims_chars = JWT_CHARS - len(header) - len(signature) - 2
        claims = segment(claims_chars * 3 // 4 + 3)[:claims_chars]
        return ".".join((header, claims, signature))
    if form == COMPACT:
        body = rng.integers(0, len(_ALPHANUMERIC), COMPACT_CHARS - 4)
        return "GK1:" + "".join(_ALPHANUMERIC[int(i)] for i in body)
    raise ValueError(f"unknown pass form {form!r}: choose one of {', '.join(FORMS)}")


def degradations(scene: Scene) -> tuple[str, ...]:
    """What makes the scene hard, by name ("clean" when nothing does)."""
    card, c = scene.card, scene.conditions
    if card is None:
        return ()
    names = [
        name
        for name, present in (
            ("defocus", c.blur_px >= 0.5),
            ("motion", c.motion_px > 0),
            ("glare", c.glare > 0),
            ("dim", c.exposure < 1.0),
            ("low_contrast", card.contrast < 0.7),
            ("dark_mode", card.dark_mode),
            ("jpeg", c.jpeg_quality is not None),
            ("tilt", card.tilt_deg >= 20.0),
            ("paper", card.medium != PHONE),
        )
        if present
    ]
    return tuple(names) or ("clean",)


PPM_BUCKETS = ((0.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 6.0), (6.0, 10.0), (10.0, 1e9))


def ppm_bucket(scene: Scene, size: tuple[int, int]) -> str:
    """The pixels-per-module bucket of the scene's card at `size`, e.g. "3-4"."""
    if scene.card is None:
        return "none"
    ppm = pixels_per_module(scene.card, size)
    for low, high in PPM_BUCKETS:
        if low <= ppm < high:
            return f"{low:g}-{high:g}" if high < 1e9 else f">={low:g}"
    return "none"


def presentation(rng: np.random.Generator, scene: Scene, frames: int) -> list[Scene]:
    """`frames` scenes of one presentation: the card moves a little from frame to frame."""
    card = scene.card
    if card is None:
        return [scene] * frames
    shown = []
    for _ in range(frames):
        moved = replace(
            card,
            distance_mm=float(min(3000.0, max(50.0, card.distance_mm * rng.normal(1.0, 0.03)))),
            tilt_deg=float(min(75.0, abs(card.tilt_deg + rng.normal(0.0, 2.0)))),
            rotation_deg=card.rotation_deg + float(rng.normal(0.0, 2.0)),
            offset=(
                card.offset[0] + float(rng.normal(0.0, 0.02)),
                card.offset[1] + float(rng.normal(0.0, 0.02)),
            ),
        )
        c = scene.conditions
        conditions = replace(
            c,
            motion_px=c.motion_px * float(rng.uniform(0.5, 1.2)),
            glare_at=(
                c.glare_at[0] + float(rng.normal(0.0, 0.05)),
                c.glare_at[1] + float(rng.normal(0.0, 0.05)),
            ),
        )
        shown.append(Scene(moved, conditions, scene.background))
    return shown


def distance_scene(rng: np.random.Generator, text: str, distance_mm: float) -> Scene:
    """A typical pass: a phone held roughly facing the camera, in good light, at a distance."""
    card = Card(
        text=text,
        distance_mm=distance_mm,
        tilt_deg=float(min(abs(rng.normal(0.0, 8.0)), 30.0)),
        tilt_axis_deg=float(rng.uniform(0.0, 180.0)),
        rotation_deg=float(rng.normal(0.0, 10.0)),
        offset=(float(rng.uniform(-0.2, 0.2)), float(rng.uniform(-0.2, 0.2))),
    )
    conditions = Conditions(noise=float(rng.uniform(1.5, 4.0)))
    return Scene(card, conditions, int(rng.integers(0, 4)))


# A phone entering the view: it comes in from beyond the frame's edge and from farther away,
# slows down as it reaches where it is held (a smoothstep), then is held with a hand's shake.
ENTER_S = 0.5
# Share of a frame interval the sensor integrates: how much of a frame's movement smears.
EXPOSURE_SHARE = 0.25
_MAX_SMEAR_PX = 40.0


def entering(
    rng: np.random.Generator, scene: Scene, fps: float, hold_s: float, enter_s: float = ENTER_S
) -> list[Scene]:
    """The frames, at `fps`, of a phone entering the view and settling into `scene`'s pose,
    then held for `hold_s`; frame 0 is taken as it enters."""
    card = scene.card
    count = max(1, round((enter_s + hold_s) * fps))
    if card is None:
        return [scene] * count
    angle = float(rng.uniform(0.0, 2.0 * math.pi))
    start = (card.offset[0] + 1.4 * math.cos(angle), card.offset[1] + 1.4 * math.sin(angle))
    start_mm = min(3000.0, card.distance_mm * float(rng.uniform(1.2, 1.8)))
    held = presentation(rng, scene, count)
    shown: list[Scene] = []
    eased = 0.0
    for index, still in enumerate(held):
        progress = min(1.0, index / (enter_s * fps))
        ease = progress * progress * (3.0 - 2.0 * progress)
        assert still.card is not None
        # The way in, on top of the hand's shake around the held pose; only the way in smears
        # (the scene's own motion blur already stands for the shake).
        away = 1.0 - ease
        offset = (
            still.card.offset[0] + (start[0] - card.offset[0]) * away,
            still.card.offset[1] + (start[1] - card.offset[1]) * away,
        )
        step = ((start[0] - card.offset[0]) * (eased - ease),
                (start[1] - card.offset[1]) * (eased - ease))
        eased = ease
        # Offsets are fractions of the half-frame: 320 x 240 pixels of the reference frame.
        smear = min(_MAX_SMEAR_PX, EXPOSURE_SHARE * math.hypot(320.0 * step[0], 240.0 * step[1]))
        conditions = still.conditions
        if smear > 0.5:
            conditions = replace(
                conditions,
                motion_px=conditions.motion_px + smear,
                motion_angle_deg=math.degrees(math.atan2(240.0 * step[1], 320.0 * step[0])),
            )
        moved = replace(
            still.card,
            offset=offset,
            distance_mm=start_mm + (still.card.distance_mm - start_mm) * ease,
        )
        shown.append(Scene(moved, conditions, scene.background))
    return shown
