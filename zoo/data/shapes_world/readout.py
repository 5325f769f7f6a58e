"""Analytic readout: recover Shapes-world attributes from pixels, and score a clip against a prompt.

No learned judge; every step is a measurement (units: pixels, frames, 0-255 colour levels):

1. **Background**: the per-channel median of the 2-pixel frame border over all frames, named by the
   nearest background colour.
2. **Objects**: after a 3x3 box blur, pixels more than ``DETECT_DISTANCE`` from the background are
   object pixels; each is labelled with the palette colour whose hue (the angle of ``colour -
   background`` in the chroma plane) is nearest. A colour covering at least ``min_pixels`` pixels in at
   least half the frames is one object, so two objects are told apart by colour.
3. **Coverage**: per object and frame, ``(pixel - background) . (colour - background) / |colour -
   background|^2`` near the object's pixels is its sub-pixel coverage; its sum is the area, its mean
   position the centroid. Both are unchanged by blur.
4. **Shape**: each shape with the measured area and centroid is rasterised with the renderer (sharp
   and box-blurred) and compared with the coverage; the closest wins (majority over frames).
   **Size**: the bounding-box side ``sqrt(area / shape fill)`` relative to the frame.
5. **Camera**: the background texture is aligned between frame 0 and frame ``t`` (objects masked),
   giving the pan offset per frame.
6. **Motion**: the world track is the centroid track plus the camera offset. A velocity reversal on
   one axis (both legs longer than a threshold) is a bounce; otherwise the net displacement gives
   static (below ``0.4 x`` slow speed) or one of eight directions, and its rate the speed class.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import torch

from zoo.data.shapes_world.attributes import ObjectAttributes, SceneAttributes
from zoo.data.shapes_world.prompt import parse_prompt
from zoo.data.shapes_world.render import bounding_box, coverage
from zoo.data.shapes_world.vocabulary import (
    BACKGROUNDS,
    COLOURS,
    SIZES,
    frame_side,
    pan_pixels_per_frame,
    speed_pixels_per_frame,
)

DETECT_DISTANCE = 45.0
"""Colour distance (0-255 units) from the background above which a blurred pixel belongs to an object."""

TEXTURE_AMPLITUDE_LIMIT = DETECT_DISTANCE / math.sqrt(3) - 1.0
"""Largest background texture step (grey levels) the readout tells from objects: a grey step ``a`` lies
``a·√3`` from the background colour, and rendering rounds it up by at most one level."""

TEXTURE_CELL_LIMIT = 8
"""Largest texture cell side (pixels) the readout is checked on; cells of 16 pixels are as large as an
object and can shift the background estimate (count and shape then fail on ground truth)."""

SHAPE_FILL: dict[str, float] = {"circle": math.pi / 4, "square": 1.0, "triangle": 0.5, "diamond": 0.5}
"""Area of each shape over the area of its bounding box."""

SHAPE_FRAMES = 4
"""Frames (evenly spaced) on which the shape and size are measured."""

PALETTE = np.array(list(COLOURS.values()), dtype=np.float64)
PALETTE_NAMES = tuple(COLOURS)


# -- pixel helpers --------------------------------------------------------------------------------


def to_frames(video: np.ndarray | torch.Tensor) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 frames from uint8 ``(T, H, W, 3)``, an ``(H, W, 3)`` image, or a float
    tensor ``(3, T, H, W)`` in [-1, 1] (the dataset and pipeline layout)."""
    if isinstance(video, torch.Tensor):
        if video.dtype.is_floating_point:
            video = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            video = video.permute(1, 2, 3, 0)
        video = video.cpu().numpy()
    frames = np.asarray(video)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames (T, H, W, 3), got shape {frames.shape}")
    return frames.astype(np.uint8, copy=False)


