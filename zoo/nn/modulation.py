"""adaLN modulation: shift, scale and gate vectors computed from a conditioning vector (DiT).

A modulated sub-layer reads ``x + gate * f(modulate(norm(x), shift, scale))``. Two ways to produce
the ``(B, n, D)`` stack of modulation vectors:

* :class:`AdaLNModulation`: ``Linear(SiLU(c))`` with its own weights, ``D -> n * D`` (DiT's per-block
  layout);
* :class:`ModulationTable`: a learned ``(n, D)`` table added to a shared ``(B, n, D)`` modulation that a
  single model-level :class:`AdaLNModulation` computes once (PixArt-α's adaLN-single).

Both are zero-initialised, so every shift, scale and gate starts at 0 and a modulated residual branch
starts switched off.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x * (1 + scale) + shift`` with ``x`` ``(B, N, D)`` and ``shift``, ``scale`` ``(B, D)``."""
    return x * (1 + scale[:, None]) + shift[:, None]


def gated(x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """``gate * x`` with ``x`` ``(B, N, D)`` and ``gate`` ``(B, D)``."""
    return x * gate[:, None]


class AdaLNModulation(nn.Module):
    """``(B, D) -> (B, n, D)``: ``Linear(SiLU(c))``, zero-initialised.

    Args:
        dim: width ``D`` of the conditioning vector and of each modulation vector.
        n: number of modulation vectors (6 for shift/scale/gate of two sub-layers).
    """

    def __init__(self, dim: int, n: int):
        super().__init__()
        self.n = n
        self.linear = nn.Linear(dim, n * dim)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        """``(B, D) -> (B, n, D)``."""
        return self.linear(F.silu(c)).unflatten(-1, (self.n, -1))


class ModulationTable(nn.Module):
    """A learned ``(n, D)`` table added to a shared modulation ``(B, n, D)`` (or ``(B, 1, D)``).

    Args:
        dim: width ``D``.
        n: number of modulation vectors.
    """

    def __init__(self, dim: int, n: int):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(n, dim))

    def forward(self, shared: torch.Tensor) -> torch.Tensor:
        """``(B, n, D) -> (B, n, D)``."""
        return self.table.to(shared.dtype) + shared
