"""The registered dataset ``shapes-world``: a map-style torch Dataset of rendered, captioned clips.

Item ``i`` is :func:`~zoo.data.shapes_world.world.sample` ``(i, split, seed)``, rendered on the fly
(a 16-frame 64x64 clip takes about 3 ms), as a dict::

    {"video": float32 (3, T, H, W) in [-1, 1], "caption": str, "attributes": dict, "key": str, "fps": int}

Still-image items (``image_fraction``) have ``T = 1``; batch them apart from videos (e.g. two
datasets, ``image_fraction=1`` and ``0``, mixed by :class:`zoo.data.batches.MixedBatches`), since
clips of different lengths do not stack. ``attributes`` holds ``None`` values and a variable-length
object list, so use a collate that keeps non-tensors as lists (``zoo.data.batches.collate``).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, field_validator, model_validator
from torch.utils.data import Dataset

from zoo.data.shapes_world.readout import TEXTURE_AMPLITUDE_LIMIT, TEXTURE_CELL_LIMIT
from zoo.data.shapes_world.vocabulary import TEXTURE_AMPLITUDE, TEXTURE_CELL
from zoo.data.shapes_world.world import Sample, check_motion_weights, sample
from zoo.registry import register
from zoo.spec.params import Params


class ShapesWorldParams(Params):
    """Which Shapes-world samples, and their format."""

    seed: int = Field(0, ge=0, description="World seed; with split and index it fixes each sample exactly.")
    split: Literal["train", "heldout"] = Field(
        "train", description="'train', or 'heldout': (shape, colour, motion) combinations never seen in training."
    )
    size: int = Field(10_000, ge=1, description="Number of samples (indices 0 .. size - 1).")
    frames: int = Field(16, ge=1, description="Frames per video clip (1 gives still images only).")
    height: int = Field(64, ge=32, description="Frame height in pixels (even).")
    width: int = Field(64, ge=32, description="Frame width in pixels (even).")
    image_fraction: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of training samples that are single-frame still images."
    )
    max_objects: int = Field(2, ge=1, le=2, description="Most objects per scene (1 or 2, drawn uniformly).")
    camera_pan_prob: float = Field(0.25, ge=0.0, le=1.0, description="Probability that a video has a camera pan.")
    entry_band: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="Moving objects start within this share of their possible start positions, on the side they "
        "come from (0.2: an object moving right starts near the left edge); 1 = anywhere in frame.",
    )
    texture_cell: int = Field(  # the bounds keep the world readable by the analytic readout
        TEXTURE_CELL, ge=1, le=TEXTURE_CELL_LIMIT,
        description="Side in pixels of one background texture cell (2: a fine speckle).",
    )
    texture_amplitude: float = Field(
        TEXTURE_AMPLITUDE, ge=0.0, le=TEXTURE_AMPLITUDE_LIMIT,
        description="Grey levels by which a texture cell lies above or below the background colour.",
    )
    motion_weights: dict[str, float] | None = Field(
        None,
        description="Relative weight of each motion when an object is drawn, e.g. {bouncing: 3} draws bouncing "
        "objects three times as often as each other motion; unlisted motions weigh 1; null = the default world.",
    )
    fps: int = Field(
        16,  # Movie Gen samples clips at 16 FPS or more (moviegen-facts §1.3, source T1)
        ge=1,
        description="Frame rate in Hz reported with each item (metadata; rendering is per frame).",
    )

    @model_validator(mode="after")
    def _check_format(self) -> ShapesWorldParams:
        if self.height % 2 or self.width % 2:
            raise ValueError(f"height and width must be even, got {self.height}x{self.width}")
        if self.split == "heldout" and self.frames < 2:
            raise ValueError("the held-out split holds out motions, so it needs frames >= 2")
        return self

    @field_validator("motion_weights")
    @classmethod
    def _check_motion_weights(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None:
            check_motion_weights(value)
        return value


class ShapesWorldDataset(Dataset):
    """``size`` Shapes-world samples of one split; items are dicts (see the module docstring)."""

    def __init__(self, params: ShapesWorldParams):
        self.params = params

    def __len__(self) -> int:
        return self.params.size

    def sample(self, index: int) -> Sample:
        """The raw sample: uint8 frames ``(T, H, W, 3)``, caption, attributes and scene."""
        if not 0 <= index < self.params.size:
            raise IndexError(f"index {index} out of range for {self.params.size} samples")
        p = self.params
        return sample(
            index,
            p.split,
            p.seed,
            frames=p.frames,
            height=p.height,
            width=p.width,
            image_fraction=p.image_fraction,
            max_objects=p.max_objects,
            camera_pan_prob=p.camera_pan_prob,
            entry_band=p.entry_band,
            texture_cell=p.texture_cell,
            texture_amplitude=p.texture_amplitude,
            motion_weights=p.motion_weights,
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.sample(index)
        video = torch.from_numpy(item.frames).permute(3, 0, 1, 2).float() / 127.5 - 1.0  # (3, T, H, W)
        return {
            "video": video,
            "caption": item.caption,
            "attributes": item.attributes.to_dict(),
            "key": item.key,
            "fps": self.params.fps,
        }


@register(
    "dataset",
    "shapes-world",
    params=ShapesWorldParams,
    description="Procedural captioned videos of moving shapes with exact ground-truth attributes.",
)
def build_shapes_world(p: ShapesWorldParams) -> ShapesWorldDataset:
    return ShapesWorldDataset(p)
