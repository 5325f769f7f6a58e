"""The closed vocabulary of Shapes world and the pixel geometry behind each word.

Every attribute value has a canonical name (used in attribute dicts) and a pixel meaning shared by
the renderer and the readout, so a word in a caption and a measurement on a frame refer to the same
number:

* colours: six saturated colours 60 degrees apart in hue, so hue clustering is unambiguous;
* backgrounds: four neutral or dark colours, disjoint from the object colours;
* sizes: the object's bounding-box side as a fraction of ``min(height, width)``;
* speeds and camera pan: pixels per frame, scaled with the frame size and with the clip length so
  the fastest object plus the pan still crosses less than the frame (see :func:`speed_pixels_per_frame`).
"""

from __future__ import annotations

import math

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
"""Object shapes. Each fits a ``2r x 2r`` box; the triangle points up, the diamond is a square on its corner."""

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),  # hue 0 degrees
    "yellow": (225, 225, 40),  # 60
    "green": (40, 190, 40),  # 120
    "cyan": (40, 205, 205),  # 180
    "blue": (60, 60, 235),  # 240
    "magenta": (215, 50, 215),  # 300
}
"""Object colours (RGB, 0-255), one per 60 degrees of hue."""

BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (15, 15, 15),
    "gray": (105, 105, 105),
    "white": (235, 235, 235),
    "brown": (85, 60, 40),
}
"""Background colours (RGB, 0-255): at least 125 away (Euclidean, 0-255 units) from every object colour."""

TEXTURE_AMPLITUDE = 12
"""Default grey-level step of the background speckle texture (0-255 units); it makes camera pans visible."""

TEXTURE_CELL = 2
"""Default side in pixels of one background texture cell."""

SIZES: dict[str, float] = {"small": 0.17, "medium": 0.26, "large": 0.38}
"""Bounding-box side of an object as a fraction of ``min(height, width)``."""

DIRECTIONS: dict[str, tuple[int, int]] = {
    "left": (-1, 0),
    "right": (1, 0),
    "up": (0, -1),
    "down": (0, 1),
    "up-left": (-1, -1),
    "up-right": (1, -1),
    "down-left": (-1, 1),
    "down-right": (1, 1),
}
"""Screen directions as ``(dx, dy)`` signs; ``y`` grows downwards."""

MOTIONS: tuple[str, ...] = (*DIRECTIONS, "static", "bouncing")
"""Object motions: eight directions, standing still, or bouncing off a wall (one reversal)."""

SPEEDS: dict[str, float] = {"slow": 0.12, "fast": 0.30}
"""Object speed: the distance travelled in 15 frames, as a fraction of ``min(height, width)``."""

CAMERA_PAN_SPEED = 0.15
"""Camera pan: the distance panned in 15 frames, as a fraction of ``min(height, width)``."""

CAMERAS: tuple[str, ...] = ("static", "left", "right", "up", "down")
"""Camera motion: still, or a pan in one direction ("left" means the view moves left, so content moves right)."""

REFERENCE_FRAMES = 15
"""Clips of up to ``REFERENCE_FRAMES + 1`` frames use the full speeds; longer clips move proportionally slower."""


def frame_side(height: int, width: int) -> int:
    """The frame's short side in pixels, the unit of sizes and speeds."""
    return min(height, width)


def object_diameter(size: str, height: int, width: int) -> float:
    """Bounding-box side in pixels of an object of ``size``."""
    return SIZES[size] * frame_side(height, width)


def _per_frame(fraction: float, frames: int, height: int, width: int) -> float:
    return fraction * frame_side(height, width) / max(frames - 1, REFERENCE_FRAMES)


def speed_pixels_per_frame(speed: str, frames: int, height: int, width: int) -> float:
    """Object speed in pixels per frame for a clip of ``frames`` frames of ``height x width`` pixels.

    E.g. 64x64 pixels, 16 frames: slow 0.51, fast 1.28 pixels per frame. Clips longer than 16 frames
    move slower so that the path still fits in the frame.
    """
    return _per_frame(SPEEDS[speed], frames, height, width)


def pan_pixels_per_frame(frames: int, height: int, width: int) -> float:
    """Camera pan speed in pixels per frame (0.64 for 64x64 pixels, 16 frames)."""
    return _per_frame(CAMERA_PAN_SPEED, frames, height, width)


def unit_direction(direction: str) -> tuple[float, float]:
    """Unit vector ``(dx, dy)`` of a direction name (diagonals have length 1 too)."""
    dx, dy = DIRECTIONS[direction]
    norm = math.hypot(dx, dy)
    return dx / norm, dy / norm
