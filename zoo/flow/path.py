"""The flow-matching probability path, its velocity target and loss (Movie Gen paper §2).

Convention: ``t`` in [0, 1], ``t = 0`` is pure noise ``X0 ~ N(0, I)``, ``t = 1`` is the data latent ``X1``.

    X_t = t·X1 + (1 − (1 − σ_min)·t)·X0        V_t = dX_t/dt = X1 − (1 − σ_min)·X0

Latents are any ``(B, ...)`` tensor, e.g. ``(B, C, T, H, W)`` video or ``(B, C, L)`` audio latents. The
noise is N(0, I) per element; ``frame_noise_correlation`` correlates it across video latent frames
(:mod:`zoo.flow.noise`).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from zoo.flow.noise import GaussianNoise
from zoo.flow.timesteps import LogitNormalSampler, TimestepSampler, sample_uniform
from zoo.registry import register
from zoo.spec.params import Params, Slot, component


class FlowMatchingParams(Params):
    sigma_min: float = Field(1e-5, ge=0.0, lt=1.0, description="Noise left at t = 1 (Movie Gen paper §2: 1e-5).")
    t_sampler: Slot("timestep_sampler") = Field(
        default_factory=lambda: component("timestep_sampler", "logit-normal"),
        description="Training-time sampler of t (Movie Gen paper §2: logit-normal, mean 0, std 1).",
    )
    cond_drop_prob: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description=(
            "Probability of replacing a sample's conditioning by the null conditioning during training, "
            "for classifier-free guidance. UNCONFIRMED: the paper gives no value; 0.1 is the common choice."
        ),
    )
    frame_noise_correlation: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description=(
            "Correlation of the noise between any two latent frames of a video (0: independent, the paper's). "
            "Training and sampling both draw it; weights trained with one value need it."
        ),
    )


def _per_sample(t: Tensor, like: Tensor) -> Tensor:
    """``(B,)`` times reshaped to ``(B, 1, ..., 1)`` to broadcast against ``like``, in its dtype."""
    return t.to(like.dtype).reshape(t.shape[0], *([1] * (like.dim() - 1)))


class FlowMatching:
    """The Movie Gen flow-matching path: interpolation, velocity target, masked MSE and training draws."""

    def __init__(
        self,
        sigma_min: float = 1e-5,  # Movie Gen paper §2
        t_sampler: TimestepSampler | None = None,
        cond_drop_prob: float = 0.1,  # UNCONFIRMED (moviegen-facts §2 gives none)
        noise: GaussianNoise | None = None,
    ):
        self.sigma_min = sigma_min
        self.t_sampler = t_sampler if t_sampler is not None else LogitNormalSampler()
        self.cond_drop_prob = cond_drop_prob
        self.noise = noise if noise is not None else GaussianNoise()

    def interpolate(self, x0: Tensor, x1: Tensor, t: Tensor) -> Tensor:
        """``X_t`` for noise ``x0`` and data ``x1`` of shape ``(B, ...)`` at times ``t`` of shape ``(B,)``."""
        t = _per_sample(t, x1)
        return t * x1 + (1 - (1 - self.sigma_min) * t) * x0

    def target(self, x0: Tensor, x1: Tensor) -> Tensor:
        """The velocity ``dX_t/dt = X1 − (1 − σ_min)·X0``, same shape as ``x1``."""
        return x1 - (1 - self.sigma_min) * x0

    def loss(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean squared error over the kept elements; a scalar.

        ``mask`` marks kept (valid) elements with True or 1 and padding with False or 0. It is the shape
        of ``pred`` or broadcastable to it, e.g. ``(B, 1, T, 1, 1)`` for padded latent frames. Masked
        elements do not enter the sum (not even as NaN), and the mean divides by the number of kept
        elements of the broadcast mask.
        """
        dtype = torch.promote_types(pred.dtype, torch.float32)  # bf16 predictions: reduce in float32
        squared = (pred.to(dtype) - target.to(dtype)).square()
        if mask is None:
            return squared.mean()
        keep = (mask != 0).expand_as(squared)
        kept = keep.sum()
        return torch.where(keep, squared, 0.0).sum() / kept.clamp(min=1)

    def training_batch(
        self, x1: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Draw noise and times for data ``x1`` of shape ``(B, ...)``.

        Returns ``(xt, t, target, x0)``: the noisy input, the ``(B,)`` float32 times, the velocity
        target and the noise, all but ``t`` shaped and typed like ``x1``.
        """
        x0 = self.noise.sample(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
        t = self.t_sampler.sample(x1.shape[0], generator=generator, device=x1.device)
        return self.interpolate(x0, x1, t), t, self.target(x0, x1), x0

    def drop_conditioning(
        self, batch_size: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> Tensor:
        """``(B,)`` bool: True where a sample's conditioning is replaced by the null conditioning."""
        return sample_uniform((batch_size,), generator=generator, device=device) < self.cond_drop_prob

    def __repr__(self) -> str:
        return (
            f"FlowMatching(sigma_min={self.sigma_min}, t_sampler={self.t_sampler!r}, "
            f"cond_drop_prob={self.cond_drop_prob}, noise={self.noise!r})"
        )


@register(
    "flow",
    "flow-matching",
    params=FlowMatchingParams,
    description="Movie Gen flow matching: linear noise-to-data path with sigma_min, velocity target, MSE.",
)
def build_flow_matching(p: FlowMatchingParams) -> FlowMatching:
    return FlowMatching(
        sigma_min=p.sigma_min,
        t_sampler=p.t_sampler.build(),
        cond_drop_prob=p.cond_drop_prob,
        noise=GaussianNoise(p.frame_noise_correlation),
    )
