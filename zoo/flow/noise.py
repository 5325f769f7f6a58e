"""The flow's noise ``X0``: standard normal per element, optionally correlated across latent frames.

With ``frame_correlation = ρ`` a video latent's noise ``(B, C, T, H, W)`` is

    X0 = √(1 − ρ)·E + √ρ·S,    E ~ N(0, I) of shape (B, C, T, H, W),  S ~ N(0, I) of shape (B, C, 1, H, W)

so every element is still N(0, 1) and any two latent frames of one channel and position correlate by
``ρ`` (the "mixed" noise prior of Ge et al. 2023, "Preserve Your Own Correlation"). The part of the
noise that differs between frames, which drowns motion first, keeps ``1 − ρ`` of its variance. Images
and other latents without a frame axis of more than one frame get plain N(0, I). ``ρ = 0`` is the paper's
prior, drawn exactly as before.
"""

from __future__ import annotations

import torch
from torch import Tensor

from zoo.flow.timesteps import sample_normal

FRAME_AXIS = 2  # of a video latent (B, C, T, H, W)


class GaussianNoise:
    """Draws of the flow's noise prior; ``frame_correlation`` in [0, 1) between any two latent frames."""

    def __init__(self, frame_correlation: float = 0.0):
        if not 0.0 <= frame_correlation < 1.0:
            raise ValueError(f"frame_correlation must be in [0, 1), got {frame_correlation}")
        self.frame_correlation = frame_correlation

    def correlates(self, shape: tuple[int, ...] | torch.Size) -> bool:
        """Whether noise of ``shape`` is correlated: a ``(B, C, T, H, W)`` latent with ``T > 1`` and ``ρ > 0``."""
        return self.frame_correlation > 0.0 and len(shape) == 5 and shape[FRAME_AXIS] > 1

    def sample(
        self,
        shape: tuple[int, ...] | torch.Size,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        """Noise of ``shape`` on ``device``; the same generator state gives the same noise on every device."""
        independent = sample_normal(shape, generator=generator, device=device, dtype=dtype)
        if not self.correlates(shape):
            return independent
        shared_shape = (*shape[:FRAME_AXIS], 1, *shape[FRAME_AXIS + 1:])
        shared = sample_normal(shared_shape, generator=generator, device=device, dtype=dtype)
        rho = self.frame_correlation
        return (1.0 - rho) ** 0.5 * independent + rho**0.5 * shared

    def __repr__(self) -> str:
        return f"GaussianNoise(frame_correlation={self.frame_correlation})"
