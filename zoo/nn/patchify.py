"""3D patchify and its inverse: ``(B, C, T, H, W)`` latents <-> ``(B, N, D)`` tokens.

Movie Gen patchifies TAE latents with a 3D convolution of kernel = stride = 1×2×2 and flattens the
result to one token sequence (moviegen-facts §1.1, N1/N4/N5). Tokens are ordered time-major:
``n = (t * h + i) * w + j`` over the patch grid ``(t, h, w)``.
"""

from __future__ import annotations

import torch
from torch import nn

Grid = tuple[int, int, int]


def patch_grid(size: tuple[int, int, int], patch: tuple[int, int, int]) -> Grid:
    """The patch grid ``(t, h, w)`` of a ``(T, H, W)`` latent size; raises ValueError if not divisible."""
    size, patch = tuple(int(s) for s in size), tuple(int(p) for p in patch)
    bad = [
        f"{axis}={s} is not divisible by the patch size {p}"
        for axis, s, p in zip("THW", size, patch)
        if s % p or s < p
    ]
    if bad:
        raise ValueError(f"latent size (T, H, W)={size} does not fit patch size {patch}: " + "; ".join(bad))
    return size[0] // patch[0], size[1] // patch[1], size[2] // patch[2]


class Patchify(nn.Module):
    """``(B, C, T, H, W) -> (B, N, D)`` by a Conv3d with kernel = stride = ``patch``.

    Args:
        in_channels: latent channels ``C``.
        dim: token width ``D``.
        patch: patch size ``(pt, ph, pw)`` in latent frames and latent pixels.
    """

    def __init__(self, in_channels: int, dim: int, patch: tuple[int, int, int] = (1, 2, 2)):
        super().__init__()
        self.patch = tuple(patch)
        self.proj = nn.Conv3d(in_channels, dim, kernel_size=self.patch, stride=self.patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W) -> (B, t * h * w, D)``; raises ValueError if a size is not divisible."""
        patch_grid(x.shape[2:], self.patch)
        return self.proj(x).flatten(2).transpose(1, 2)


class Unpatchify(nn.Module):
    """``(B, N, D) -> (B, C, T, H, W)`` by a Linear to ``C * pt * ph * pw`` and a reshape.

    Args:
        dim: token width ``D``.
        out_channels: output channels ``C``.
        patch: patch size ``(pt, ph, pw)``.
    """

    def __init__(self, dim: int, out_channels: int, patch: tuple[int, int, int] = (1, 2, 2)):
        super().__init__()
        self.patch = tuple(patch)
        self.out_channels = out_channels
        pt, ph, pw = self.patch
        self.proj = nn.Linear(dim, out_channels * pt * ph * pw)

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        """``(B, t * h * w, D)`` on patch grid ``(t, h, w)`` -> ``(B, C, t * pt, h * ph, w * pw)``."""
        return self.arrange(self.proj(x), grid)

    def arrange(self, patches: torch.Tensor, grid: Grid) -> torch.Tensor:
        """Projected patches ``(B, t * h * w, C * pt * ph * pw)`` -> ``(B, C, t * pt, h * ph, w * pw)``."""
        t, h, w = grid
        pt, ph, pw = self.patch
        batch = patches.shape[0]
        video = patches.reshape(batch, t, h, w, self.out_channels, pt, ph, pw).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return video.reshape(batch, self.out_channels, t * pt, h * ph, w * pw)  # (B, C, t, pt, h, ph, w, pw) merged
