"""Rasterise a :class:`Scene` into uint8 frames ``(T, H, W, 3)``.

Objects are drawn with anti-aliased edges: a pixel's coverage is the share of its ``4 x 4``
sub-pixel samples inside the shape, and its colour blends the object colour over the background by
that coverage. The background is a uniform colour with a faint grey speckle texture fixed to the
world (by default 2x2-pixel cells of ``-12, 0, +12``; the scene sets cell side and step), so a camera
pan shifts the texture and is visible even where no object is.
"""

from __future__ import annotations

import math

import numpy as np

from zoo.data.shapes_world.scene import Scene
from zoo.data.shapes_world.vocabulary import (
    BACKGROUNDS,
    CAMERA_PAN_SPEED,
    COLOURS,
    TEXTURE_AMPLITUDE,
    TEXTURE_CELL,
    frame_side,
)

SUPERSAMPLE = 4
"""Sub-pixel samples per pixel side for anti-aliasing."""

def inside(shape: str, dx: np.ndarray, dy: np.ndarray, radius: float) -> np.ndarray:
    """Boolean mask of points at offsets ``(dx, dy)`` pixels from the centre lying inside ``shape``."""
    if shape == "circle":
        return dx * dx + dy * dy <= radius * radius
    if shape == "square":
        return (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= radius
    if shape == "triangle":  # apex at the top, base at the bottom; the centroid sits radius/3 below the centre
        return (np.abs(dy) <= radius) & (np.abs(dx) <= (dy + radius) / 2)
    raise ValueError(f"unknown shape '{shape}'")


def coverage(shape: str, cx: float, cy: float, radius: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """``(h, w)`` float64 share in [0, 1] of each pixel of ``box = (x0, y0, w, h)`` inside the shape.

    The shape has ``radius`` (half its bounding-box side) in pixels and is centred at ``(cx, cy)``.
    """
    x0, y0, w, h = box
    s = SUPERSAMPLE
    xs = x0 + (np.arange(w * s) + 0.5) / s - cx
    ys = y0 + (np.arange(h * s) + 0.5) / s - cy
    hits = inside(shape, xs[None, :], ys[:, None], radius)
    return hits.reshape(h, s, w, s).mean(axis=(1, 3))


def bounding_box(cx: float, cy: float, radius: float, height: int, width: int) -> tuple[int, int, int, int]:
    """Pixel box ``(x0, y0, w, h)`` holding a shape of ``radius`` at ``(cx, cy)``, clipped to the frame."""
    x0 = max(int(math.floor(cx - radius)) - 1, 0)
    y0 = max(int(math.floor(cy - radius)) - 1, 0)
    x1 = min(int(math.ceil(cx + radius)) + 1, width)
    y1 = min(int(math.ceil(cy + radius)) + 1, height)
    return x0, y0, max(x1 - x0, 0), max(y1 - y0, 0)


def texture_margin(height: int, width: int) -> int:
    """Pixels of world texture kept beyond each frame edge: more than the longest possible pan."""
    return int(math.ceil(CAMERA_PAN_SPEED * frame_side(height, width))) + 2


def world_texture(
    seed: int, height: int, width: int, cell: int = TEXTURE_CELL, amplitude: float = TEXTURE_AMPLITUDE
) -> np.ndarray:
    """``(H + 2m, W + 2m)`` float64 grey offsets of the world texture, ``m = texture_margin``.

    Square cells of side ``cell`` pixels, each ``-amplitude``, ``0`` or ``+amplitude`` grey levels
    (``0`` twice as often). Depends only on its arguments, so re-rendering a scene with another camera
    keeps its texture.
    """
    margin = texture_margin(height, width)
    rows = -(-(height + 2 * margin) // cell)
    cols = -(-(width + 2 * margin) // cell)
    rng = np.random.default_rng([seed, height, width])
    cells = rng.choice(np.array([-1.0, 0.0, 0.0, 1.0]), size=(rows, cols)) * amplitude
    texture = np.repeat(np.repeat(cells, cell, axis=0), cell, axis=1)
    return texture[: height + 2 * margin, : width + 2 * margin]


def render(scene: Scene) -> np.ndarray:
    """The clip as ``(T, H, W, 3)`` uint8 frames."""
    frames, height, width = scene.frames, scene.height, scene.width
    background = np.asarray(BACKGROUNDS[scene.attributes.background], dtype=np.float64)
    texture = world_texture(scene.texture_seed, height, width, scene.texture_cell, scene.texture_amplitude)
    margin = texture_margin(height, width)
    camera = scene.camera_track()
    if np.abs(camera).max(initial=0) > margin:
        raise ValueError("the camera pans further than the world texture reaches")
    tracks = scene.screen_tracks()
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        ox, oy = camera[t]
        grey = texture[margin + oy : margin + oy + height, margin + ox : margin + ox + width]
        frame = background[None, None, :] + grey[:, :, None]
        for n, (obj, layout) in enumerate(scene.objects):
            cx, cy = tracks[n, t]
            x0, y0, w, h = bounding_box(cx, cy, layout.radius, height, width)
            if w == 0 or h == 0:
                continue
            cover = coverage(obj.shape, cx, cy, layout.radius, (x0, y0, w, h))[:, :, None]
            colour = np.asarray(COLOURS[obj.colour], dtype=np.float64)
            patch = frame[y0 : y0 + h, x0 : x0 + w]
            frame[y0 : y0 + h, x0 : x0 + w] = patch * (1.0 - cover) + colour * cover
        out[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return out
