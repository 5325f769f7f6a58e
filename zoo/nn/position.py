"""Factorized learnable absolute position embeddings over a ``(t, h, w)`` patch grid.

Movie Gen keeps one learnable table per axis (T, H and W, in patch units) and sums them per token
(moviegen-facts §1.1, N1/N4/N5). A grid that fits the tables uses their first rows; a larger grid
linearly interpolates the table of that axis. :meth:`FactorizedPositionEmbedding.resize` makes an
interpolation permanent, as when the paper widens the spatial tables 2× and 3× and adds temporal
rows between training stages (moviegen-facts §1.5).

The paper does not say how the tables start. ``init="normal"`` draws them from N(0, scale²), as
ViT does; ``init="sincos"`` starts each axis as the sinusoids of its positions (Transformer, DiT) in
its own third of the channels, scaled to amplitude ``scale``, so the three axes are told apart from
the first step. A small model on a weak signal — the order of four latent frames — can otherwise
leave the temporal table near its tiny normal start and never learn which frame comes first.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from zoo.nn.timestep import sinusoidal_embedding

PositionInit = Literal["normal", "sincos"]


def interpolate_table(table: torch.Tensor, size: int) -> torch.Tensor:
    """``(n, D) -> (size, D)`` by linear interpolation with aligned end points (rows 0 and n-1 kept)."""
    columns = table.t()[None].to(torch.float32)  # (1, D, n)
    resized = F.interpolate(columns, size=size, mode="linear", align_corners=True)
    return resized[0].t().to(table.dtype)


def axis_channels(dim: int) -> tuple[slice, slice, slice]:
    """Channel slices for the T, H and W sinusoids: even-width H and W thirds, T takes the rest."""
    third = (dim // 3) // 2 * 2
    return slice(0, dim - 2 * third), slice(dim - 2 * third, dim - third), slice(dim - third, dim)


def fit_table(table: torch.Tensor, size: int) -> torch.Tensor:
    """The first ``size`` rows of an ``(n, D)`` table if ``size <= n``, else the table interpolated to ``size``."""
    return table[:size] if size <= table.shape[0] else interpolate_table(table, size)


class FactorizedPositionEmbedding(nn.Module):
    """Sum of learned T, H and W tables: ``(t, h, w)`` grid -> ``(1, t * h * w, D)``, time-major order.

    Args:
        dim: embedding width ``D``.
        max_t: rows of the temporal table, in latent frames per patch (patches along T).
        max_h: rows of the height table, in patches.
        max_w: rows of the width table, in patches.
        init: ``"normal"`` (N(0, scale²) entries) or ``"sincos"`` (per-axis sinusoids of amplitude ``scale``).
        scale: standard deviation of the normal start, or amplitude of the sinusoids.
    """

    def __init__(
        self, dim: int, max_t: int, max_h: int, max_w: int, *, init: PositionInit = "normal", scale: float = 0.02
    ):
        super().__init__()
        if init == "sincos" and dim < 6:
            raise ValueError(f"sincos position tables need dim >= 6 (two channels per axis), got {dim}")
        self.dim = dim
        self.t_table = nn.Parameter(torch.empty(max_t, dim))
        self.h_table = nn.Parameter(torch.empty(max_h, dim))
        self.w_table = nn.Parameter(torch.empty(max_w, dim))
        with torch.no_grad():
            for table, channels in zip((self.t_table, self.h_table, self.w_table), axis_channels(dim)):
                if init == "sincos":  # the timestep features, over integer positions
                    positions = torch.arange(table.shape[0], dtype=torch.float32)
                    width = channels.stop - channels.start
                    table.zero_()
                    table[:, channels] = scale * sinusoidal_embedding(positions, width, scale=1.0)
                else:
                    nn.init.normal_(table, std=scale)

    @property
    def max_grid(self) -> tuple[int, int, int]:
        """Table sizes ``(max_t, max_h, max_w)`` in patches."""
        return self.t_table.shape[0], self.h_table.shape[0], self.w_table.shape[0]

    def forward(self, t: int, h: int, w: int) -> torch.Tensor:
        """``(1, t * h * w, D)`` embeddings for a ``(t, h, w)`` patch grid."""
        et = fit_table(self.t_table, t)[:, None, None]
        eh = fit_table(self.h_table, h)[None, :, None]
        ew = fit_table(self.w_table, w)[None, None, :]
        return (et + eh + ew).reshape(1, t * h * w, self.dim)

    @torch.no_grad()
    def resize(self, t: int | None = None, h: int | None = None, w: int | None = None) -> None:
        """Replace the tables by linear interpolations to ``t``, ``h``, ``w`` rows (None keeps a table).

        The tables become new Parameters: rebuild the optimizer afterwards.
        """
        for name, size in (("t_table", t), ("h_table", h), ("w_table", w)):
            if size is None:
                continue
            if size < 1:
                raise ValueError(f"position table size must be >= 1, got {name}={size}")
            old = getattr(self, name)
            setattr(self, name, nn.Parameter(interpolate_table(old, size), requires_grad=old.requires_grad))
