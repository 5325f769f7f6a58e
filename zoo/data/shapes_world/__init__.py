"""Shapes world: procedural captioned videos with exact ground truth, and an analytic readout.

* :func:`sample` renders sample ``(index, split, seed)``: uint8 frames ``(T, H, W, 3)``, a caption,
  its :class:`SceneAttributes` and the full :class:`Scene` (re-render edited copies with :func:`render`).
* :func:`parse_prompt` reads the attributes a caption or user prompt asks for.
* :func:`read_video` recovers attributes from pixels; :func:`score` checks a clip against a prompt.
* The dataset ``shapes-world`` (``component("dataset", "shapes-world", ...)``) serves items to training.

Vocabulary, sizes and speeds: :mod:`zoo.data.shapes_world.vocabulary`; held-out combinations:
:mod:`zoo.data.shapes_world.splits`.
"""

from zoo.data.shapes_world.attributes import ObjectAttributes, SceneAttributes
from zoo.data.shapes_world.captions import image_caption, video_caption
from zoo.data.shapes_world.dataset import ShapesWorldDataset, ShapesWorldParams
from zoo.data.shapes_world.prompt import parse_prompt
from zoo.data.shapes_world.readout import read_video, score
from zoo.data.shapes_world.render import render
from zoo.data.shapes_world.scene import ObjectLayout, Scene
from zoo.data.shapes_world.splits import is_heldout, triples
from zoo.data.shapes_world.world import Sample, sample

__all__ = [
    "ObjectAttributes",
    "ObjectLayout",
    "Sample",
    "Scene",
    "SceneAttributes",
    "ShapesWorldDataset",
    "ShapesWorldParams",
    "image_caption",
    "is_heldout",
    "parse_prompt",
    "read_video",
    "render",
    "sample",
    "score",
    "triples",
    "video_caption",
]