def box_blur(image: np.ndarray, axis: int = 0) -> np.ndarray:
    """3x3 mean over the axes ``axis, axis + 1`` (height, width) with edge replication."""
    pad = [(0, 0)] * image.ndim
    pad[axis] = pad[axis + 1] = (1, 1)
    padded = np.pad(image, pad, mode="edge")
    height, width = image.shape[axis : axis + 2]
    lead = (slice(None),) * axis
    rows = sum(padded[(*lead, slice(i, i + height))] for i in range(3))
    return sum(rows[(*lead, slice(None), slice(j, j + width))] for j in range(3)) / 9.0


def dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """Grow a boolean mask ``(..., H, W)`` by ``steps`` pixels (3x3 neighbourhood per step)."""
    for _ in range(steps):
        rows = mask.copy()
        rows[..., 1:, :] |= mask[..., :-1, :]
        rows[..., :-1, :] |= mask[..., 1:, :]
        mask = rows.copy()
        mask[..., :, 1:] |= rows[..., :, :-1]
        mask[..., :, :-1] |= rows[..., :, 1:]
    return mask


def chroma_angle(rgb: np.ndarray) -> np.ndarray:
    """Hue angle in radians of RGB vectors (or RGB differences) ``(..., 3)`` in the chroma plane."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.arctan2(math.sqrt(3) / 2 * (g - b), r - (g + b) / 2)


def estimate_background(frames: np.ndarray) -> np.ndarray:
    """``(3,)`` float64 background colour: median of the 2-pixel border of all frames."""
    f = frames.astype(np.float64)
    border = np.concatenate(
        [f[:, :2].reshape(-1, 3), f[:, -2:].reshape(-1, 3), f[:, :, :2].reshape(-1, 3), f[:, :, -2:].reshape(-1, 3)]
    )
    return np.median(border, axis=0)


def nearest_name(rgb: np.ndarray, table: dict[str, tuple[int, int, int]]) -> str:
    """Name of the table colour closest to ``rgb`` (Euclidean, 0-255 units)."""
    names = list(table)
    distances = np.linalg.norm(np.array([table[n] for n in names], dtype=np.float64) - rgb, axis=1)
    return names[int(distances.argmin())]


# -- objects ----------------------------------------------------------------------------------------


def label_colours(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``(T, H, W)`` int palette index per object pixel of ``(T, H, W, 3)`` frames, -1 for background."""
    diff = box_blur(frames.astype(np.float64), axis=1) - background
    candidates = np.linalg.norm(diff, axis=-1) > DETECT_DISTANCE
    labels = np.full(candidates.shape, -1, dtype=np.int64)
    palette_angles = chroma_angle(PALETTE - background)
    gap = chroma_angle(diff[candidates])[:, None] - palette_angles
    gap = (gap + math.pi) % (2 * math.pi) - math.pi
    labels[candidates] = np.abs(gap).argmin(axis=-1)
    return labels


def min_pixels(height: int, width: int) -> float:
    """Fewest labelled pixels that count as an object: a quarter of the smallest diamond or triangle."""
    return 0.25 * SHAPE_FILL["diamond"] * (SIZES["small"] * frame_side(height, width)) ** 2


def object_coverage(frame: np.ndarray, background: np.ndarray, colour: int, labels: np.ndarray) -> np.ndarray:
    """``(H, W)`` coverage of palette ``colour`` near its labelled pixels (0 elsewhere, not clipped)."""
    mine = labels == colour
    others = (labels >= 0) & ~mine
    region = dilate(mine, 2) & ~dilate(others, 1)
    direction = PALETTE[colour] - background
    cover = (frame.astype(np.float64) - background) @ direction / float(direction @ direction)
    return np.where(region, cover, 0.0)


