"""AttributeAccuracy: per-attribute agreement of generated Shapes-world clips with what was asked for.

Each clip is read back by the analytic readout (:func:`zoo.data.shapes_world.score`, which scores
99-100 % on ground-truth renders) and compared with its prompt's attributes. Only attributes the
prompt specifies count; ``all`` is the share of clips right on every one of them. Counts are metric
state, so they sum across ranks.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from pydantic import Field
from torchmetrics import Metric

from zoo.metrics.evaluator import MetricUnavailable
from zoo.registry import register
from zoo.spec.params import Params

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


class AttributeAccuracyParams(Params):
    """Scores clips against the ``attributes`` of their prompt items (or, without them, the prompt text)."""

    attributes: list[str] = Field(
        default_factory=lambda: list(ATTRIBUTES), description=f"Attributes reported, from {list(ATTRIBUTES)}."
    )


class AttributeAccuracyEvaluator:
    """``attribute-accuracy`` for the ``evaluate`` recipe: the analytic Shapes-world readout."""

    name = "attribute-accuracy"

    def __init__(self, params: AttributeAccuracyParams):
        unknown = sorted(set(params.attributes) - set(ATTRIBUTES))
        if unknown:
            raise ValueError(f"unknown attributes {unknown}; choose from {list(ATTRIBUTES)}")
        self.params, self.metric, self.clips = params, AttributeAccuracy(), []

    def prepare(self, pipeline: Any) -> None:
        vocabulary = getattr(getattr(pipeline, "spec", None), "metadata", None)
        if vocabulary is not None and vocabulary.prompt_vocabulary not in (None, "shapes-world"):
            raise MetricUnavailable("the attribute readout understands Shapes-world clips only")

    def update(self, videos: torch.Tensor, items: Sequence[dict[str, Any]]) -> None:
        from zoo.data.shapes_world import score

        wanted = [item.get("attributes") or item["prompt"] for item in items]
        self.metric.update(videos, wanted)
        for video, target in zip(videos.detach().cpu().float(), wanted):
            self.clips.append(float(score(video, target)["all"]))

    def compute(self) -> dict[str, float]:
        values = self.metric.compute()
        return {name: values[name] for name in self.params.attributes if name in values}

    def describe(self) -> dict[str, Any]:
        return {
            "protocol": "analytic Shapes-world readout (hue clustering, fill-ratio shape fit, centroid track) "
            "against the prompt's ground-truth attributes; only attributes the prompt specifies count",
            "backbone": "none (analytic)",
        }

    def per_clip(self) -> list[float] | None:
        return list(self.clips)


@register("metric", "attribute-accuracy", params=AttributeAccuracyParams, description="Shapes-world readout accuracy.")
def build_attribute_accuracy(p: AttributeAccuracyParams) -> AttributeAccuracyEvaluator:
    return AttributeAccuracyEvaluator(p)
