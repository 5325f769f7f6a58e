"""Steps shared by the generation pipelines: prepare latents, denoise, decode, convert.

Each pipeline is a short composition of these (encode prompt -> prepare latents -> denoise ->
decode); what differs between pipelines is which steps run and which extra inputs they take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from zoo.flow.noise import GaussianNoise


def seeded_generator(seed: int | None) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (None: a fresh random seed)."""
    generator = torch.Generator("cpu")
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()
    return generator


def prepare_latents(
    batch: int,
    latent_shape: tuple[int, ...],
    *,
    device: torch.device,
    dtype: torch.dtype,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    noise_prior: GaussianNoise | None = None,
) -> Tensor:
    """Noise ``(B, C, T, H, W)`` at t = 0 from ``noise_prior`` (default N(0, I)); the same seed gives
    the same noise on any device.

    ``generator`` (a CPU generator) replaces ``seed``, so that later draws, such as a stochastic
    solver's, continue the same stream.
    """
    generator = generator if generator is not None else seeded_generator(seed)
    prior = noise_prior if noise_prior is not None else GaussianNoise()
    noise = prior.sample((batch, *latent_shape), generator=generator, dtype=torch.float32)
    return noise.to(device=device, dtype=dtype)


def backbone_velocity(backbone: nn.Module) -> Any:
    """Adapt a backbone ``(x, t, context, mask)`` to the solvers' ``velocity_fn(x, t, cond)``."""

    def velocity(x: Tensor, t: Tensor, cond: tuple[Tensor, Tensor]) -> Tensor:
        context, mask = cond
        return backbone(x, t, context, mask)

    return velocity


def module_dtype(module: nn.Module) -> torch.dtype:
    """The floating dtype of a module's first parameter (float32 when it has none)."""
    for param in module.parameters():
        if param.is_floating_point():
            return param.dtype
    return torch.float32


@dataclass
class VideoOutput:
    """Generated videos ``(B, 3, T, H, W)`` in [-1, 1], with the prompts and seed that made them."""

    video: Tensor
    prompts: list[str]
    seed: int | None
    fps: float

    def frames_uint8(self) -> Tensor:
        """``(B, T, H, W, 3)`` uint8 frames, ready for a video writer."""
        pixels = ((self.video.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return pixels.permute(0, 2, 3, 4, 1).contiguous()
