"""Rotary position embedding over a ``(t, h, w)`` patch grid (3-D RoPE) for self-attention.

Each head's channels are split into rotation pairs; the pairs of one third rotate by the token's
temporal position, the others by its height and width positions, each axis with geometric
frequencies ``theta ** (-i / pairs)``. After rotating queries and keys, ``q . k`` depends on the
*offset* between two tokens along each axis, not on where they are, so a head can learn "the token one
frame later and one patch to the right" — what following a direction of motion needs — as one linear
map of its query. Absolute tables can express that only through products of position and content.

Movie Gen describes only the absolute factorized tables (moviegen-facts §1.1); rotary embeddings are
an option of this library (off in the paper-scale specs), used with the tables, not instead of them.
The layout is GPT-NeoX's "rotate half": pair ``i`` is channels ``i`` and ``i + head_dim / 2``.
"""

from __future__ import annotations

import torch

from zoo.nn.position import axis_channels


def axis_pairs(head_dim: int) -> tuple[int, int, int]:
    """Rotation pairs for the T, H and W axes: the position tables' channel thirds, in pairs."""
    if head_dim % 2 or head_dim < 6:
        raise ValueError(f"3-D rotary embeddings need an even head dim >= 6 (a pair per axis), got {head_dim}")
    t, h, w = ((part.stop - part.start) // 2 for part in axis_channels(head_dim))
    return t, h, w


def rope_angles(
    grid: tuple[int, int, int], head_dim: int, theta: float = 10000.0, device: torch.device | str | None = None
) -> torch.Tensor:
    """``(t, h, w)`` patch grid -> ``(t * h * w, head_dim / 2)`` float32 rotation angles (radians), time-major.

    Pair ``i`` of an axis with ``n`` pairs turns by ``position * theta ** (-i / n)``.
    """
    columns = []
    for size, pairs, stride in zip(grid, axis_pairs(head_dim), (grid[1] * grid[2], grid[2], 1)):
        index = torch.arange(grid[0] * grid[1] * grid[2], device=device)
        position = (index // stride % size).to(torch.float32)
        frequencies = theta ** (-torch.arange(pairs, dtype=torch.float32, device=device) / pairs)
        columns.append(position[:, None] * frequencies[None])
    return torch.cat(columns, dim=1)


def rope_tables(
    grid: tuple[int, int, int], head_dim: int, theta: float = 10000.0, device: torch.device | str | None = None
) -> torch.Tensor:
    """``(2, N, head_dim)`` float32 on ``device``: the cosines and sines of :func:`rope_angles`, each repeated
    for both halves."""
    angles = rope_angles(grid, head_dim, theta, device).repeat(1, 2)
    return torch.stack([angles.cos(), angles.sin()])


def apply_rope(x: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """Rotate ``(B, heads, N, head_dim)`` queries or keys by ``(2, N, head_dim)`` tables; same shape and dtype."""
    cos, sin = tables.to(x.dtype).unbind(0)
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-second, first], dim=-1) * sin
