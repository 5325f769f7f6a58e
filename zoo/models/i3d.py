"""Inception-I3D, the video network behind FVD (Carreira & Zisserman, "Quo Vadis, Action Recognition?", 2017).

I3D inflates Inception-v1 (GoogLeNet) to 3D: every k x k filter becomes k x k x k, strides follow the
paper's Fig. 3 (no temporal striding in the first two max-pools, 3x3x3 and 2x2x2 pools before Mixed_4b
and Mixed_5b), every convolution is conv -> BatchNorm -> ReLU with TensorFlow "SAME" padding, and the head
is a valid 2x7x7 average pool, a 1x1x1 convolution to the Kinetics-400 classes, and the mean over the
remaining time steps. Module names follow the layout of the Kinetics-I3D release (``Conv3d_1a_7x7`` ...
``Mixed_5c``, ``logits``), so state dicts in the common ``InceptionI3d`` key layout load as they are.

Preprocessing contract of :class:`I3DFeatures` (the registered ``video_features/i3d``):

* input ``(B, 3, T, H, W)`` float RGB in [-1, 1] (checked within 1e-3), any H, W and T >= :data:`MIN_FRAMES`;
* every frame is resized to 224 x 224 pixels: ``bilinear`` warps it straight there (the TF reference),
  ``short-side-crop`` scales the short side to 224 and centre-crops the long side; values stay in [-1, 1];
* output ``(B, 400)`` logits averaged over time, before the softmax (the FVD feature).

With ``format: torchscript`` the network is the StyleGAN-V TorchScript export of the tf-hub I3D, called
after this preprocessing with ``rescale=False, resize=False, return_features=True``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from zoo.errors import WeightsError
from zoo.io.uri import resolve
from zoo.io.weights import load_safetensors, load_state_dict_into, verify_sha256
from zoo.registry import register
from zoo.spec.params import Params

ResizeMode = Literal["bilinear", "short-side-crop"]

INPUT_SIZE = 224  # pixels, height and width the network sees (paper §4; the tf-hub model)

# Mixed_* blocks: (name, 1x1, 3x3-reduce, 3x3, second 3x3-reduce, second 3x3, pool-projection) channels,
# Inception-v1's Table 1 with the 5x5 branch inflated as 3x3x3 as in I3D; a max-pool name stands alone.
INCEPTION_BLOCKS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("MaxPool3d_4a_3x3", ()),
    ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("MaxPool3d_5a_2x2", ()),
    ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", (384, 192, 384, 48, 128, 128)),
)
POOLS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {  # name -> (kernel, stride), (T, H, W)
    "MaxPool3d_2a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool3d_3a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool3d_4a_3x3": ((3, 3, 3), (2, 2, 2)),
    "MaxPool3d_5a_2x2": ((2, 2, 2), (2, 2, 2)),
}


class I3DParams(Params):
    """Weights, input resizing and head size of the I3D feature network used by FVD."""

    weights: str | None = Field(
        None,
        description="URI of the weights: zoo://, a path, file://, hf:// or any fsspec URL. None = random init, "
        "for tests only: FVD from random weights is not comparable with anything.",
    )
    sha256: str | None = Field(
        None, pattern=r"^(sha256:)?[0-9a-fA-F]{64}$", description="Expected sha256 of the weights file; verified "
        "before loading when given.",
    )
    format: Literal["torchscript", "state_dict"] = Field(
        "torchscript",
        description="How `weights` is read: 'torchscript' = torch.jit.load of the StyleGAN-V export of the tf-hub "
        "I3D (the comparable FVD network); 'state_dict' = safetensors, or torch.load(weights_only=True) for "
        ".pt/.pth/.ckpt/.bin, in the InceptionI3d key layout.",
    )
    resize: ResizeMode = Field(
        "bilinear",
        description="How frames reach 224x224 pixels: 'bilinear' straight there (the TF reference), or "
        "'short-side-crop' (short side to 224, centre crop).",
    )
    num_classes: int = Field(400, ge=1, description="Logits per clip: the 400 Kinetics-400 classes.")

    @model_validator(mode="after")
    def _sha256_needs_weights(self) -> I3DParams:
        if self.sha256 is not None and self.weights is None:
            raise ValueError("sha256 is given but weights is not")
        if self.format == "torchscript" and self.weights is not None and self.num_classes != 400:
            raise ValueError("the TorchScript I3D has 400 classes; num_classes must be 400")
        return self


# --- the network -------------------------------------------------------------------------------------


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one axis, ``(front, back)``: output ``ceil(size / stride)``, extra at the back."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], value: float = 0.0) -> Tensor:
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):  # F.pad wants W, H, T
        pads.extend(same_padding(size, k, s))
    return F.pad(x, pads, value=value) if any(pads) else x


class Unit3D(nn.Module):
    """Conv3d ("SAME" padding) -> BatchNorm (eps 1e-3) -> ReLU; the logits unit has a bias and neither of the others."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int | tuple[int, int, int] = 1,
                 stride: int | tuple[int, int, int] = 1, *, head: bool = False):
        super().__init__()
        self.kernel = (kernel,) * 3 if isinstance(kernel, int) else tuple(kernel)
        self.stride = (stride,) * 3 if isinstance(stride, int) else tuple(stride)
        self.head = head
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=head)
        if not head:
            self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        return x if self.head else F.relu(self.bn(x))


