"""Training-time samplers of the flow time ``t`` in [0, 1] (Movie Gen paper §2: logit-normal, as in SD3).

Movie Gen convention: ``t = 0`` is pure noise, ``t = 1`` is data. Every sampler draws ``(n,)`` times
with ``sample(n, generator=None, device=None)``.
"""

from __future__ import annotations

from typing import Protocol

import torch
from pydantic import Field, model_validator
from torch import Tensor

from zoo.registry import register
from zoo.spec.params import Params


def sample_normal(
    shape: tuple[int, ...] | torch.Size,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Standard normal draws of ``shape`` on ``device``, reproducible from ``generator``.

    The draws are made on the generator's device and then moved, so a CPU generator gives the same
    numbers on every device.
    """
    source = generator.device if generator is not None else device
    return torch.randn(tuple(shape), generator=generator, device=source, dtype=dtype).to(device)


def sample_uniform(
    shape: tuple[int, ...] | torch.Size,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Uniform draws in [0, 1) of ``shape`` on ``device``, reproducible from ``generator``."""
    source = generator.device if generator is not None else device
    return torch.rand(tuple(shape), generator=generator, device=source, dtype=dtype).to(device)


class TimestepSampler(Protocol):
    """Anything that draws ``(n,)`` flow times in [0, 1]."""

    def sample(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> Tensor: ...


# -- logit-normal ---------------------------------------------------------------------------------


class LogitNormalParams(Params):
    mean: float = Field(0.0, description="Mean of the normal n before the sigmoid (Movie Gen paper §2: 0).")
    std: float = Field(1.0, gt=0.0, description="Standard deviation of n before the sigmoid (Movie Gen paper §2: 1).")


class LogitNormalSampler:
    """``t = sigmoid(n)``, ``n ~ N(mean, std²)``; mean 0 puts the median at t = 0.5."""

    def __init__(self, mean: float = 0.0, std: float = 1.0):  # Movie Gen paper §2 (SD3 logit-normal)
        self.mean = mean
        self.std = std

    def sample(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> Tensor:
        """``(n,)`` float32 times in (0, 1)."""
        normal = sample_normal((n,), generator=generator, device=device)
        return torch.sigmoid(normal * self.std + self.mean)

    def __repr__(self) -> str:
        return f"LogitNormalSampler(mean={self.mean}, std={self.std})"


@register(
    "timestep_sampler",
    "logit-normal",
    params=LogitNormalParams,
    description="t = sigmoid(n), n ~ N(mean, std^2): Movie Gen's training-time sampler (SD3).",
)
def build_logit_normal(p: LogitNormalParams) -> LogitNormalSampler:
    return LogitNormalSampler(mean=p.mean, std=p.std)


# -- uniform --------------------------------------------------------------------------------------


class UniformParams(Params):
    low: float = Field(0.0, ge=0.0, le=1.0, description="Lower end of the time interval (inclusive).")
    high: float = Field(1.0, ge=0.0, le=1.0, description="Upper end of the time interval (exclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> UniformParams:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class UniformSampler:
    """``t ~ U[low, high)``; the plain rectified-flow choice."""

    def __init__(self, low: float = 0.0, high: float = 1.0):
        self.low = low
        self.high = high

    def sample(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> Tensor:
        """``(n,)`` float32 times in [low, high)."""
        return self.low + (self.high - self.low) * sample_uniform((n,), generator=generator, device=device)

    def __repr__(self) -> str:
        return f"UniformSampler(low={self.low}, high={self.high})"


@register("timestep_sampler", "uniform", params=UniformParams, description="t ~ U[low, high): uniform flow time.")
def build_uniform(p: UniformParams) -> UniformSampler:
    return UniformSampler(low=p.low, high=p.high)
