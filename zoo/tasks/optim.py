"""AdamW with linear warm-up and constant, cosine or step decay: the optimiser settings of every task."""

from __future__ import annotations

import math
from typing import Iterable, Literal

import torch
from pydantic import Field, PositiveInt, model_validator

from zoo.spec.params import Params


class OptimizerParams(Params):
    """AdamW and its learning-rate schedule. The paper's video optimiser settings are UNCONFIRMED (facts §1.5)."""

    lr: float = Field(1e-4, gt=0, description="Peak learning rate.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW betas.")
    eps: float = Field(1e-8, gt=0, description="AdamW epsilon.")
    weight_decay: float = Field(0.01, ge=0, description="Decoupled weight decay.")
    warmup_steps: int = Field(0, ge=0, description="Steps of linear warm-up from 0 to lr.")
    decay: Literal["constant", "cosine", "step"] = Field("cosine", description="Schedule after the warm-up.")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Cosine: final lr as a fraction of the peak.")
    step_every: PositiveInt | None = Field(None, description="Step decay: multiply lr by step_gamma every N steps.")
    step_gamma: float = Field(0.5, gt=0, le=1, description="Step decay factor.")
    grad_clip: float | None = Field(1.0, gt=0, description="Clip the gradient norm to this value; None = off.")

    @model_validator(mode="after")
    def _step_needs_interval(self) -> OptimizerParams:
        if self.decay == "step" and self.step_every is None:
            raise ValueError("decay 'step' needs step_every")
        return self


def lr_factor(p: OptimizerParams, step: int, total_steps: int) -> float:
    """Multiplier of the peak lr at ``step`` (0-based) of ``total_steps``."""
    if step < p.warmup_steps:
        return (step + 1) / p.warmup_steps
    if p.decay == "constant":
        return 1.0
    if p.decay == "step":
        return p.step_gamma ** ((step - p.warmup_steps) // p.step_every)
    span = max(total_steps - p.warmup_steps, 1)
    progress = min((step - p.warmup_steps) / span, 1.0)
    return p.min_lr_ratio + (1 - p.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(
    parameters: Iterable[torch.nn.Parameter], p: OptimizerParams, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over ``parameters`` and its per-step scheduler."""
    optimizer = torch.optim.AdamW(list(parameters), lr=p.lr, betas=p.betas, eps=p.eps, weight_decay=p.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(p, step, total_steps))
    return optimizer, scheduler
