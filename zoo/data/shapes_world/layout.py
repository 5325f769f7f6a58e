"""Place objects: velocities from the motion words, start positions that keep every object in frame.

Rules every generated clip obeys (the readout relies on them):

* each object stays fully inside the frame, ``MARGIN`` pixels from the edges, in every frame;
* with ``entry_band < 1`` a moving object starts on the side it comes from (see :func:`place`);
* two objects keep their bounding circles ``GAP`` pixels apart in every frame;
* a bouncing object reverses one velocity component once, at a frame in the middle third of the
  clip; without a camera pan it touches the frame edge at that frame, as if it hit a wall.
"""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import combinations

import numpy as np

from zoo.data.shapes_world.attributes import ObjectAttributes
from zoo.data.shapes_world.scene import ObjectLayout, camera_offsets
from zoo.data.shapes_world.vocabulary import (
    DIRECTIONS,
    object_diameter,
    pan_pixels_per_frame,
    speed_pixels_per_frame,
    unit_direction,
)

MARGIN = 1.0
"""Pixels between an object's bounding box and the frame edge."""

GAP = 4.0
"""Pixels between the bounding circles of two objects."""

PLACEMENT_TRIES = 64


def bounding_radius(shape: str, radius: float) -> float:
    """Radius in pixels of the smallest centred circle holding the shape (corners of squares and triangles)."""
    return radius * (math.sqrt(2.0) if shape in ("square", "triangle") else 1.0)


def camera_velocity(camera: str | None, frames: int, height: int, width: int) -> tuple[float, float]:
    """Camera velocity ``(vx, vy)`` in pixels per frame; panning left moves the view left (``vx < 0``)."""
    if camera in (None, "static"):
        return (0.0, 0.0)
    speed = pan_pixels_per_frame(frames, height, width)
    dx, dy = DIRECTIONS[camera]
    return (dx * speed, dy * speed)


def motion_layout(
    obj: ObjectAttributes, frames: int, height: int, width: int, rng: np.random.Generator
) -> ObjectLayout:
    """The object's velocity, radius and bounce, positioned at the origin (placed later)."""
    radius = object_diameter(obj.size, height, width) / 2
    if obj.motion in (None, "static"):
        return ObjectLayout(0.0, 0.0, 0.0, 0.0, radius)
    speed = speed_pixels_per_frame(obj.speed, frames, height, width)
    if obj.motion != "bouncing":
        ux, uy = unit_direction(obj.motion)
        return ObjectLayout(0.0, 0.0, ux * speed, uy * speed, radius)
    if frames < 3:
        raise ValueError("a bounce needs at least 3 frames")
    direction = list(DIRECTIONS)[int(rng.integers(len(DIRECTIONS)))]
    dx, dy = DIRECTIONS[direction]
    axis = "x" if dy == 0 else "y" if dx == 0 else ("x", "y")[int(rng.integers(2))]
    bounce = int(rng.integers(math.ceil((frames - 1) / 3), (2 * (frames - 1)) // 3 + 1))
    ux, uy = unit_direction(direction)
    return ObjectLayout(0.0, 0.0, ux * speed, uy * speed, radius, bounce_frame=bounce, bounce_axis=axis)


def _start_range(layout: ObjectLayout, camera: np.ndarray, extent: tuple[int, int]) -> np.ndarray:
    """``(2, 2)`` rows ``(low, high)`` of start positions for x and y keeping the object in frame."""
    relative = layout.world_track(len(camera)) - camera  # screen track of a start at (0, 0)
    low = layout.radius + MARGIN - relative.min(axis=0)
    high = np.asarray(extent, dtype=np.float64) - layout.radius - MARGIN - relative.max(axis=0)
    return np.stack([low, high], axis=1)


def _start(
    layout: ObjectLayout, ranges: np.ndarray, panning: bool, entry_band: float, rng: np.random.Generator
) -> ObjectLayout:
    fraction = rng.random(2)  # of the start range, per axis
    if entry_band < 1.0:  # along each axis it moves on, near the side it comes from
        velocity = np.array([layout.vx, layout.vy])
        fraction = np.where(velocity > 0, entry_band * fraction, fraction)
        fraction = np.where(velocity < 0, 1.0 - entry_band * fraction, fraction)
    xy = ranges[:, 0] + fraction * (ranges[:, 1] - ranges[:, 0])
    if layout.bounce_axis is not None and not panning:  # touch the wall it bounces off
        axis = 0 if layout.bounce_axis == "x" else 1
        towards_high = (layout.vx, layout.vy)[axis] > 0
        xy[axis] = ranges[axis, 1] if towards_high else ranges[axis, 0]
    return replace(layout, x=float(xy[0]), y=float(xy[1]))


def place(
    objects: tuple[ObjectAttributes, ...],
    camera: tuple[float, float],
    frames: int,
    height: int,
    width: int,
    rng: np.random.Generator,
    entry_band: float = 1.0,
) -> tuple[ObjectLayout, ...] | None:
    """Layouts for ``objects`` obeying the module's rules, or ``None`` when random tries find none.

    Start positions are uniform over those that keep an object in frame. With ``entry_band < 1``, along
    each axis an object moves on its start lies in the first ``entry_band`` of that range, counted from
    the side it comes from: an object moving right starts near the left edge. Where it is in each frame
    then depends on its direction, so the caption's direction word changes what a denoiser should
    predict even from pure noise; with uniform starts it barely does.
    """
    offsets = camera_offsets(camera, frames)
    moving = [motion_layout(obj, frames, height, width, rng) for obj in objects]
    ranges = [_start_range(layout, offsets, (width, height)) for layout in moving]
    if any((r[:, 0] > r[:, 1]).any() for r in ranges):
        return None
    panning = camera != (0.0, 0.0)
    for _ in range(PLACEMENT_TRIES):
        layouts = tuple(_start(layout, r, panning, entry_band, rng) for layout, r in zip(moving, ranges))
        pairs = combinations(range(len(objects)), 2)
        if all(_apart(objects[i], objects[j], layouts[i], layouts[j], frames) for i, j in pairs):
            return layouts
    return None


def _apart(a: ObjectAttributes, b: ObjectAttributes, la: ObjectLayout, lb: ObjectLayout, frames: int) -> bool:
    distance = np.linalg.norm(la.world_track(frames) - lb.world_track(frames), axis=1).min()
    return bool(distance >= bounding_radius(a.shape, la.radius) + bounding_radius(b.shape, lb.radius) + GAP)
