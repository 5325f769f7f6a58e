"""Timestep embedding: sinusoidal features of the flow time followed by an MLP (DiT).

Flow-matching time ``t`` lies in ``[0, 1]``; it is multiplied by 1000 before the sinusoid so the
frequencies match the usual 0..1000 diffusion-step range.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(
    t: torch.Tensor, dim: int, *, scale: float = 1000.0, max_period: float = 10000.0
) -> torch.Tensor:
    """``(B,)`` times in ``[0, 1]`` -> ``(B, dim)`` float32 features ``[cos(f * s * t), sin(f * s * t)]``.

    Frequencies ``f`` are geometric from 1 down to ``1 / max_period``; ``s`` is ``scale``. An odd
    ``dim`` gets one zero column at the end.
    """
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half
    angles = (t.to(torch.float32) * scale)[:, None] * torch.exp(exponent)[None]
    features = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    if dim % 2:
        features = torch.cat([features, torch.zeros_like(features[:, :1])], dim=-1)
    return features


class TimestepEmbedder(nn.Module):
    """``(B,)`` times in ``[0, 1]`` -> ``(B, D)`` embeddings: sinusoid -> Linear -> SiLU -> Linear.

    Args:
        dim: output width ``D``.
        frequency_dim: width of the sinusoidal features (256 in DiT).
    """

    def __init__(self, dim: int, frequency_dim: int = 256):
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        for layer in (self.mlp[0], self.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """``(B,)`` -> ``(B, D)`` in the dtype of the MLP weights."""
        features = sinusoidal_embedding(t, self.frequency_dim)
        return self.mlp(features.to(self.mlp[0].weight.dtype))
