"""The held-out Shapes-world benchmark: prompts whose (shape, colour, motion) combination training never showed.

Prompt ``i`` is the caption of held-out sample ``i`` under the benchmark seed, with one object, and
comes with that sample's exact attributes, so a generated clip is scored against ground truth, not
against a re-parse of its own prompt. The set is fixed by ``(count, seed, frames, size)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoo.data.shapes_world.world import sample

BENCH_SEED = 2024
"""World seed of the benchmark prompts; training recipes use other seeds (0 and 1)."""


@dataclass(frozen=True)
class BenchPrompt:
    """One benchmark prompt: its caption and the attributes it asks for (a ``SceneAttributes`` dict)."""

    key: str
    prompt: str
    attributes: dict[str, Any]


def heldout_prompts(
    count: int = 64, *, seed: int = BENCH_SEED, frames: int = 16, height: int = 64, width: int = 64
) -> list[BenchPrompt]:
    """``count`` one-object held-out prompts with their ground-truth attributes."""
    prompts = []
    for index in range(count):
        item = sample(index, "heldout", seed, frames=frames, height=height, width=width, max_objects=1)
        prompts.append(BenchPrompt(item.key, item.caption, item.attributes.to_dict()))
    return prompts
