"""SwiGLU feed-forward network, the Llama 3 FFN (moviegen-facts §1.1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SwiGLU(nn.Module):
    """``w2(silu(w1 x) * w3 x)`` on ``(B, N, D)`` tokens; three bias-free Linear layers (Llama naming).

    Args:
        dim: token width ``D``.
        hidden_dim: inner width (the paper's "FFN dim", 16384 at 30B scale).
        bias: add biases to the three projections (Llama-style blocks use none).
    """

    def __init__(self, dim: int, hidden_dim: int, *, bias: bool = False):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=bias)  # gate
        self.w3 = nn.Linear(dim, hidden_dim, bias=bias)  # up
        self.w2 = nn.Linear(hidden_dim, dim, bias=bias)  # down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, D) -> (B, N, D)``."""
        return self.w2(F.silu(self.w1(x)) * self.w3(x))
