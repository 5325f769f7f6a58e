"""Tiled TAE encoding and decoding, so memory does not grow with video length (moviegen-facts.md §3).

Movie Gen tiles time (facts §3; N4, N5, N8): the encoder runs on non-overlapping tiles of 32 frames; the
decoder runs on tiles of 4 latent frames that overlap by 2 (16 frames) and blends neighbouring tiles
linearly over the overlap. Spatial tiles (optional, not from the paper) overlap and blend the same way.

Tiles are planned on the latent grid, so a tile always maps to whole latent frames and pixels. Each tile
is run on its own and its weighted output is added into the output tensor, so peak activation memory is
that of one tile. The blending weights of every axis sum to one at each position (a partition of unity).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from torch import Tensor

if TYPE_CHECKING:
    from zoo.models.tae import TAE, DiagonalGaussian

Span = tuple[int, int]


def plan_tiles(length: int, tile: int, overlap: int) -> list[Span]:
    """Half-open spans ``[start, stop)`` covering ``range(length)``; neighbours share ``overlap`` positions.

    Tiles advance by ``tile - overlap``; the last tile may be shorter but still holds more than
    ``overlap`` positions. Needs ``tile >= 2 * overlap`` so that no position lies in three tiles.
    """
    if overlap < 0 or tile < 1 or 2 * overlap > tile:
        raise ValueError(f"need 0 <= 2 * overlap <= tile, got tile={tile}, overlap={overlap}")
    if length <= tile:
        return [(0, length)]
    spans, start = [], 0
    while True:
        spans.append((start, min(start + tile, length)))
        if start + tile >= length:
            return spans
        start += tile - overlap


def blend_weights(spans: Sequence[Span], scale: int = 1) -> list[Tensor]:
    """Linear-ramp weights ``(scale * (stop - start),)`` per span, in output units of ``scale`` per position.

    Over the overlap of two neighbouring tiles the earlier tile's weight falls linearly and the later
    one's rises, as ``(i + 0.5) / overlap``; elsewhere a tile's weight is 1. Summed over tiles the
    weights are 1 at every output position.
    """
    weights = []
    for k, (start, stop) in enumerate(spans):
        w = torch.ones(scale * (stop - start))
        if k > 0:
            rise = scale * (spans[k - 1][1] - start)
            w[:rise] = (torch.arange(rise) + 0.5) / rise
        if k + 1 < len(spans):
            fall = scale * (stop - spans[k + 1][0])
            w[w.numel() - fall :] = 1 - (torch.arange(fall) + 0.5) / fall
        weights.append(w)
    return weights


def tiled_apply(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    spans: Sequence[Sequence[Span]],
    in_scale: Sequence[int],
    out_scale: Sequence[int],
    out_channels: int,
) -> Tensor:
    """Run ``fn`` tile by tile over the (T, H, W) axes of ``x`` ``(B, C, T, H, W)`` and blend the outputs.

    ``spans[a]`` tiles axis ``a`` on a common grid; grid position ``i`` is input ``[i * in_scale[a],
    (i + 1) * in_scale[a])`` and output ``[i * out_scale[a], (i + 1) * out_scale[a])``. Returns
    ``(B, out_channels, T', H', W')`` with ``T' = grid_T * out_scale[0]`` and so on.
    """
    grid = [axis_spans[-1][1] for axis_spans in spans]
    out = x.new_zeros(x.shape[0], out_channels, *(n * s for n, s in zip(grid, out_scale)))
    axis_weights = [blend_weights(axis_spans, s) for axis_spans, s in zip(spans, out_scale)]
    for tile in itertools.product(*(range(len(axis_spans)) for axis_spans in spans)):
        src = [slice(a * s, b * s) for (a, b), s in zip((spans[i][k] for i, k in enumerate(tile)), in_scale)]
        dst = [slice(a * s, b * s) for (a, b), s in zip((spans[i][k] for i, k in enumerate(tile)), out_scale)]
        y = fn(x[:, :, src[0], src[1], src[2]])
        expected = (x.shape[0], out_channels, *(d.stop - d.start for d in dst))
        if tuple(y.shape) != expected:
            raise RuntimeError(f"tile function returned {tuple(y.shape)}, expected {expected}")
        wt, wh, ww = (axis_weights[i][k].to(y) for i, k in enumerate(tile))
        out[:, :, dst[0], dst[1], dst[2]] += y * (wt[:, None, None] * wh[None, :, None] * ww[None, None, :])
    return out


def tiled_encode(
    tae: TAE,
    x: Tensor,
    tile_frames: int = 32,  # facts §3 (N4, N5, N8)
    spatial_tile: int | None = None,
    spatial_overlap: int = 0,
) -> DiagonalGaussian:
    """Encode video ``(B, 3, T, H, W)`` in [-1, 1] in non-overlapping tiles of ``tile_frames`` frames.

    Optional spatial tiles of ``spatial_tile`` pixels overlap by ``spatial_overlap`` pixels and are
    blended in latent space. All sizes must be multiples of the TAE's compression on their axis.
    """
    ct, cs = tae.temporal_compression, tae.spatial_compression
    _check_multiple("tile_frames", tile_frames, ct, minimum=ct)
    x = tae.pad_frames(x)
    frames_per_cell = ct if x.shape[2] > 1 else 1  # a single image is one latent frame
    spans = [
        plan_tiles(x.shape[2] // frames_per_cell, tile_frames // ct, 0),
        *_spatial_spans((x.shape[3] // cs, x.shape[4] // cs), spatial_tile, spatial_overlap, cs),
    ]
    moments = tiled_apply(tae.encode_untiled, x, spans, (frames_per_cell, cs, cs), (1, 1, 1), 2 * tae.latent_channels)
    return tae.to_posterior(moments)


def tiled_decode(
    tae: TAE,
    z: Tensor,
    tile_latent_frames: int = 4,  # 32 frames / 8x, facts §3 (N4, N5, N8)
    overlap_latent_frames: int = 2,  # 16 frames / 8x, facts §3
    spatial_tile_latent: int | None = None,
    spatial_overlap_latent: int = 0,
) -> Tensor:
    """Decode latents ``(B, C, t, h, w)`` to ``(B, 3, t * ct, h * cs, w * cs)`` tile by tile, blending overlaps.

    Temporal tiles hold ``tile_latent_frames`` latent frames and overlap by ``overlap_latent_frames``;
    optional spatial tiles (latent units) overlap by ``spatial_overlap_latent``.
    """
    ct, cs = tae.temporal_compression, tae.spatial_compression
    spans = [
        plan_tiles(z.shape[2], tile_latent_frames, overlap_latent_frames),
        *_spatial_spans(z.shape[3:], spatial_tile_latent, spatial_overlap_latent, 1),
    ]
    return tiled_apply(tae.decode_untiled, z, spans, (1, 1, 1), (ct, cs, cs), tae.out_channels)


def _spatial_spans(grid: Sequence[int], tile: int | None, overlap: int, unit: int) -> list[list[Span]]:
    """Spans for the H and W grid axes; ``tile`` and ``overlap`` count units of ``unit`` grid cells."""
    if tile is None:
        return [[(0, n)] for n in grid]
    _check_multiple("spatial tile", tile, unit, minimum=unit)
    _check_multiple("spatial overlap", overlap, unit, minimum=0)
    return [plan_tiles(n, tile // unit, overlap // unit) for n in grid]


def _check_multiple(name: str, value: int, factor: int, minimum: int) -> None:
    if value < minimum or value % factor:
        raise ValueError(f"{name} must be a multiple of {factor} and at least {minimum}, got {value}")
