"""The entrance hall behind the card: wall, door frame, notices, blinds, tiles, a person."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

if TYPE_CHECKING:
    import numpy.typing as npt

BACKGROUND_VARIANTS = 4


@lru_cache(maxsize=16)
def background(size: tuple[int, int], variant: int) -> npt.NDArray[np.uint8]:
    """An entrance hall behind the card: wall, door frame, notices, a person, blinds, tiles.

    Drawn in fractions of the frame so that every resolution shows the same hall.
    """
    width, height = size
    layout = np.random.default_rng(1000 + variant % BACKGROUND_VARIANTS)
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