def fit_shape(cover: np.ndarray) -> tuple[str, float]:
    """Best shape for a coverage map and its bounding-box side in pixels (area-matched templates)."""
    area = float(cover.sum())
    if area <= 1.0:  # nothing there
        return "circle", 0.0
    grid_y, grid_x = np.mgrid[0 : cover.shape[0], 0 : cover.shape[1]] + 0.5
    cx, cy = float((cover * grid_x).sum() / area), float((cover * grid_y).sum() / area)
    best: tuple[float, str, float] = (math.inf, "circle", 0.0)
    for shape, fill in SHAPE_FILL.items():
        radius = math.sqrt(area / fill) / 2
        centre_y = cy - radius / 3 if shape == "triangle" else cy
        x0, y0, w, h = bounding_box(cx, centre_y, radius + 2, *cover.shape)
        if w < 2 or h < 2:  # the centroid is off the frame: not a shape of ours
            continue
        template = coverage(shape, cx, centre_y, radius, (x0, y0, w, h))
        measured = cover[y0 : y0 + h, x0 : x0 + w]
        outside = area - float(measured.sum())  # coverage outside the template box counts as error
        error = min(float(((measured - t) ** 2).sum()) for t in (template, box_blur(template)))
        error += abs(outside)
        if error < best[0]:
            best = (error, shape, 2 * radius)
    return best[1], best[2]


# -- camera and motion --------------------------------------------------------------------------------


def _alignment_cost(
    first: np.ndarray, later: np.ndarray, valid0: np.ndarray, valid_t: np.ndarray, sx: int, sy: int
) -> float:
    """Mean squared ``later(x) - first(x + s)`` over pixels valid in both, ``s = (sx, sy)``."""
    height, width = first.shape
    ya, yb = max(0, -sy), min(height, height - sy)
    xa, xb = max(0, -sx), min(width, width - sx)
    if yb - ya < height // 2 or xb - xa < width // 2:
        return math.inf
    a = later[ya:yb, xa:xb]
    b = first[ya + sy : yb + sy, xa + sx : xb + sx]
    valid = valid_t[ya:yb, xa:xb] & valid0[ya + sy : yb + sy, xa + sx : xb + sx]
    if valid.sum() < 16:
        return math.inf
    return float(np.square(a - b)[valid].mean()) + 1e-3 * math.hypot(sx, sy)  # ties go to the smaller shift


def camera_track(frames: np.ndarray, object_masks: np.ndarray) -> np.ndarray:
    """``(T, 2)`` int camera offsets ``(x, y)`` per frame, from aligning the background texture with frame 0.

    The pan is modelled as the renderer makes it: one axis, offsets ``round(v * t)`` for a constant
    ``v``. The shift of the last frame picks the axis and a rough ``v``; ``v`` is then refined so
    that the offsets of all frames together align best.
    """
    count, height, width = frames.shape[:3]
    offsets = np.zeros((count, 2), dtype=np.int64)
    if count < 2:
        return offsets
    grey = box_blur(frames.astype(np.float64).mean(axis=-1), axis=1)  # less noise
    valid = ~dilate(object_masks, 3)
    reach = int(math.ceil(pan_pixels_per_frame(count, height, width) * (count - 1))) + 2
    last = count - 1
    candidates = [(d, 0) for d in range(-reach, reach + 1)] + [(0, d) for d in range(-reach, reach + 1) if d]
    costs = [_alignment_cost(grey[0], grey[last], valid[0], valid[last], sx, sy) for sx, sy in candidates]
    sx, sy = candidates[int(np.argmin(costs))]
    if sx == 0 and sy == 0:
        return offsets
    axis, total = (0, sx) if sx else (1, sy)
    cache: dict[tuple[int, int], float] = {}

    def cost(t: int, shift: int) -> float:
        if (t, shift) not in cache:
            xy = (shift, 0) if axis == 0 else (0, shift)
            cache[(t, shift)] = _alignment_cost(grey[0], grey[t], valid[0], valid[t], *xy)
        return cache[(t, shift)]

    times = np.arange(count)
    best = (math.inf, math.inf, np.zeros(count, dtype=np.int64))
    for velocity in np.linspace(total - 1.5, total + 1.5, 61) / last:
        shifts = np.rint(velocity * times).astype(np.int64)
        candidate = (sum(cost(int(t), int(d)) for t, d in zip(times[1:], shifts[1:])), abs(velocity * last - total))
        if candidate < best[:2]:
            best = (*candidate, shifts)
    offsets[:, axis] = best[2]
    return offsets


