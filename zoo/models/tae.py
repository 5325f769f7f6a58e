"""Movie Gen temporal autoencoder (TAE): a 2.5D convolutional VAE over video (moviegen-facts.md §3).

An image VAE (the Stable Diffusion VAE layout) inflated to video: a 1D temporal conv after every 2D
spatial conv and a 1D temporal attention after every 2D spatial attention (facts §3; N3, N5, N8).
Video ``(B, 3, T, H, W)`` in [-1, 1] -> posterior over latents ``(B, C, T / 8, H / 8, W / 8)`` with C = 16
at paper scale. Images are 1-frame videos with 1 latent frame. Other lengths are padded at the end by
repeating the last frame up to a multiple of the temporal compression; ``decode(z, frames=T)`` drops the
padded frames again (facts §3; N4).

Layout (UNCONFIRMED beyond the facts above; the SD VAE's, which the paper's TAE is inflated from):
encoder = conv_in, per level ``blocks_per_level`` ResBlocks then a downsampler (all levels but the last),
mid (ResBlock, attention, ResBlock), GroupNorm-SiLU-conv_out to mean and log-variance; the decoder mirrors
it with ``blocks_per_level + 1`` ResBlocks per level.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field, StrictInt, model_validator
from torch import Tensor, nn

from zoo.losses.opl import OPL_R
from zoo.models.tae_tiling import tiled_decode, tiled_encode
from zoo.nn.conv25d import Attention25d, Conv25d, Downsample25d, FrameGroupNorm, ResBlock25d, Upsample25d
from zoo.registry import register
from zoo.spec.params import Params


class TAEParams(Params):
    """Architecture, latent normalisation, tiling and loss weights of the TAE. Defaults are paper scale."""

    in_channels: int = Field(3, ge=1, description="Channels of the pixel video (RGB).")
    latent_channels: int = Field(16, ge=1, description="Latent channels C; 16 in the paper (facts §3: M1, N3, N8).")
    base_channels: int = Field(
        128, ge=1, description="Width of the first level. 128 as in the SD VAE the TAE is inflated from (UNCONFIRMED)."
    )
    channel_multipliers: list[int] = Field(
        default_factory=lambda: [1, 2, 4, 4],
        min_length=1,
        description="Width multiplier per level; spatial compression is 2 ** (levels - 1). SD VAE's [1, 2, 4, 4] "
        "gives 8x (facts §3; the multipliers are UNCONFIRMED).",
    )
    blocks_per_level: int = Field(
        2, ge=1, description="ResBlocks per encoder level (decoder: one more). 2 as in the SD VAE (UNCONFIRMED)."
    )
    temporal_downsample: list[bool] | StrictInt = Field(
        8,
        description="Which downsampling steps (levels but the last) also halve time, as a list of bools, or the "
        "temporal compression factor (a power of two; the first log2(factor) steps halve time). 8x in the paper "
        "(facts §3: M1, N3, N5, N8).",
    )
    temporal_kernel: int = Field(
        3, ge=1, description="Kernel of every 1D temporal conv, in frames; odd (UNCONFIRMED, 3 is the usual choice)."
    )
    attention: bool = Field(True, description="Spatial + temporal attention in the encoder and decoder mid blocks.")
    attention_heads: int = Field(1, ge=1, description="Heads of the mid-block attention (1 as in the SD VAE).")
    norm_groups: int = Field(32, ge=1, description="GroupNorm groups; must divide every level's width.")
    latent_scale: float = Field(
        1.0, gt=0, description="Scale of normalised latents for diffusion: z_norm = (z - shift) * scale. Fit on data."
    )
    latent_shift: float = Field(0.0, description="Shift of normalised latents: z_norm = (z - shift) * scale.")
    latent_motion_gain: float = Field(
        1.0,
        gt=0,
        description="Factor on each normalised latent's deviation from its mean over latent frames, so that "
        "motion, a small share of the latent's energy, keeps more of it under the diffusion noise. "
        "1 = off (the paper). Not in the paper sources (docs/training.md).",
    )
    temporal_tile_frames: int = Field(
        32, ge=1, description="Frames per temporal tile, encoder and decoder (facts §3: N4, N5, N8)."
    )
    temporal_tile_overlap: int = Field(
        16, ge=0, description="Frames shared by neighbouring decoder tiles, blended linearly; encoder tiles do not "
        "overlap (facts §3: N4, N5, N8).",
    )
    spatial_tile: int | None = Field(
        None, ge=1, description="Optional spatial tile size in pixels (square), for encode and decode; None = off."
    )
    spatial_tile_overlap: int = Field(
        64, ge=0, description="Pixels shared by neighbouring spatial tiles, blended linearly (with spatial_tile)."
    )
    kl_weight: float = Field(
        1e-6, ge=0, description="Weight of the KL term in training (LDM/SD VAE value; UNCONFIRMED for Movie Gen)."
    )
    opl_weight: float = Field(
        1e5, ge=0, description="Weight of the outlier penalty loss (facts §3: N1, N3; UNCONFIRMED)."
    )
    opl_r: float = Field(OPL_R, gt=0, description="OPL threshold r in standard deviations (facts §3: N8, N1).")

    @property
    def downsample_steps(self) -> int:
        """Number of 2x spatial downsamplings (levels - 1)."""
        return len(self.channel_multipliers) - 1

    @property
    def temporal_steps(self) -> list[bool]:
        """Per downsampling step, whether it also halves time."""
        if isinstance(self.temporal_downsample, list):
            return list(self.temporal_downsample)
        halvings = int(math.log2(self.temporal_downsample))
        return [k < halvings for k in range(self.downsample_steps)]

    @property
    def temporal_compression(self) -> int:
        """Frames per latent frame."""
        return 2 ** sum(self.temporal_steps)

    @property
    def spatial_compression(self) -> int:
        """Pixels per latent pixel along H and W."""
        return 2**self.downsample_steps

    @model_validator(mode="after")
    def _check(self) -> TAEParams:
        steps = self.downsample_steps
        if isinstance(self.temporal_downsample, list):
            if len(self.temporal_downsample) != steps:
                raise ValueError(
                    f"temporal_downsample has {len(self.temporal_downsample)} entries; "
                    f"{len(self.channel_multipliers)} levels have {steps} downsampling steps"
                )
        else:
            factor = self.temporal_downsample
            if factor < 1 or factor & (factor - 1) or factor > 2**steps:
                raise ValueError(
                    f"temporal_downsample={factor} must be a power of two at most 2 ** {steps} "
                    f"(one halving per downsampling step of the {len(self.channel_multipliers)} levels)"
                )
        if self.temporal_kernel % 2 != 1:
            raise ValueError(f"temporal_kernel must be odd (symmetric padding), got {self.temporal_kernel}")
        widths = [self.base_channels * m for m in self.channel_multipliers]
        if any(m < 1 for m in self.channel_multipliers) or any(w % self.norm_groups for w in widths):
            raise ValueError(f"norm_groups={self.norm_groups} must divide every level width {widths}")
        if widths[-1] % self.attention_heads:
            raise ValueError(f"attention_heads={self.attention_heads} must divide the mid width {widths[-1]}")
        ct, cs = self.temporal_compression, self.spatial_compression
        tile, overlap = self.temporal_tile_frames, self.temporal_tile_overlap
        if tile % ct or overlap % ct or 2 * overlap > tile:
            raise ValueError(
                f"temporal tiles ({tile} frames, overlap {overlap}) must be multiples of the temporal compression "
                f"{ct} with overlap at most half the tile"
            )
        if self.spatial_tile is not None:
            stile, soverlap = self.spatial_tile, self.spatial_tile_overlap
            if stile % cs or soverlap % cs or 2 * soverlap > stile:
                raise ValueError(
                    f"spatial tiles ({stile} px, overlap {soverlap}) must be multiples of the spatial compression "
                    f"{cs} with overlap at most half the tile"
                )
        return self


class DiagonalGaussian:
    """Posterior ``N(mean, exp(logvar))`` over latents ``(B, C, t, h, w)``, log-variance clamped to [-30, 20]."""

    def __init__(self, mean: Tensor, logvar: Tensor):
        self.mean = mean
        self.logvar = logvar.clamp(-30.0, 20.0)

    @property
    def std(self) -> Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """A reparameterised sample (differentiable in mean and logvar)."""
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def mode(self) -> Tensor:
        return self.mean

    def kl(self) -> Tensor:
        """KL to N(0, I) per sample, ``(B,)``: the MEAN over latent elements (not the sum) of the per-element KL."""
        per_element = 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)
        return per_element.flatten(1).mean(dim=1)


class Encoder(nn.Module):
    """Video ``(B, in, T, H, W)`` -> moments ``(B, 2C, T / ct, H / cs, W / cs)`` (mean, then logvar)."""

    def __init__(self, p: TAEParams):
        super().__init__()
        widths = [p.base_channels * m for m in p.channel_multipliers]
        kt, groups = p.temporal_kernel, p.norm_groups
        self.conv_in = Conv25d(p.in_channels, widths[0], temporal_kernel=kt)
        self.levels = nn.ModuleList()
        channels = widths[0]
        for level, width in enumerate(widths):
            stage = nn.Sequential()
            for _ in range(p.blocks_per_level):
                stage.append(ResBlock25d(channels, width, groups, kt))
                channels = width
            if level < p.downsample_steps:
                stage.append(Downsample25d(channels, p.temporal_steps[level], kt))
            self.levels.append(stage)
        self.mid = _mid_block(channels, p)
        self.norm_out = FrameGroupNorm(groups, channels, eps=1e-6)
        self.conv_out = Conv25d(channels, 2 * p.latent_channels, temporal_kernel=kt)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(x)
        for stage in self.levels:
            h = stage(h)
        return self.conv_out(F.silu(self.norm_out(self.mid(h))))


class Decoder(nn.Module):
    """Latents ``(B, C, t, h, w)`` -> video ``(B, in, t * ct, h * cs, w * cs)`` (unbounded; the TAE clamps nothing)."""

    def __init__(self, p: TAEParams):
        super().__init__()
        widths = [p.base_channels * m for m in p.channel_multipliers]
        kt, groups = p.temporal_kernel, p.norm_groups
        channels = widths[-1]
        self.conv_in = Conv25d(p.latent_channels, channels, temporal_kernel=kt)
        self.mid = _mid_block(channels, p)
        self.levels = nn.ModuleList()
        self.upsamplers = nn.ModuleList()
        for level in reversed(range(len(widths))):
            stage = nn.Sequential()
            for _ in range(p.blocks_per_level + 1):
                stage.append(ResBlock25d(channels, widths[level], groups, kt))
                channels = widths[level]
            self.levels.append(stage)
            if level > 0:  # mirrors the encoder's downsampler of level - 1
                self.upsamplers.append(Upsample25d(channels, p.temporal_steps[level - 1], kt))
        self.norm_out = FrameGroupNorm(groups, channels, eps=1e-6)
        self.conv_out = Conv25d(channels, p.in_channels, temporal_kernel=kt)

    def forward(self, z: Tensor, temporal_upsample: bool = True) -> Tensor:
        """``temporal_upsample=False`` keeps T (decodes a 1-frame latent to one image)."""
        h = self.mid(self.conv_in(z))
        for k, stage in enumerate(self.levels):
            h = stage(h)
            if k < len(self.upsamplers):
                h = self.upsamplers[k](h, temporal=temporal_upsample)
        return self.conv_out(F.silu(self.norm_out(h)))


def _mid_block(channels: int, p: TAEParams) -> nn.Sequential:
    """ResBlock, (spatial + temporal attention), ResBlock at the lowest resolution."""
    layers = [ResBlock25d(channels, channels, p.norm_groups, p.temporal_kernel)]
    if p.attention:
        layers.append(Attention25d(channels, p.attention_heads, p.norm_groups))
    layers.append(ResBlock25d(channels, channels, p.norm_groups, p.temporal_kernel))
    return nn.Sequential(*layers)


class TAE(nn.Module):
    """Movie Gen temporal autoencoder: ``encode`` video to a latent posterior, ``decode`` latents to video."""

    def __init__(self, params: TAEParams):
        super().__init__()
        self.params = params
        self.encoder = Encoder(params)
        self.decoder = Decoder(params)

    # -- shapes -----------------------------------------------------------------------------------
    @property
    def temporal_compression(self) -> int:
        return self.params.temporal_compression

    @property
    def spatial_compression(self) -> int:
        return self.params.spatial_compression

    @property
    def latent_channels(self) -> int:
        return self.params.latent_channels

    @property
    def out_channels(self) -> int:
        return self.params.in_channels

    def latent_frames(self, frames: int) -> int:
        """Latent frames for a video of ``frames`` frames: ceil(frames / ct); 1 for an image."""
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        return -(-frames // self.temporal_compression)

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """``(C, t, h, w)`` of the latent of a ``frames x height x width`` video (pixels)."""
        cs = self.spatial_compression
        if height % cs or width % cs:
            raise ValueError(f"height and width must be multiples of {cs}, got {height}x{width}")
        return self.latent_channels, self.latent_frames(frames), height // cs, width // cs

    def pad_frames(self, x: Tensor) -> Tensor:
        """Repeat the last frame of ``(B, C, T, H, W)`` up to a multiple of ct frames (T = 1 stays 1)."""
        frames = x.shape[2]
        if frames == 1:
            return x
        missing = self.latent_frames(frames) * self.temporal_compression - frames
        return torch.cat([x, x[:, :, -1:].expand(-1, -1, missing, -1, -1)], dim=2) if missing else x

    # -- untiled network calls (one tile) --------------------------------------------------------------
    def encode_untiled(self, x: Tensor) -> Tensor:
        """Moments ``(B, 2C, t, h, w)`` of a padded video ``(B, 3, t * ct, H, W)`` (or an image, T = 1)."""
        return self.encoder(x)

    def decode_untiled(self, z: Tensor) -> Tensor:
        """Video ``(B, 3, t * ct, h * cs, w * cs)`` of latents ``(B, C, t, h, w)``, in one call."""
        return self.decoder(z)

    def to_posterior(self, moments: Tensor) -> DiagonalGaussian:
        mean, logvar = moments.chunk(2, dim=1)
        return DiagonalGaussian(mean, logvar)

    # -- public API ---------------------------------------------------------------------------------
    def encode(self, x: Tensor, tiled: bool | None = None) -> DiagonalGaussian:
        """Posterior over latents ``(B, C, ceil(T / ct), H / cs, W / cs)`` of video ``(B, 3, T, H, W)`` in [-1, 1].

        ``tiled=None`` tiles when the video is longer (or, with ``spatial_tile``, larger) than one tile.
        """
        self._check_input(x, self.params.in_channels, "video")
        self.latent_shape(x.shape[2], x.shape[3], x.shape[4])  # validates H and W
        p = self.params
        if tiled is None:
            tiled = x.shape[2] > p.temporal_tile_frames or self._spatially_large(x.shape[3:], p.spatial_tile)
        if tiled:
            return tiled_encode(self, x, p.temporal_tile_frames, p.spatial_tile, p.spatial_tile_overlap)
        return self.to_posterior(self.encode_untiled(self.pad_frames(x)))

    def decode(self, z: Tensor, frames: int | None = None, tiled: bool | None = None) -> Tensor:
        """Video ``(B, 3, frames, h * cs, w * cs)`` from latents ``(B, C, t, h, w)``; ``frames`` defaults to t * ct.

        ``frames`` must need exactly ``t`` latent frames; padded frames past it are dropped. A 1-frame latent
        decoded with ``frames=1`` skips temporal upsampling (the same image, ct times cheaper).
        """
        self._check_input(z, self.latent_channels, "latent")
        t, ct, cs = z.shape[2], self.temporal_compression, self.spatial_compression
        if frames is not None and self.latent_frames(frames) != t:
            raise ValueError(f"{frames} frames need {self.latent_frames(frames)} latent frames, got {t}")
        if t == 1 and frames == 1:
            return self.decoder(z, temporal_upsample=False)
        p = self.params
        spatial_tile = p.spatial_tile // cs if p.spatial_tile is not None else None
        if tiled is None:
            tiled = t * ct > p.temporal_tile_frames or self._spatially_large(z.shape[3:], spatial_tile)
        if tiled:
            temporal = (p.temporal_tile_frames // ct, p.temporal_tile_overlap // ct)
            video = tiled_decode(self, z, *temporal, spatial_tile, p.spatial_tile_overlap // cs)
        else:
            video = self.decode_untiled(z)
        return video if frames is None else video[:, :, :frames]

    def forward(
        self, x: Tensor, sample_posterior: bool = True, generator: torch.Generator | None = None
    ) -> tuple[Tensor, DiagonalGaussian]:
        """Reconstruction ``(B, 3, T, H, W)`` of ``x`` and its posterior (training entry point, untiled)."""
        posterior = self.encode(x, tiled=False)
        z = posterior.sample(generator) if sample_posterior else posterior.mode()
        return self.decode(z, frames=x.shape[2], tiled=False), posterior

    # -- latent normalisation for diffusion training ----------------------------------------------------------
    def normalize(self, z: Tensor) -> Tensor:
        """Latents ``(B, C, T, H, W)`` as the diffusion backbone sees them: ``(z - latent_shift) *
        latent_scale``, then each deviation from the mean over the ``T`` latent frames times
        ``latent_motion_gain``. Images (``T = 1``) have no deviation."""
        scaled = (z - self.params.latent_shift) * self.params.latent_scale
        return self._gain_motion(scaled, self.params.latent_motion_gain)

    def denormalize(self, z_norm: Tensor) -> Tensor:
        """Inverse of :meth:`normalize`."""
        z = self._gain_motion(z_norm, 1.0 / self.params.latent_motion_gain)
        return z / self.params.latent_scale + self.params.latent_shift

    @staticmethod
    def _gain_motion(z: Tensor, gain: float) -> Tensor:
        """``mean_T(z) + gain · (z − mean_T(z))`` over the latent-frame axis 2; the mean is unchanged, so
        ``gain`` and ``1 / gain`` undo each other."""
        if gain == 1.0 or z.dim() != 5 or z.shape[2] == 1:
            return z
        mean = z.mean(dim=2, keepdim=True)
        return torch.lerp(mean, z, gain)

    @staticmethod
    def _spatially_large(size: torch.Size | tuple[int, ...], tile: int | None) -> bool:
        return tile is not None and max(size) > tile

    @staticmethod
    def _check_input(x: Tensor, channels: int, what: str) -> None:
        if x.dim() != 5 or x.shape[1] != channels:
            raise ValueError(f"expected a {what} (B, {channels}, T, H, W), got shape {tuple(x.shape)}")


@register("autoencoder", "tae", params=TAEParams, description="Movie Gen temporal autoencoder (2.5D conv VAE, 8x8x8).")
def build_tae(p: TAEParams, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> TAE:
    """Build the TAE (on ``device``, e.g. ``"meta"`` to count parameters without memory)."""
    if device is None:
        model = TAE(p)
    else:
        with torch.device(device):
            model = TAE(p)
    return model if dtype is None else model.to(dtype)
