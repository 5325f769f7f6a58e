"""2.5D building blocks for video autoencoders: 2D spatial layers, each followed by a 1D temporal one.

The Movie Gen TAE "inflates" a 2D image VAE: a 1D temporal conv after every 2D spatial conv and a 1D
temporal attention after every 2D spatial attention (moviegen-facts.md §3; N3, N5, N8). Temporal convs
pad symmetrically by replicating the edge frames (facts §3; N5, N8). Every tensor is a video
``(B, C, T, H, W)``. Temporal convs and temporal attention start as the identity (a centred Dirac kernel,
a zero output projection), so a freshly inflated model computes what its 2D parent computes per frame
(the initialisation in facts §3, N5: spatial weights first, temporal weights added).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm with statistics per frame: over (C / groups, H, W), never across time.

    Per-frame statistics keep the 2D parent's behaviour, make an image (T = 1) and a still video
    normalise alike, and keep temporal tiles independent of frames outside their receptive field.
    """

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T, H, W) -> same
        b, c, t, h, w = x.shape
        grouped = x.float().reshape(b, self.num_groups, c // self.num_groups, t, h * w)
        var, mean = torch.var_mean(grouped, dim=(2, 4), correction=0, keepdim=True)  # (B, G, 1, T, 1)
        rstd = torch.rsqrt(var + self.eps)
        scale = rstd.expand(-1, -1, c // self.num_groups, -1, -1).reshape(b, c, t, 1, 1)
        shift = (-mean * rstd).expand(-1, -1, c // self.num_groups, -1, -1).reshape(b, c, t, 1, 1)
        if self.affine:
            weight = self.weight.float().view(1, c, 1, 1, 1)
            scale, shift = scale * weight, shift * weight + self.bias.float().view(1, c, 1, 1, 1)
        return (x.float() * scale + shift).to(x.dtype)


class SpatialConv(nn.Conv3d):
    """A 2D ``k x k`` conv applied to every frame (a ``1 x k x k`` Conv3d, zero padding in H and W)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1):
        pad = kernel // 2
        super().__init__(
            in_channels, out_channels, (1, kernel, kernel), stride=(1, stride, stride), padding=(0, pad, pad)
        )


class TemporalConv(nn.Conv3d):
    """A 1D conv over time (``k x 1 x 1``) with symmetric replicate padding of ``(k - 1) / 2`` frames.

    With ``stride=2`` it is the TAE's temporal downsampler (facts §3): ``T -> ceil(T / 2)`` frames, and a
    single frame stays a single frame. Initialised to the identity (centred Dirac) when in and out
    channels match, so inflating a 2D model leaves it unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1):
        if kernel % 2 != 1:
            raise ValueError(f"temporal kernel must be odd for symmetric padding, got {kernel}")
        super().__init__(in_channels, out_channels, (kernel, 1, 1), stride=(stride, 1, 1))
        self.pad_frames = (kernel - 1) // 2
        if in_channels == out_channels:
            with torch.no_grad():
                self.weight.zero_()
                self.weight[:, :, kernel // 2, 0, 0] = torch.eye(out_channels, dtype=self.weight.dtype)
                self.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T, H, W) -> (B, C', ceil(T / stride), H, W)
        if self.pad_frames:
            x = F.pad(x, (0, 0, 0, 0, self.pad_frames, self.pad_frames), mode="replicate")
        return super().forward(x)


class Conv25d(nn.Module):
    """Spatial ``k x k`` conv, then temporal ``k_t`` conv (facts §3): ``(B, C, T, H, W) -> (B, C', T', H', W')``.

    ``spatial_stride=2`` halves H and W; ``temporal_stride=2`` halves T (rounding up).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 3,
        temporal_kernel: int = 3,
        spatial_stride: int = 1,
        temporal_stride: int = 1,
    ):
        super().__init__()
        self.spatial = SpatialConv(in_channels, out_channels, kernel, spatial_stride)
        self.temporal = TemporalConv(out_channels, out_channels, temporal_kernel, temporal_stride)

    def forward(self, x: Tensor) -> Tensor:
        return self.temporal(self.spatial(x))


class ResBlock25d(nn.Module):
    """Pre-activation ResNet block of 2.5D convs: (GroupNorm, SiLU, Conv25d) x 2 plus a skip."""

    def __init__(self, in_channels: int, out_channels: int, groups: int = 32, temporal_kernel: int = 3):
        super().__init__()
        self.norm1 = FrameGroupNorm(groups, in_channels, eps=1e-6)
        self.conv1 = Conv25d(in_channels, out_channels, temporal_kernel=temporal_kernel)
        self.norm2 = FrameGroupNorm(groups, out_channels, eps=1e-6)
        self.conv2 = Conv25d(out_channels, out_channels, temporal_kernel=temporal_kernel)
        self.skip = nn.Conv3d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T, H, W) -> (B, C', T, H, W)
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Downsample25d(nn.Module):
    """Halve H and W with a stride-2 spatial conv; halve T with a stride-2 temporal conv if ``temporal`` (facts §3)."""

    def __init__(self, channels: int, temporal: bool, temporal_kernel: int = 3):
        super().__init__()
        self.conv = Conv25d(
            channels, channels, temporal_kernel=temporal_kernel, spatial_stride=2, temporal_stride=2 if temporal else 1
        )

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T, H, W) -> (B, C, T or ceil(T / 2), H / 2, W / 2)
        return self.conv(x)


class Upsample25d(nn.Module):
    """Nearest-neighbour 2x in H and W (and in T if ``temporal``), then a 2.5D conv (facts §3).

    ``forward(x, temporal=False)`` skips the temporal doubling (used to decode a single image).
    """

    def __init__(self, channels: int, temporal: bool, temporal_kernel: int = 3):
        super().__init__()
        self.temporal = temporal
        self.conv = Conv25d(channels, channels, temporal_kernel=temporal_kernel)

    def forward(self, x: Tensor, temporal: bool = True) -> Tensor:  # (B, C, T, H, W) -> (B, C, T or 2T, 2H, 2W)
        time_factor = 2 if (self.temporal and temporal) else 1
        return self.conv(F.interpolate(x, scale_factor=(time_factor, 2, 2), mode="nearest"))


def _multihead_attention(qkv: Tensor, heads: int) -> Tensor:
    """``(N, L, 3D)`` packed projections -> ``(N, L, D)`` bidirectional SDPA output."""
    n, length, three_dim = qkv.shape
    q, k, v = qkv.view(n, length, 3, heads, three_dim // (3 * heads)).permute(2, 0, 3, 1, 4)
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, length, three_dim // 3)


class SpatialAttention(nn.Module):
    """Self-attention among the H x W positions of each frame, with a residual: ``(B, C, T, H, W)``."""

    def __init__(self, channels: int, heads: int = 1, groups: int = 32):
        super().__init__()
        self.heads = heads
        self.norm = FrameGroupNorm(groups, channels, eps=1e-6)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        tokens = self.norm(x).permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c)  # (B*T, H*W, C)
        out = self.proj(_multihead_attention(self.qkv(tokens), self.heads))
        return x + out.view(b, t, h, w, c).permute(0, 4, 1, 2, 3)


class TemporalAttention(nn.Module):
    """Self-attention among the T frames at each spatial position, with a residual: ``(B, C, T, H, W)``.

    The output projection starts at zero, so the block starts as the identity.
    """

    def __init__(self, channels: int, heads: int = 1, groups: int = 32):
        super().__init__()
        self.heads = heads
        self.norm = FrameGroupNorm(groups, channels, eps=1e-6)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        tokens = self.norm(x).permute(0, 3, 4, 2, 1).reshape(b * h * w, t, c)  # (B*H*W, T, C)
        out = self.proj(_multihead_attention(self.qkv(tokens), self.heads))
        return x + out.view(b, h, w, t, c).permute(0, 4, 3, 1, 2)


class Attention25d(nn.Sequential):
    """2D spatial attention followed by 1D temporal attention (facts §3): ``(B, C, T, H, W) -> same``."""

    def __init__(self, channels: int, heads: int = 1, groups: int = 32):
        super().__init__(SpatialAttention(channels, heads, groups), TemporalAttention(channels, heads, groups))