def classify_camera(offsets: np.ndarray, height: int, width: int) -> str:
    """"static" or the pan direction, from the offset at the last frame."""
    count = len(offsets)
    velocity = offsets[-1] / max(count - 1, 1)
    if np.hypot(*velocity) < 0.5 * pan_pixels_per_frame(count, height, width):
        return "static"
    vx, vy = velocity
    if abs(vx) >= abs(vy):
        return "left" if vx < 0 else "right"
    return "up" if vy < 0 else "down"


def _reversal(times: np.ndarray, values: np.ndarray) -> float:
    """Shorter leg in pixels of the best one-knot piecewise-linear fit, if its two slopes have opposite signs.

    The knot runs over the inner frames; the one with the smallest squared residual is kept. Fitting
    each leg over all its frames, not just its end points, keeps centroid noise from faking a bounce.
    """
    best_residual, best_leg = math.inf, 0.0
    for knot in times[1:-1]:
        design = np.stack([np.ones_like(times), times, np.maximum(times - knot, 0.0)], axis=1)
        coef, *_ = np.linalg.lstsq(design, values, rcond=None)
        residual = float(np.square(design @ coef - values).sum())
        if residual < best_residual:
            before, after = coef[1], coef[1] + coef[2]
            leg = min(abs(before) * (knot - times[0]), abs(after) * (times[-1] - knot))
            best_residual, best_leg = residual, (leg if before * after < 0 else 0.0)
    return best_leg


def classify_motion(
    times: np.ndarray, track: np.ndarray, frames: int, height: int, width: int
) -> tuple[str, str | None]:
    """``(motion, speed)`` from world centres ``track`` ``(N, 2)`` in pixels at frame indices ``times`` ``(N,)``."""
    slow = speed_pixels_per_frame("slow", frames, height, width)
    fast = speed_pixels_per_frame("fast", frames, height, width)
    times = times.astype(np.float64)
    steps = float(times[-1] - times[0])
    min_leg = slow / math.sqrt(2) * math.ceil((frames - 1) / 3)
    if len(times) >= 3 and max(_reversal(times, track[:, axis]) for axis in (0, 1)) > 0.5 * min_leg:
        path = float(np.linalg.norm(np.diff(track, axis=0), axis=1).sum())
        return "bouncing", "fast" if path / steps > math.sqrt(slow * fast) else "slow"
    dx, dy = track[-1] - track[0]
    rate = math.hypot(dx, dy) / steps
    if rate < 0.4 * slow:
        return "static", None
    sector = int(np.round(math.degrees(math.atan2(-dy, dx)) / 45.0)) % 8
    motion = ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right")[sector]
    return motion, "fast" if rate > math.sqrt(slow * fast) else "slow"


def classify_size(diameter: float, height: int, width: int) -> str:
    """Size class of a bounding-box side in pixels (boundaries at geometric means of the classes)."""
    fraction = diameter / frame_side(height, width)
    names = list(SIZES)
    distances = [abs(math.log(max(fraction, 1e-6) / SIZES[n])) for n in names]
    return names[int(np.argmin(distances))]


# -- readout ----------------------------------------------------------------------------------------


