"""AttributeAccuracy: per-attribute agreement of generated Shapes-world clips with what was asked for.

Each clip is read back by the analytic readout (:func:`zoo.data.shapes_world.score`, which scores
99-100 % on ground-truth renders) and compared with its prompt's attributes. Only attributes the
prompt specifies count; ``all`` is the share of clips right on every one of them. Counts are metric
state, so they sum across ranks.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torchmetrics import Metric

ATTRIBUTES: tuple[str, ...] = ("colour", "shape", "size", "motion", "speed", "background", "camera", "count", "all")
"""Attributes scored, in report order."""


class AttributeAccuracy(Metric):
    """``update(videos (B, 3, T, H, W) in [-1, 1], wanted)``; ``compute()`` -> ``{attribute: accuracy}``.

    ``wanted`` holds one prompt per clip: its text, or its ``SceneAttributes`` / attribute dict.
    Attributes no prompt asked for are left out of the result.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.add_state("correct", default=torch.zeros(len(ATTRIBUTES), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", default=torch.zeros(len(ATTRIBUTES), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, videos: torch.Tensor, wanted: Sequence[Any]) -> None:
        from zoo.data.shapes_world import score

        if len(videos) != len(wanted):
            raise ValueError(f"got {len(videos)} videos for {len(wanted)} prompts")
        for video, target in zip(videos.detach().cpu().float(), wanted):
            result = score(video, target)
            for index, name in enumerate(ATTRIBUTES):
                if name in result:
                    self.total[index] += 1
                    self.correct[index] += float(result[name])

    def compute(self) -> dict[str, float]:
        return {
            name: float(self.correct[i] / self.total[i]) for i, name in enumerate(ATTRIBUTES) if self.total[i] > 0
        }
