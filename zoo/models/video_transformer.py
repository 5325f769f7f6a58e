"""Movie Gen Video backbone: Llama-style transformer blocks over patchified TAE latents.

``(B, C, T, H, W)`` latents -> 1×2×2 patches -> ``(B, N, D)`` tokens -> ``layers`` blocks -> velocity
``(B, C, T, H, W)``. Images are videos with ``T = 1``; one model handles both. Numbers are the paper's
30B model (moviegen-facts §1.1: 48 layers, width 6144, FFN 16384, 48 heads, 16 latent channels).

Each block (moviegen-facts §1.1; Table 9 ablation: Llama-style block over DiT-style block)::

    x = x + pos                                           # factorized PE at the input of every block
    x = x + gate_sa * SelfAttn(modulate(RMSNorm(x), shift_sa, scale_sa))
    x = x + CrossAttn(RMSNorm(x), text tokens, mask)      # learned RMSNorm scale, no modulation
    x = x + gate_ff * SwiGLU(modulate(RMSNorm(x), shift_ff, scale_ff))

The adaLN layout is UNCONFIRMED (moviegen-facts §12 item 4). ``adaln="single"`` (default) computes
the six modulation vectors once per step with one shared ``Linear(D, 6D)`` and adds a learned
``(6, D)`` table per block (PixArt-α's adaLN-single, also what the audio model is reported to use,
moviegen-facts §7). Only this layout fits the paper's 30B count: at width 6144 a per-block
``Linear(D, 6D)`` adds ~10.9B parameters over 48 blocks, a per-block ``Linear(D, 9D)`` (modulating the
cross-attention as well) ~16.3B. ``adaln="per-block"`` builds DiT's per-block ``Linear(D, 6D)``.

Initialisation follows DiT/PixArt-α: all modulation weights and tables, the cross-attention output
projection and the final projection start at zero, so each fresh block is the identity on its input
and a fresh model outputs zero velocity.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Literal

import torch
from pydantic import Field, PositiveInt, model_validator
from torch import nn
from torch.utils.checkpoint import checkpoint

from zoo.nn.attention import CrossAttention, SelfAttention
from zoo.nn.modulation import AdaLNModulation, ModulationTable, gated, modulate
from zoo.nn.norms import RMSNorm
from zoo.nn.patchify import Patchify, Unpatchify, patch_grid
from zoo.nn.position import FactorizedPositionEmbedding, PositionInit
from zoo.nn.rope import axis_pairs, rope_tables
from zoo.nn.swiglu import SwiGLU
from zoo.nn.timestep import TimestepEmbedder
from zoo.parallel.context import gather_sequence, shard_sequence
from zoo.registry import register
from zoo.spec.params import Params

AdaLN = Literal["single", "per-block"]


class VideoTransformerParams(Params):
    """Shape of the Movie Gen Video backbone. Defaults are the paper's 30B model."""

    in_channels: PositiveInt = Field(16, description="Latent channels of the TAE input (moviegen-facts §1.1).")
    out_channels: PositiveInt | None = Field(None, description="Output (velocity) channels; None = in_channels.")
    patch_size: tuple[PositiveInt, PositiveInt, PositiveInt] = Field(
        (1, 2, 2), description="Patch size (pt, ph, pw) in latent frames and latent pixels (moviegen-facts §1.1)."
    )
    dim: PositiveInt = Field(6144, description="Model width D (moviegen-facts §1.1).")
    layers: PositiveInt = Field(48, description="Number of transformer blocks (moviegen-facts §1.1).")
    heads: PositiveInt = Field(48, description="Attention heads; head dim = dim / heads (moviegen-facts §1.1).")
    ffn_dim: PositiveInt = Field(16384, description="SwiGLU inner width (moviegen-facts §1.1).")
    context_dim: PositiveInt | None = Field(
        None,
        description="Width of the conditioning tokens; None = dim, since the text projections map to the "
        "model width (moviegen-facts §1.2).",
    )
    qk_norm: bool = Field(
        False, description="RMSNorm queries and keys over the head dim. Not described in the paper sources."
    )
    pos_max_t: PositiveInt = Field(
        32, description="Temporal position-table rows, in patches (32 latent frames, moviegen-facts §1.5)."
    )
    pos_max_h: PositiveInt = Field(
        48, description="Height position-table rows, in patches (768 px / 16 px per patch, moviegen-facts §1.1)."
    )
    pos_max_w: PositiveInt = Field(
        48, description="Width position-table rows, in patches (768 px / 16 px per patch, moviegen-facts §1.1)."
    )
    pos_init: PositionInit = Field(
        "normal",
        description="Start of the position tables (not in the paper sources): 'normal' = N(0, pos_init_scale²); "
        "'sincos' = per-axis sinusoids of amplitude pos_init_scale, so frame order is visible from step one.",
    )
    pos_init_scale: float = Field(
        0.02, gt=0, description="Standard deviation (normal) or amplitude (sincos) of the position tables at the start."
    )
    rope: bool = Field(
        False,
        description="Also rotate self-attention queries and keys by their (t, h, w) patch position (3-D RoPE, "
        "zoo.nn.rope), so attention sees offsets between tokens. Not in the paper sources, which use only the "
        "absolute tables.",
    )
    rope_theta: float = Field(10000.0, gt=1, description="Base of the rotary frequencies (theta ** (-i / pairs)).")
    norm_eps: float = Field(1e-5, gt=0, description="RMSNorm epsilon (Llama 3's value; not in the paper sources).")
    adaln: AdaLN = Field(
        "single",
        description="Timestep modulation layout, UNCONFIRMED (moviegen-facts §12): 'single' = one shared "
        "Linear(D, 6D) plus a learned table per block (fits the 30B count); 'per-block' = Linear(D, 6D) per block.",
    )
    timestep_frequency_dim: PositiveInt = Field(256, description="Width of the sinusoidal timestep features (DiT).")
    zero_init_residual: bool = Field(
        False,
        description="Start the self-attention and FFN output projections at zero as well, so every block starts "
        "as the identity: blocks added to a trained model (weights loaded with init.exclude) change its output "
        "only by the position table added at each block's input. Not in the paper sources.",
    )

    @model_validator(mode="after")
    def _check_shapes(self) -> VideoTransformerParams:
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.rope:
            axis_pairs(self.dim // self.heads)  # raises for a head dim that cannot hold three axes
        return self


class Block(nn.Module):
    """One Llama-style block on ``(B, N, D)`` tokens, conditioned on the timestep through adaLN.

    ``cond`` is the shared ``(B, 6, D)`` modulation for ``adaln="single"`` and the ``(B, D)`` timestep
    embedding for ``adaln="per-block"``.
    """

    def __init__(self, p: VideoTransformerParams):
        super().__init__()
        dim, eps = p.dim, p.norm_eps
        self.modulation = ModulationTable(dim, 6) if p.adaln == "single" else AdaLNModulation(dim, 6)
        self.norm_sa = RMSNorm(dim, eps=eps, elementwise_affine=False)
        self.self_attn = SelfAttention(dim, p.heads, qk_norm=p.qk_norm, eps=eps)
        self.norm_ca = RMSNorm(dim, eps=eps)
        self.cross_attn = CrossAttention(dim, p.heads, context_dim=p.context_dim, qk_norm=p.qk_norm, eps=eps)
        self.norm_ff = RMSNorm(dim, eps=eps, elementwise_affine=False)
        self.ffn = SwiGLU(dim, p.ffn_dim)
        self.checkpointed = False  # recompute this block's activations in backward (activation checkpointing)

    def forward(
        self,
        x: torch.Tensor,
        cond: torch.Tensor,
        context: torch.Tensor,
        context_mask: torch.Tensor | None,
        rope: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(B, N, D)`` tokens, modulation input, ``(B, M, context_dim)`` context, ``(B, M)`` mask,
        ``(2, N, head_dim)`` rotary tables or None -> ``(B, N, D)``."""
        shift_sa, scale_sa, gate_sa, shift_ff, scale_ff, gate_ff = self.modulation(cond).unbind(1)
        x = x + gated(self.self_attn(modulate(self.norm_sa(x), shift_sa, scale_sa), rope=rope), gate_sa)
        x = x + self.cross_attn(self.norm_ca(x), context, context_mask)
        return x + gated(self.ffn(modulate(self.norm_ff(x), shift_ff, scale_ff)), gate_ff)


class FinalLayer(nn.Module):
    """RMSNorm, adaLN shift/scale, then a projection back to latent patches.

    With ``adaln="single"`` the shift and scale are a learned ``(2, D)`` table plus the timestep
    embedding itself (PixArt-α); with ``"per-block"`` they come from a ``Linear(D, 2D)`` (DiT).
    """

    def __init__(self, p: VideoTransformerParams):
        super().__init__()
        self.norm = RMSNorm(p.dim, eps=p.norm_eps, elementwise_affine=False)
        self.modulation = ModulationTable(p.dim, 2) if p.adaln == "single" else AdaLNModulation(p.dim, 2)
        self.unpatchify = Unpatchify(p.dim, p.out_channels or p.in_channels, p.patch_size)
        self.single = p.adaln == "single"

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """``(B, N, D)`` tokens, ``(B, D)`` timestep embedding -> ``(B, C_out, T, H, W)``."""
        return self.unpatchify.arrange(self.project(x, t_emb), grid)

    def project(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        """The per-token part: ``(B, N, D)`` tokens -> ``(B, N, C_out * pt * ph * pw)`` patches."""
        shift, scale = self.modulation(t_emb[:, None] if self.single else t_emb).unbind(1)
        return self.unpatchify.proj(modulate(self.norm(x), shift, scale))


class VideoTransformer(nn.Module):
    """Movie Gen Video backbone: ``(B, C, T, H, W)`` noisy latents, ``(B,)`` flow time -> velocity.

    Args:
        params: the validated :class:`VideoTransformerParams`.
    """

    def __init__(self, params: VideoTransformerParams):
        super().__init__()
        p = params
        self.params = p
        self.patchify = Patchify(p.in_channels, p.dim, p.patch_size)
        self.pos_embed = FactorizedPositionEmbedding(
            p.dim, p.pos_max_t, p.pos_max_h, p.pos_max_w, init=p.pos_init, scale=p.pos_init_scale
        )
        self.t_embedder = TimestepEmbedder(p.dim, p.timestep_frequency_dim)
        self.shared_modulation = AdaLNModulation(p.dim, 6) if p.adaln == "single" else None
        self.blocks = nn.ModuleList(Block(p) for _ in range(p.layers))
        self.final = FinalLayer(p)
        self._context_group: Any = None
        self.sequence_group: Any = None  # the tensor-parallel group, when the stream is sequence parallel
        self.replicated_under_tp: list[str] = []  # weights whose gradients sequence parallelism leaves partial
        self._init_weights()

    def _init_weights(self) -> None:
        """Xavier-uniform Linear weights and zero biases (DiT); zero cross-attention and final outputs
        (and, with ``zero_init_residual``, zero self-attention and FFN outputs).

        Modulation layers initialise themselves to zero; the timestep MLP to N(0, 0.02).
        """
        for block in self.blocks:
            for layer in (*block.self_attn.modules(), *block.cross_attn.modules(), *block.ffn.modules()):
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(block.cross_attn.out.weight)  # PixArt-α: cross-attention starts switched off
            if self.params.zero_init_residual:  # with adaLN-single the gates are not zero, so zero the outputs
                nn.init.zeros_(block.self_attn.out.weight)
                nn.init.zeros_(block.ffn.w2.weight)
        conv = self.patchify.proj
        nn.init.xavier_uniform_(conv.weight.view(conv.weight.shape[0], -1))
        nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.final.unpatchify.proj.weight)  # DiT: zero velocity at initialisation
        nn.init.zeros_(self.final.unpatchify.proj.bias)

    @property
    def out_channels(self) -> int:
        """Channels of the predicted velocity."""
        return self.params.out_channels or self.params.in_channels

    def patch_grid(self, latent_shape: tuple[int, int, int, int]) -> tuple[int, int, int]:
        """Patch grid ``(t, h, w)`` of ``(C, T, H, W)`` latents; ValueError if C or a size does not fit."""
        channels, *size = latent_shape
        if channels != self.params.in_channels:
            raise ValueError(f"latents have {channels} channels, the backbone expects {self.params.in_channels}")
        return patch_grid(tuple(size), self.params.patch_size)

    def num_tokens(self, latent_shape: tuple[int, int, int, int]) -> int:
        """Number of video tokens for ``(C, T, H, W)`` latents (73,728 at 768 px × 256 frames, §1.1)."""
        t, h, w = self.patch_grid(latent_shape)
        return t * h * w

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        context: torch.Tensor,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict the flow velocity.

        Args:
            x: noisy latents ``(B, C, T, H, W)``; ``T = 1`` for images.
            t: flow time ``(B,)`` (or a scalar) in ``[0, 1]``.
            context: conditioning tokens ``(B, M, context_dim)`` (concatenated text embeddings).
            context_mask: ``(B, M)`` bool, True = keep the token; None keeps all.

        Returns:
            velocity ``(B, out_channels, T, H, W)``.
        """
        grid = self.patch_grid(tuple(x.shape[1:]))
        expected = self.params.context_dim or self.params.dim
        if context.shape[-1] != expected:
            raise ValueError(f"context tokens have width {context.shape[-1]}, the backbone expects {expected}")
        t = t.expand(x.shape[0]) if t.ndim == 0 else t
        tokens = self.patchify(x)
        pos = self.pos_embed(*grid).to(tokens.dtype)
        p = self.params
        rope = rope_tables(grid, p.dim // p.heads, p.rope_theta, x.device) if p.rope else None  # built on the device
        for group in (self.context_group, self.sequence_group):  # this rank's slice of the sequence
            if group is not None:
                tokens, pos = shard_sequence(tokens, 1, group), shard_sequence(pos, -2, group)
        if rope is not None and self.context_group is not None:  # sequence parallel gathers before attention
            rope = shard_sequence(rope, 1, self.context_group)
        t_emb = self.t_embedder(t)
        cond = self.shared_modulation(t_emb) if self.shared_modulation is not None else t_emb
        for block in self.blocks:
            if block.checkpointed and torch.is_grad_enabled():
                tokens = checkpoint(block, tokens + pos, cond, context, context_mask, rope, use_reentrant=False)
            else:
                tokens = block(tokens + pos, cond, context, context_mask, rope)  # PE at every block (§1.1)
        patches = self.final.project(tokens, t_emb)
        if self.sequence_group is not None:  # every tensor-parallel rank computes the same from here on
            patches = gather_sequence(patches, 1, self.sequence_group, sum_grads=False)
        if self.context_group is not None:
            patches = gather_sequence(patches, 1, self.context_group)
        return self.final.unpatchify.arrange(patches, grid)

    @property
    def context_group(self) -> Any:
        """The process group the token sequence is split over (context parallel), or None."""
        return self._context_group

    @context_group.setter
    def context_group(self, group: Any) -> None:
        self._context_group = group
        for block in self.blocks:
            block.self_attn.context_group = group


@register(
    "backbone",
    "moviegen-transformer",
    params=VideoTransformerParams,
    description="Movie Gen Video backbone: Llama-style adaLN transformer over 1x2x2-patchified video latents.",
)
def build_video_transformer(
    p: VideoTransformerParams, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> VideoTransformer:
    """Build the backbone, optionally directly on ``device`` (e.g. ``"meta"`` to count parameters)."""
    with torch.device(device) if device is not None else nullcontext():
        model = VideoTransformer(p)
    return model.to(dtype=dtype) if dtype is not None else model