def _read_object(
    frames: np.ndarray, background: np.ndarray, labels: np.ndarray, colour: int, seen: np.ndarray, offsets: np.ndarray
) -> ObjectAttributes:
    """One object of palette ``colour``, seen in frames ``seen``; ``offsets`` are the camera offsets."""
    count, height, width = frames.shape[:3]
    covers = {int(t): object_coverage(frames[t], background, colour, labels[t]) for t in seen}
    picks = seen[np.linspace(0, len(seen) - 1, min(SHAPE_FRAMES, len(seen))).round().astype(int)]
    fits = [fit_shape(covers[int(t)]) for t in picks]
    shape = Counter(s for s, _ in fits).most_common(1)[0][0]
    size = classify_size(float(np.median([d for s, d in fits if s == shape])), height, width)
    times = np.array([t for t in seen if covers[int(t)].sum() > 1.0], dtype=np.int64)
    if count == 1 or len(times) < 2:
        return ObjectAttributes(shape, PALETTE_NAMES[colour], size)
    grid_y, grid_x = np.mgrid[0:height, 0:width] + 0.5
    areas = np.array([covers[int(t)].sum() for t in times])
    centres = np.stack(
        [[(covers[int(t)] * grid_x).sum() for t in times], [(covers[int(t)] * grid_y).sum() for t in times]], axis=1
    ) / areas[:, None]
    motion, speed = classify_motion(times, centres + offsets[times], count, height, width)
    return ObjectAttributes(shape, PALETTE_NAMES[colour], size, motion, speed)


def read_video(video: np.ndarray | torch.Tensor) -> SceneAttributes:
    """The attributes shown by a clip ``(T, H, W, 3)`` uint8 (or a ``(3, T, H, W)`` tensor in [-1, 1]).

    Motion, speed and camera are ``None`` for a single frame.
    """
    frames = to_frames(video)
    count, height, width = frames.shape[:3]
    background = estimate_background(frames)
    labels = label_colours(frames, background)
    present = np.stack([(labels == k).sum(axis=(1, 2)) >= min_pixels(height, width) for k in range(len(PALETTE))])
    offsets = camera_track(frames, labels >= 0)
    objects = tuple(
        _read_object(frames, background, labels, k, np.flatnonzero(present[k]), offsets)
        for k in range(len(PALETTE))
        if present[k].sum() * 2 >= count
    )
    camera = classify_camera(offsets, height, width) if count > 1 else None
    return SceneAttributes(objects=objects, background=nearest_name(background, BACKGROUNDS), camera=camera)


def _match(wanted: ObjectAttributes, found: list[ObjectAttributes]) -> ObjectAttributes | None:
    for test in (
        lambda o: wanted.colour is not None and o.colour == wanted.colour,
        lambda o: wanted.colour is None and wanted.shape is not None and o.shape == wanted.shape,
        lambda o: wanted.colour is None,
    ):
        for obj in found:
            if test(obj):
                found.remove(obj)
                return obj
    return None


OBJECT_FIELDS = ("colour", "shape", "size", "motion", "speed")


def score(
    video: np.ndarray | torch.Tensor, prompt: str | SceneAttributes | dict[str, Any]
) -> dict[str, bool]:
    """Per-attribute agreement of a clip with a prompt (text, attributes or their dict), plus ``"all"``.

    Only what the prompt specifies is checked: ``background``, ``camera``, ``count`` (number of objects)
    and, over all prompt objects, ``colour``, ``shape``, ``size``, ``motion``, ``speed``. Prompt objects
    are matched to the clip's objects by colour (by shape, then order, when the prompt gives no colour).
    """
    return compare(read_video(video), prompt)


def compare(got: SceneAttributes, prompt: str | SceneAttributes | dict[str, Any]) -> dict[str, bool]:
    """:func:`score` of a clip already read by :func:`read_video` (``got``), so a caller reads it once."""
    if isinstance(prompt, str):
        wanted = parse_prompt(prompt)
    elif isinstance(prompt, dict):
        wanted = SceneAttributes.from_dict(prompt)
    else:
        wanted = prompt
    result: dict[str, bool] = {}
    if wanted.background is not None:
        result["background"] = got.background == wanted.background
    if wanted.camera is not None:
        result["camera"] = got.camera == wanted.camera
    if wanted.objects:
        result["count"] = got.count == wanted.count
    unmatched = list(got.objects)
    for obj in wanted.objects:
        match = _match(obj, unmatched)
        for name in OBJECT_FIELDS:
            value = getattr(obj, name)
            if value is None and not (name == "speed" and obj.motion == "static"):
                continue
            ok = match is not None and getattr(match, name) == value
            result[name] = result.get(name, True) and ok
    result["all"] = all(result.values())
    return result