class MaxPool3dSame(nn.Module):
    """Max-pool with TensorFlow "SAME" padding (padded positions never win)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride, float("-inf")), self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated on channels: 1x1; 1x1 -> 3x3; 1x1 -> 3x3; 3x3 max-pool -> 1x1."""

    def __init__(self, in_channels: int, widths: tuple[int, ...]):
        super().__init__()
        one, reduce_a, three_a, reduce_b, three_b, pool_proj = widths
        self.b0 = Unit3D(in_channels, one)
        self.b1a, self.b1b = Unit3D(in_channels, reduce_a), Unit3D(reduce_a, three_a, 3)
        self.b2a, self.b2b = Unit3D(in_channels, reduce_b), Unit3D(reduce_b, three_b, 3)
        self.b3a, self.b3b = MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(in_channels, pool_proj)
        self.out_channels = one + three_a + three_b + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """Inception-I3D: ``(B, 3, T, 224, 224)`` in [-1, 1] -> ``(B, num_classes)`` logits averaged over time."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.num_classes = num_classes
        self.Conv3d_1a_7x7 = Unit3D(3, 64, 7, 2)
        self.MaxPool3d_2a_3x3 = MaxPool3dSame(*POOLS["MaxPool3d_2a_3x3"])
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, 3)
        self.MaxPool3d_3a_3x3 = MaxPool3dSame(*POOLS["MaxPool3d_3a_3x3"])
        channels = 192
        self.inception_names = [name for name, _ in INCEPTION_BLOCKS]
        for name, widths in INCEPTION_BLOCKS:
            if widths:
                block = InceptionBlock(channels, widths)
                channels = block.out_channels
                self.add_module(name, block)
            else:
                self.add_module(name, MaxPool3dSame(*POOLS[name]))
        self.avg_pool = nn.AvgPool3d((2, 7, 7), stride=1)  # valid: 7x7 spatial -> 1, 2 time steps -> 1
        self.dropout = nn.Dropout(0.5)  # keep-probability 0.5 in training (paper §3)
        self.logits = Unit3D(channels, num_classes, head=True)

    def forward(self, x: Tensor) -> Tensor:
        for stem in (self.Conv3d_1a_7x7, self.MaxPool3d_2a_3x3, self.Conv3d_2b_1x1, self.Conv3d_2c_3x3,
                     self.MaxPool3d_3a_3x3):
            x = stem(x)
        for name in self.inception_names:
            x = getattr(self, name)(x)
        x = self.logits(self.dropout(self.avg_pool(x)))  # (B, classes, T', 1, 1)
        return x.flatten(2).mean(dim=2)


def _min_frames() -> int:
    """Fewest input frames I3D accepts: time is halved (rounding up) three times and the pool needs 2 steps."""
    frames = 1
    while math.ceil(math.ceil(math.ceil(frames / 2) / 2) / 2) < 2:
        frames += 1
    return frames


MIN_FRAMES = _min_frames()  # 9 frames: Conv3d_1a, MaxPool3d_4a and MaxPool3d_5a halve time, the pool needs 2


# --- preprocessing and the registered feature extractor ------------------------------------------------


def resize_frames(videos: Tensor, mode: ResizeMode, size: int = INPUT_SIZE) -> Tensor:
    """Resize every frame of ``(B, C, T, H, W)`` to ``size`` x ``size`` pixels (bilinear, half-pixel centres).

    ``bilinear`` warps the frame (aspect ratio not kept); ``short-side-crop`` scales the short side to
    ``size`` (aspect kept) and takes the centre ``size`` x ``size`` crop. Bilinear interpolation never leaves
    the input's value range.
    """
    b, c, t, h, w = videos.shape
    frames = videos.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    if mode == "bilinear":
        target = (size, size)
    elif mode == "short-side-crop":
        scale = size / min(h, w)
        target = (max(size, round(h * scale)), max(size, round(w * scale)))
    else:
        raise ValueError(f"unknown resize mode {mode!r}; use 'bilinear' or 'short-side-crop'")
    if target != (h, w):
        frames = F.interpolate(frames, size=target, mode="bilinear", align_corners=False, antialias=False)
    top, left = (target[0] - size) // 2, (target[1] - size) // 2
    frames = frames[:, :, top : top + size, left : left + size]
    return frames.reshape(b, t, c, size, size).permute(0, 2, 1, 3, 4)


class I3DFeatures(nn.Module):
    """The FVD feature extractor: ``(B, 3, T, H, W)`` in [-1, 1] -> ``(B, 400)`` I3D logits averaged over time.

    Frozen: no gradients, and eval mode even when a parent module is put in train mode (BatchNorm uses its
    running statistics). ``network`` is an :class:`InceptionI3d` or a TorchScript module.
    """

    def __init__(self, network: nn.Module, p: I3DParams, *, torchscript: bool = False):
        super().__init__()
        self.network = network
        self.params = p
        self.torchscript = torchscript
        self.resize = p.resize
        self.feature_dim = p.num_classes
        for parameter in self.network.parameters():  # (ScriptModules have no requires_grad_)
            parameter.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> I3DFeatures:
        """Stay in eval mode: the extractor is frozen."""
        return super().train(False)

    @property
    def random_weights(self) -> bool:
        """True when no weights were loaded (random init): features from it are not comparable."""
        return self.params.weights is None

    def describe(self) -> dict[str, Any]:
        """What this extractor is, for reports: name, weights URI, sha256, format, resize, feature size."""
        return {
            "name": "i3d",
            "weights": self.params.weights,
            "sha256": self.params.sha256,
            "format": self.params.format if self.params.weights is not None else "random-init",
            "resize": self.resize,
            "feature": f"{self.feature_dim}-d logits averaged over time",
            "random_weights": self.random_weights,
        }

    def preprocess(self, videos: Tensor) -> Tensor:
        """Check the contract and resize frames to 224 x 224; returns ``(B, 3, T, 224, 224)`` in [-1, 1]."""
        if videos.dim() != 5 or videos.shape[1] != 3:
            raise ValueError(f"I3D expects videos (B, 3, T, H, W), got shape {tuple(videos.shape)}")
        if videos.shape[2] < MIN_FRAMES:
            raise ValueError(f"I3D needs clips of at least {MIN_FRAMES} frames, got {videos.shape[2]}")
        if not videos.is_floating_point():
            raise ValueError(f"I3D expects float videos in [-1, 1], got dtype {videos.dtype}")
        low, high = float(videos.min()), float(videos.max())
        if low < -1.001 or high > 1.001:
            raise ValueError(f"I3D expects values in [-1, 1], got [{low:.3f}, {high:.3f}] (uint8 or [0, 1] input?)")
        return resize_frames(videos, self.resize).clamp(-1.0, 1.0)

    def forward(self, videos: Tensor) -> Tensor:
        x = self.preprocess(videos)
        dtype = next(iter(self.network.parameters()), x).dtype
        with torch.no_grad():
            if self.torchscript:
                features = self.network(x.to(dtype), rescale=False, resize=False, return_features=True)
            else:
                features = self.network(x.to(dtype))
        if features.shape != (videos.shape[0], self.feature_dim):
            raise WeightsError(f"I3D returned features {tuple(features.shape)}, expected ({videos.shape[0]}, "
                               f"{self.feature_dim})")
        return features.float()


def _load_torchscript(p: I3DParams, device: torch.device | str | None) -> nn.Module:
    path = resolve(p.weights)
    if p.sha256 is not None:
        verify_sha256(path, p.sha256, p.weights)
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated, but it is the format the reference I3D ships in
            warnings.filterwarnings("ignore", message=".*torch.jit.load.*", category=DeprecationWarning)
            return torch.jit.load(str(path), map_location=device or "cpu")
    except (RuntimeError, ValueError) as error:
        raise WeightsError(
            f"{p.weights}: not a loadable TorchScript file ({error}); for a state dict set format: state_dict"
        ) from error


@register(
    "video_features",
    "i3d",
    params=I3DParams,
    description="Inception-I3D (Kinetics-400): videos in [-1, 1] -> 400-d logits averaged over time, for FVD.",
)
def build_i3d(p: I3DParams, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
              ) -> I3DFeatures:
    """Build the frozen I3D feature extractor, loading and verifying ``p.weights`` when given."""
    if p.weights is not None and p.format == "torchscript":
        model = I3DFeatures(_load_torchscript(p, device), p, torchscript=True)
    else:
        network = InceptionI3d(p.num_classes)
        if p.weights is not None:
            load_state_dict_into(network, load_safetensors(p.weights, p.sha256))
        else:
            warnings.warn(
                "I3D built with random weights: FVD from it is not comparable with any published number; "
                "set `weights` to the StyleGAN-V TorchScript I3D (see docs/fvd.md)",
                UserWarning,
                stacklevel=2,
            )
        model = I3DFeatures(network, p)
    if device is not None:
        model = model.to(device)
    return model.to(dtype) if dtype is not None else model
