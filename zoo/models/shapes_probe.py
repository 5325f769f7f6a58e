"""The Shapes-world probe: a small 3D-conv video encoder, the FVD feature network for offline runs and CI.

FVD's reference network (I3D on Kinetics-400, :mod:`zoo.models.i3d`) needs weights that cannot be
downloaded offline. The probe stands in for it on Shapes-world video: the ``train-probe`` recipe trains
it to recognise the ground-truth attributes of Shapes-world clips (shape, colour, size, motion, speed,
background, camera, object count), so its features separate what Shapes-world captions describe. FVD
numbers from the probe compare only with FVD numbers from the same probe weights, never with I3D FVD.

Contract of the registered ``video_features/shapes-probe``:

* input ``(B, 3, T, H, W)`` float RGB in [-1, 1] (checked within 1e-3), any H, W and T >= :data:`MIN_FRAMES`;
* every frame is resized to ``size`` x ``size`` pixels (bilinear, antialiased; aspect ratio not kept) and
  gets two coordinate channels (x and y in [-1, 1]), so features can say where things are;
* ``widths`` blocks of Conv3d 3x3x3 -> GroupNorm -> SiLU, each halving height and width, the first two
  also halving time;
* output ``(B, D)``, ``D = 2 * widths[-1]``: the last block's activations averaged over space, then over
  time, next to their change over time (mean of the later half of the time steps minus mean of the
  earlier half). The change is what makes motion, speed and camera pans readable from a pooled vector.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from zoo.io.weights import load_safetensors, load_state_dict_into
from zoo.registry import register
from zoo.spec.params import Params

MIN_FRAMES = 2  # motion needs two frames; fewer would leave half of what the probe was trained on unseen
TIME_HALVING_BLOCKS = (0, 1)  # blocks (0-based) whose convolution halves time: 16 frames -> 4 time steps


class ShapesProbeParams(Params):
    """Weights, input size and widths of the Shapes-world probe."""

    weights: str | None = Field(
        None,
        description="URI of the weights (safetensors): zoo://, a path, file://, hf:// or any fsspec URL. None = "
        "random init, for tests and as the start of training: FVD from random weights means nothing.",
    )
    sha256: str | None = Field(
        None, pattern=r"^(sha256:)?[0-9a-fA-F]{64}$",
        description="Expected sha256 of the weights file; verified before loading when given.",
    )
    size: Literal[32, 64] = Field(32, description="Frames are resized to size x size pixels before the first block.")
    widths: tuple[int, ...] = Field(
        (16, 32, 64, 64), min_length=2, description="Channels of each block; features are twice the last width."
    )
    groups: int = Field(8, ge=1, description="GroupNorm groups in every block (must divide every width).")

    @model_validator(mode="after")
    def _check(self) -> ShapesProbeParams:
        if self.sha256 is not None and self.weights is None:
            raise ValueError("sha256 is given but weights is not")
        if any(width % self.groups for width in self.widths):
            raise ValueError(f"groups ({self.groups}) must divide every width, got widths {list(self.widths)}")
        if 2 ** len(self.widths) > self.size:
            raise ValueError(f"{len(self.widths)} blocks halve {self.size} pixels below one; use fewer widths")
        return self


class ConvBlock(nn.Module):
    """Conv3d 3x3x3 (padding 1, ``stride`` as (T, H, W)) -> GroupNorm -> SiLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int, int], groups: int):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, 3, stride, padding=1)
        self.norm = nn.GroupNorm(groups, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(self.norm(self.conv(x)))


def coordinates(videos: Tensor) -> Tensor:
    """``videos`` ``(B, C, T, H, W)`` with two more channels: x and y of each pixel centre, in [-1, 1]."""
    b, _, t, h, w = videos.shape
    ys = torch.linspace(-1.0, 1.0, h, device=videos.device, dtype=videos.dtype).view(1, 1, 1, h, 1)
    xs = torch.linspace(-1.0, 1.0, w, device=videos.device, dtype=videos.dtype).view(1, 1, 1, 1, w)
    return torch.cat([videos, xs.expand(b, 1, t, h, w), ys.expand(b, 1, t, h, w)], dim=1)


def resize_frames(videos: Tensor, size: int) -> Tensor:
    """Every frame of ``(B, C, T, H, W)`` to ``size`` x ``size`` pixels (bilinear, antialiased)."""
    b, c, t, h, w = videos.shape
    if (h, w) == (size, size):
        return videos
    frames = videos.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    frames = F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return frames.reshape(b, t, c, size, size).permute(0, 2, 1, 3, 4)


class ShapesProbe(nn.Module):
    """``(B, 3, T, H, W)`` in [-1, 1] -> features ``(B, 2 * widths[-1])``; trainable (the recipe) or frozen (FVD)."""

    resize = "bilinear"  # how frames reach size x size: what an FVD protocol records

    def __init__(self, p: ShapesProbeParams):
        super().__init__()
        self.params = p
        self.feature_dim = 2 * p.widths[-1]
        blocks, channels = [], 5  # RGB and the two coordinate channels
        for index, width in enumerate(p.widths):
            stride = (2 if index in TIME_HALVING_BLOCKS else 1, 2, 2)
            blocks.append(ConvBlock(channels, width, stride, p.groups))
            channels = width
        self.blocks = nn.Sequential(*blocks)

    @property
    def random_weights(self) -> bool:
        """True when no weights file was named: the features are then not comparable with anything."""
        return self.params.weights is None

    def describe(self) -> dict[str, Any]:
        """What this extractor is, for reports: name, weights URI, sha256, input size, feature size."""
        return {
            "name": "shapes-probe",
            "weights": self.params.weights,
            "sha256": self.params.sha256,
            "format": "safetensors" if self.params.weights is not None else "random-init",
            "resize": f"{self.resize} (antialiased) to {self.params.size}x{self.params.size}",
            "feature": f"{self.feature_dim}-d: activations averaged over space and time, and their change over time",
            "random_weights": self.random_weights,
        }

    def preprocess(self, videos: Tensor) -> Tensor:
        """Check the contract and resize; returns ``(B, 3, T, size, size)`` in [-1, 1]."""
        if videos.dim() != 5 or videos.shape[1] != 3:
            raise ValueError(f"the probe expects videos (B, 3, T, H, W), got shape {tuple(videos.shape)}")
        if videos.shape[2] < MIN_FRAMES:
            raise ValueError(f"the probe needs clips of at least {MIN_FRAMES} frames, got {videos.shape[2]}")
        if not videos.is_floating_point():
            raise ValueError(f"the probe expects float videos in [-1, 1], got dtype {videos.dtype}")
        low, high = float(videos.min()), float(videos.max())
        if low < -1.001 or high > 1.001:
            raise ValueError(f"the probe expects values in [-1, 1], got [{low:.3f}, {high:.3f}] (uint8 or [0, 1]?)")
        return resize_frames(videos, self.params.size).clamp(-1.0, 1.0)

    def forward(self, videos: Tensor) -> Tensor:
        dtype = next(self.parameters()).dtype
        x = self.blocks(coordinates(self.preprocess(videos).to(dtype))).mean(dim=(3, 4))  # (B, C, T')
        half = x.shape[2] // 2
        change = x[:, :, -half:].mean(dim=2) - x[:, :, :half].mean(dim=2) if half else torch.zeros_like(x[:, :, 0])
        return torch.cat([x.mean(dim=2), change], dim=1).float()


@register(
    "video_features",
    "shapes-probe",
    params=ShapesProbeParams,
    description="Shapes-world probe: videos in [-1, 1] -> small 3D-conv features, for offline FVD on Shapes world.",
)
def build_shapes_probe(
    p: ShapesProbeParams, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> ShapesProbe:
    """Build the probe frozen (eval mode, no gradients), loading and verifying ``p.weights`` when given."""
    probe = ShapesProbe(p)
    if p.weights is not None:
        load_state_dict_into(probe, load_safetensors(p.weights, p.sha256))
    else:
        warnings.warn(
            "shapes-probe built with random weights: its FVD means nothing; train it with "
            "`zoo run train/shapes-probe` and set `weights` (see docs/probes.md)",
            UserWarning,
            stacklevel=2,
        )
    probe.eval().requires_grad_(False)
    if device is not None:
        probe = probe.to(device)
    return probe.to(dtype) if dtype is not None else probe
