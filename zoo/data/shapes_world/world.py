"""``sample(index, split, seed)``: one seeded, captioned Shapes-world clip with exact ground truth.

The random generator of a sample is seeded by ``(seed, split, index)`` alone, so the same triple gives
byte-identical frames and the same caption on every call, in any order, in any worker.

Choices, in order: still image or video; number of objects; each object's (shape, colour, motion)
triple from the split (in the held-out split the first object's triple is held out, the others come
from training triples); size and speed; background; camera pan; layout; texture; caption. Objects
always have distinct colours, which is how the readout tells them apart. If two objects cannot be
laid out apart, the second one is made small, and failing that it is dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from zoo.data.shapes_world.attributes import ObjectAttributes, SceneAttributes
from zoo.data.shapes_world.captions import image_caption, video_caption
from zoo.data.shapes_world.layout import camera_velocity, place
from zoo.data.shapes_world.render import render
from zoo.data.shapes_world.scene import Scene
from zoo.data.shapes_world.splits import SPLITS, triples
from zoo.data.shapes_world.vocabulary import (
    BACKGROUNDS,
    CAMERAS,
    COLOURS,
    MOTIONS,
    SHAPES,
    SIZES,
    SPEEDS,
    TEXTURE_AMPLITUDE,
    TEXTURE_CELL,
)
from zoo.errors import did_you_mean


@dataclass(frozen=True)
class Sample:
    """A rendered sample: ``frames`` ``(T, H, W, 3)`` uint8, its caption, attributes, scene and key."""

    frames: np.ndarray
    caption: str
    attributes: SceneAttributes
    scene: Scene
    key: str


def _choice(rng: np.random.Generator, options: tuple | list):
    return options[int(rng.integers(len(options)))]


def _motion_weighted_choice(rng: np.random.Generator, pool: list, motion_weights: Mapping[str, float]):
    """A triple of ``pool`` whose motion is drawn with probability proportional to its weight.

    Each motion's weight (1 if not listed) is shared among its triples in the pool, so a motion's
    share of the draws is its weight's share, however many triples it has.
    """
    per_motion = Counter(t[2] for t in pool)
    weights = np.array([motion_weights.get(t[2], 1.0) / per_motion[t[2]] for t in pool])
    if weights.sum() <= 0:
        raise ValueError(f"motion_weights give every motion in the pool weight 0: {dict(motion_weights)}")
    return pool[int(rng.choice(len(pool), p=weights / weights.sum()))]


def _object(triple: tuple[str, str, str | None], rng: np.random.Generator) -> ObjectAttributes:
    shape, colour, motion = triple
    size = _choice(rng, tuple(SIZES))
    speed = _choice(rng, tuple(SPEEDS))
    return ObjectAttributes(shape, colour, size, motion, None if motion in (None, "static") else speed)


def _objects(
    split: str, count: int, frames: int, rng: np.random.Generator, motion_weights: Mapping[str, float] | None = None
) -> list[ObjectAttributes]:
    if frames == 1:  # still image: any shape and colour, no motion
        pools = [[(shape, colour, None) for shape in SHAPES for colour in COLOURS]] * count
    else:
        allowed = [t for t in triples("train") if frames >= 3 or t[2] != "bouncing"]
        first = [t for t in triples(split) if frames >= 3 or t[2] != "bouncing"]
        pools = [first] + [allowed] * (count - 1)
    weighted = motion_weights is not None and frames > 1
    chosen: list[ObjectAttributes] = []
    for pool in pools:
        taken = {obj.colour for obj in chosen}
        free = [t for t in pool if t[1] not in taken]
        chosen.append(_object(_motion_weighted_choice(rng, free, motion_weights) if weighted else _choice(rng, free), rng))
    return chosen


def sample_scene(
    rng: np.random.Generator,
    split: str,
    frames: int,
    height: int,
    width: int,
    max_objects: int = 2,
    camera_pan_prob: float = 0.25,
    entry_band: float = 1.0,
    texture_cell: int = TEXTURE_CELL,
    texture_amplitude: float = TEXTURE_AMPLITUDE,
    motion_weights: Mapping[str, float] | None = None,
) -> Scene:
    """Draw a scene of ``frames`` frames (1 = still image) from ``split`` with ``rng``.

    ``entry_band``: see :func:`zoo.data.shapes_world.layout.place` (1 = starts anywhere in frame).
    ``texture_cell``, ``texture_amplitude``: the background texture's cell side (pixels) and grey step.
    ``motion_weights``: relative weight of each motion when an object is drawn (unlisted: 1; None:
    every triple alike, the default world).
    """
    count = int(rng.integers(1, max_objects + 1))
    objects = _objects(split, count, frames, rng, motion_weights)
    background = _choice(rng, tuple(BACKGROUNDS))
    pan = rng.random() < camera_pan_prob
    camera = None if frames == 1 else _choice(rng, CAMERAS[1:]) if pan else "static"
    velocity = camera_velocity(camera, frames, height, width)
    layouts = place(tuple(objects), velocity, frames, height, width, rng, entry_band)
    if layouts is None and len(objects) > 1:
        objects[1:] = [replace(obj, size="small") for obj in objects[1:]]
        layouts = place(tuple(objects), velocity, frames, height, width, rng, entry_band)
    if layouts is None:
        objects = objects[:1]
        layouts = place(tuple(objects), velocity, frames, height, width, rng, entry_band)
    if layouts is None:
        raise RuntimeError(f"cannot lay out {objects[0]} in {frames} frames of {height}x{width} pixels")
    attributes = SceneAttributes(objects=tuple(objects), background=background, camera=camera)
    texture_seed = int(rng.integers(2**31))
    return Scene(attributes, layouts, frames, height, width, velocity, texture_seed, texture_cell, texture_amplitude)


def check_motion_weights(motion_weights: Mapping[str, float]) -> None:
    """Raise ValueError unless every key is a motion (naming the closest) and every weight is >= 0."""
    for motion, weight in motion_weights.items():
        if motion not in MOTIONS:
            hint = did_you_mean(str(motion), MOTIONS)
            raise ValueError(f"'{motion}' is not a motion (one of {', '.join(MOTIONS)}){'; ' + hint if hint else ''}")
        if not weight >= 0.0:
            raise ValueError(f"the weight of motion '{motion}' must be >= 0, got {weight}")
    if not any(motion_weights.get(m, 1.0) > 0 for m in MOTIONS):
        raise ValueError("motion_weights give every motion weight 0")


def sample_key(index: int, split: str, seed: int) -> str:
    """A webdataset key (no dots) naming the sample, e.g. ``shapes-world-train-s0-00000042``."""
    return f"shapes-world-{split}-s{seed}-{index:08d}"


def sample(
    index: int,
    split: str = "train",
    seed: int = 0,
    *,
    frames: int = 16,
    height: int = 64,
    width: int = 64,
    image_fraction: float = 0.0,
    max_objects: int = 2,
    camera_pan_prob: float = 0.25,
    entry_band: float = 1.0,
    texture_cell: int = TEXTURE_CELL,
    texture_amplitude: float = TEXTURE_AMPLITUDE,
    motion_weights: Mapping[str, float] | None = None,
) -> Sample:
    """Sample ``index`` of ``split`` under ``seed``: frames ``(T, H, W, 3)`` uint8 with caption and attributes.

    A share ``image_fraction`` of training samples are still images (``T = 1``, image captions); the
    held-out split is videos only. ``frames`` >= 1; ``height`` and ``width`` even and >= 32 pixels.
    ``entry_band`` in (0, 1]: moving objects start within this share of their start range, on the side
    they come from (1 = anywhere; see :func:`zoo.data.shapes_world.layout.place`).
    ``texture_cell`` >= 1 pixels and ``texture_amplitude`` >= 0 grey levels set the background texture;
    they change no random draw, so the same index gives the same scene with another texture.
    ``motion_weights`` maps motions (:data:`~zoo.data.shapes_world.vocabulary.MOTIONS`) to relative
    weights >= 0 when each object's triple is drawn: ``{"bouncing": 3}`` draws bouncing objects three
    times as often as each other motion. Unlisted motions weigh 1; None keeps the default world.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
    if frames < 1 or height < 32 or width < 32 or height % 2 or width % 2:
        raise ValueError(f"need frames >= 1 and even height, width >= 32; got {frames}x{height}x{width}")
    if split == "heldout" and frames < 2:
        raise ValueError("the held-out split holds out motions, so it needs videos of at least 2 frames")
    if max_objects not in (1, 2):
        raise ValueError(f"max_objects must be 1 or 2, got {max_objects}")
    if not 0.0 < entry_band <= 1.0:
        raise ValueError(f"entry_band must be in (0, 1], got {entry_band}")
    if motion_weights is not None:
        check_motion_weights(motion_weights)
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    still = frames == 1 or (rng.random() < image_fraction and split == "train")
    scene = sample_scene(rng, split, 1 if still else frames, height, width, max_objects, camera_pan_prob, entry_band,
                         texture_cell, texture_amplitude, motion_weights)
    caption = image_caption(scene.attributes, rng) if still else video_caption(scene.attributes, rng)
    return Sample(render(scene), caption, scene.attributes, scene, sample_key(index, split, seed))
