"""The flow-matching validation loss at fixed timesteps: the paper's proxy for quality (§3.5).

The loss of the velocity prediction on held-out clips, with fixed noise and at a fixed grid of times
``t``, so two checkpoints (or two models) are compared on exactly the same problems. Movie Gen notes
that automatic metrics such as FVD correlate poorly with human judgement while this loss tracks it.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from pydantic import Field, PositiveInt

from zoo.data.batches import collate
from zoo.metrics.evaluator import MetricUnavailable
from zoo.registry import register
from zoo.spec.params import Params, Slot
from zoo.tasks.seeding import step_generator

DEFAULT_TIMES: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)


@torch.no_grad()
def fixed_problem(
    pipeline: Any, batch: dict[str, Any], generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x1, x0, tokens, mask)`` of one batch: its latents, noise from ``generator``, its caption tokens."""
    from zoo.tasks.flow_matching import FlowMatchingTask

    x1 = FlowMatchingTask.encode_latents(pipeline.autoencoder, batch, generator)
    x0 = pipeline.flow.noise.sample(x1.shape, generator=generator, dtype=x1.dtype).to(x1.device)
    tokens, mask = pipeline.conditioner.eval()(list(batch["caption"]), fps=pipeline.spec.pipeline.params.fps)
    return x1, x0, tokens, mask


@torch.no_grad()
def validation_loss(
    pipeline: Any, batches: Sequence[dict[str, Any]], times: Sequence[float], *, seed: int = 0
) -> dict[float, float]:
    """Mean flow-matching loss per time ``t`` over ``batches`` (clips ``"video"`` or cached posteriors).

    Batch ``i`` uses noise from ``step_generator(seed, i)``; the same noise serves every ``t``.
    Captions are never dropped. Returns ``{t: loss}``.
    """
    flow, backbone = pipeline.flow, pipeline.backbone.eval()
    sums = {t: 0.0 for t in times}
    for index, batch in enumerate(batches):
        x1, x0, tokens, mask = fixed_problem(pipeline, batch, step_generator(seed, index))
        for t in times:
            time = torch.full((x1.shape[0],), float(t), device=x1.device)
            pred = backbone(flow.interpolate(x0, x1, time), time, tokens, mask)
            sums[t] += float(flow.loss(pred, flow.target(x0, x1)))
    return {t: total / max(len(batches), 1) for t, total in sums.items()}


class FlowLossParams(Params):
    """Held-out data and the fixed times of the validation loss."""

    data: Slot("dataset") = Field(description="Held-out clips with captions (pixels or a latent cache).")
    batches: PositiveInt = Field(4, description="Batches of held-out data.")
    batch_size: PositiveInt = Field(8, description="Clips per batch.")
    times: list[float] = Field(default_factory=lambda: list(DEFAULT_TIMES), min_length=1, description="Times t.")
    seed: int = Field(0, ge=0, description="Seed of the noise.")


class FlowLossEvaluator:
    """``flow-matching-loss``: computed in ``prepare``; generated clips do not enter it."""

    name = "flow-matching-loss"

    def __init__(self, params: FlowLossParams):
        self.params = params
        self.values: dict[str, float] = {}

    def prepare(self, pipeline: Any) -> None:
        if not hasattr(pipeline, "flow") or not hasattr(pipeline, "conditioner"):
            raise MetricUnavailable("the flow-matching loss needs a text-to-video pipeline")
        p = self.params
        dataset = p.data.build()
        count = min(len(dataset), p.batches * p.batch_size)
        batches = [
            collate([dataset[i] for i in range(start, min(start + p.batch_size, count))])
            for start in range(0, count, p.batch_size)
        ]
        per_time = validation_loss(pipeline, batches, p.times, seed=p.seed)
        self.values = {f"t={t:g}": loss for t, loss in per_time.items()}
        self.values["value"] = sum(per_time.values()) / len(per_time)

    def update(self, videos: torch.Tensor, items: Sequence[dict[str, Any]]) -> None:
        return None

    def compute(self) -> dict[str, float]:
        return dict(self.values)

    def describe(self) -> dict[str, Any]:
        p = self.params
        return {
            "protocol": "velocity MSE on held-out clips at fixed t, fixed noise, no caption dropout",
            "times": p.times,
            "clips": p.batches * p.batch_size,
            "data": p.data.model_dump(mode="json"),
            "seed": p.seed,
        }

    def per_clip(self) -> list[float] | None:
        return None


@register("metric", "flow-matching-loss", params=FlowLossParams, description="Flow-matching loss at fixed t.")
def build_flow_loss(p: FlowLossParams) -> FlowLossEvaluator:
    return FlowLossEvaluator(p)
