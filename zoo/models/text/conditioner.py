"""Text conditioning for the Movie Gen backbone: encode, project each encoder to the model width, concatenate.

Paper §1.2 (moviegen-facts §1.2, M1/N5): every text encoder gets its own Linear + LayerNorm into the model
width (6144 for the 30B model), and the projected sequences are concatenated along the token axis into the
cross-attention context P. The sampling rate is written into the prompt ("FPS-16 ...", §1.3).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from zoo.models.text.encoders import TextEncoder
from zoo.models.text.prompts import fps_prefix
from zoo.spec.params import ComponentSpec

Encoded = tuple[torch.Tensor, torch.Tensor]  # (B, N, D_enc) hidden states, (B, N) bool mask


class TextProjection(nn.Module):
    """``Linear(D_enc, dim)`` then ``LayerNorm(dim)``: one encoder's tokens in the model width (§1.2).

    No Linear bias by default, as in the MindSpore port (M4); the paper's choice is UNCONFIRMED.
    """

    def __init__(self, in_dim: int, dim: int, *, bias: bool = False):
        super().__init__()
        self.linear = nn.Linear(in_dim, dim, bias=bias)
        self.norm = nn.LayerNorm(dim)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(B, N, D_enc)`` -> ``(B, N, dim)``."""
        return self.norm(self.linear(hidden.to(self.linear.weight.dtype)))


class TextConditioner(nn.Module):
    """Prompts -> cross-attention context ``(B, N_total, dim)`` and ``(B, N_total)`` bool mask.

    ``N_total`` is the sum of the encoders' token counts, in encoder order. Padded positions are zero in the
    output and False in the mask. Encoders stay as built (frozen by default); the projections are trainable.
    """

    def __init__(self, encoders: Sequence[TextEncoder], dim: int, *, bias: bool = False):
        super().__init__()
        if not encoders:
            raise ValueError("TextConditioner needs at least one text encoder")
        self.dim = dim
        self.encoders = nn.ModuleList(encoders)
        self.projections = nn.ModuleList(TextProjection(e.hidden_size, dim, bias=bias) for e in encoders)

    @classmethod
    def from_specs(
        cls, specs: Sequence[ComponentSpec], dim: int, *, bias: bool = False, **runtime: Any
    ) -> TextConditioner:
        """Build each ``text_encoder`` spec (``runtime`` such as device/dtype goes to every factory)."""
        return cls([spec.build(**runtime) for spec in specs], dim, bias=bias)

    @property
    def max_tokens(self) -> int:
        """``N_total`` when every encoder pads to its ``max_tokens``."""
        return sum(e.max_tokens for e in self.encoders)

    def encode(self, prompts: Sequence[str], fps: float | Sequence[float] | None = None) -> list[Encoded]:
        """Each encoder's ``(B, N_i, D_i)`` features and ``(B, N_i)`` mask, before projection (cacheable)."""
        prompts = with_fps(prompts, fps)
        return [encoder.encode(prompts) for encoder in self.encoders]

    def project(self, encoded: Sequence[Encoded]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-encoder features from :meth:`encode` -> ``(B, N_total, dim)`` tokens and ``(B, N_total)`` mask."""
        tokens = torch.cat([proj(hidden) for proj, (hidden, _) in zip(self.projections, encoded, strict=True)], dim=1)
        mask = torch.cat([mask for _, mask in encoded], dim=1).to(tokens.device)
        return tokens * mask.unsqueeze(-1).to(tokens.dtype), mask

    def forward(
        self, prompts: Sequence[str], fps: float | Sequence[float] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``B`` prompts (optionally their sampling rates in frames/s) -> ``(B, N_total, dim)``, ``(B, N_total)``."""
        return self.project(self.encode(prompts, fps))

    def null_conditioning(
        self, batch: int, fps: float | Sequence[float] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The empty prompt, ``batch`` times: the unconditional branch of classifier-free guidance.

        Whether the paper keeps the FPS text in the unconditional prompt is UNCONFIRMED; pass ``fps`` to keep it.
        """
        return self([""] * batch, fps)


def with_fps(prompts: Sequence[str], fps: float | Sequence[float] | None) -> list[str]:
    """``prompts`` with ``"FPS-<fps> "`` prepended (one rate for all, or one per prompt); unchanged for None."""
    if isinstance(prompts, str):
        raise TypeError("expected a list of prompts, not a single string")
    if fps is None:
        return list(prompts)
    rates = [fps] * len(prompts) if isinstance(fps, (int, float)) else list(fps)
    if len(rates) != len(prompts):
        raise ValueError(f"got {len(rates)} fps values for {len(prompts)} prompts")
    return [fps_prefix(prompt, rate) for prompt, rate in zip(prompts, rates)]
