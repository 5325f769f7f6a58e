"""The contract between the ``evaluate`` recipe and its metrics.

A registered ``metric`` entry builds an :class:`Evaluator`. The recipe calls ``prepare(pipeline)``
once (load a feature extractor, compute a loss on held-out data, ...), then ``update(videos, items)``
for every batch of generated clips, and ``compute()`` at the end. A metric that cannot run here
(its weights are not available offline, the pipeline has no latents ...) raises
:class:`MetricUnavailable` from ``prepare``: the recipe reports it as skipped, with the reason, and
goes on.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import torch


class MetricUnavailable(Exception):
    """The metric cannot run in this environment; the message says why and how to enable it."""


@runtime_checkable
class Evaluator(Protocol):
    """One metric of an evaluation run."""

    name: str
    """Key of the metric in reports and gates (e.g. ``attribute-accuracy``)."""

    def prepare(self, pipeline: Any) -> None:
        """Set up before the first batch; raise :class:`MetricUnavailable` to be skipped."""

    def update(self, videos: torch.Tensor, items: Sequence[dict[str, Any]]) -> None:
        """Generated clips ``(B, 3, T, H, W)`` in [-1, 1] and the prompt items that asked for them."""

    def compute(self) -> dict[str, float]:
        """The metric's values, e.g. ``{"colour": 0.9, "shape": 0.8}`` or ``{"value": 12.3}``."""

    def describe(self) -> dict[str, Any]:
        """Protocol and backbone details written next to the values in every report."""

    def per_clip(self) -> list[float] | None:
        """One score per generated clip, in update order (for per-group plots), or None."""
