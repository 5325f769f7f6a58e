"""Multi-head attention through ``F.scaled_dot_product_attention``.

Two modules share one head layout ``(B, heads, N, head_dim)``:

* :class:`SelfAttention`: full bidirectional attention over all tokens (no causal mask, no GQA;
  moviegen-facts §1.1);
* :class:`CrossAttention`: queries from the tokens, keys and values from conditioning tokens (e.g. the
  concatenated text embeddings), with an optional key padding mask.

Both take an optional QK-norm: an RMSNorm over the head dimension applied to queries and keys.
Self-attention also takes optional rotary tables (:mod:`zoo.nn.rope`), applied to queries and keys
after the QK-norm.

Queries, keys and values are separate bias-free Linear layers, so tensor parallelism can split each
column-wise by heads; heads are counted from the (possibly sharded) projection width, ``width //
head_dim``. Under context parallelism (``context_group`` set) a rank holds a contiguous slice of the
tokens, and self-attention all-gathers the keys and values of the whole sequence (paper §3.1.6).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.nn.norms import RMSNorm
from zoo.nn.rope import apply_rope


def split_heads(x: torch.Tensor, head_dim: int) -> torch.Tensor:
    """``(B, N, heads * head_dim) -> (B, heads, N, head_dim)``."""
    return x.unflatten(-1, (-1, head_dim)).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, heads, N, head_dim) -> (B, N, heads * head_dim)``."""
    return x.transpose(1, 2).flatten(2)


def split_fused_projection(state_dict: dict[str, Any], prefix: str, fused: str, parts: tuple[str, ...]) -> None:
    """Rewrite, in place, a checkpoint entry of one fused projection (``qkv.weight``, rows ``q | k | v``)
    into the separate layers ``parts``, so checkpoints written before the split still load."""
    key = f"{prefix}{fused}.weight"
    if key in state_dict:
        for name, rows in zip(parts, state_dict.pop(key).chunk(len(parts), dim=0)):
            state_dict[f"{prefix}{name}.weight"] = rows


class _ReadsFusedCheckpoints:
    """Mixin: ``upgrade_state_dict`` (called by zoo's loader and by ``load_state_dict``) splits fused entries."""

    FUSED: tuple[str, tuple[str, ...]]

    def upgrade_state_dict(self, state_dict: dict[str, Any], prefix: str = "") -> None:
        split_fused_projection(state_dict, prefix, *self.FUSED)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        self.upgrade_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args)  # type: ignore[misc]


def _qk_norm(head_dim: int, enabled: bool, eps: float) -> nn.Module:
    return RMSNorm(head_dim, eps=eps) if enabled else nn.Identity()


def _check_heads(dim: int, heads: int) -> int:
    if heads < 1 or dim % heads:
        raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
    return dim // heads


class SelfAttention(_ReadsFusedCheckpoints, nn.Module):
    """Bidirectional multi-head self-attention over ``(B, N, D)`` tokens (bias-free projections).

    Args:
        dim: token width ``D``; ``D % heads == 0``.
        heads: number of heads.
        qk_norm: RMSNorm queries and keys over the head dimension.
        eps: epsilon of the QK-norm.
    """

    FUSED = ("qkv", ("q", "k", "v"))

    def __init__(self, dim: int, heads: int, *, qk_norm: bool = False, eps: float = 1e-5):
        super().__init__()
        self.head_dim = _check_heads(dim, heads)
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.q_norm = _qk_norm(self.head_dim, qk_norm, eps)
        self.k_norm = _qk_norm(self.head_dim, qk_norm, eps)
        self.out = nn.Linear(dim, dim, bias=False)
        self.context_group: Any = None  # a process group: tokens are sliced over it (context parallel)

    def forward(self, x: torch.Tensor, rope: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, N, D) -> (B, N, D)``; under context parallelism ``N`` is this rank's slice.

        ``rope``: ``(2, N, head_dim)`` rotary tables of these ``N`` tokens (:func:`zoo.nn.rope.rope_tables`),
        or None for no rotation. Keys are rotated before a context-parallel gather, by their own positions.
        """
        q, k, v = (split_heads(layer(x), self.head_dim) for layer in (self.q, self.k, self.v))
        q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        if self.context_group is not None:
            from zoo.parallel.context import gather_sequence

            k, v = gather_sequence(k, 2, self.context_group), gather_sequence(v, 2, self.context_group)
        return self.out(merge_heads(F.scaled_dot_product_attention(q, k, v)))


class CrossAttention(_ReadsFusedCheckpoints, nn.Module):
    """Multi-head attention from ``(B, N, D)`` tokens to ``(B, M, context_dim)`` conditioning tokens.

    Args:
        dim: query token width ``D``; ``D % heads == 0``.
        heads: number of heads.
        context_dim: width of the conditioning tokens (``None``: same as ``dim``).
        qk_norm: RMSNorm queries and keys over the head dimension.
        eps: epsilon of the QK-norm.
    """

    FUSED = ("kv", ("k", "v"))

    def __init__(
        self, dim: int, heads: int, *, context_dim: int | None = None, qk_norm: bool = False, eps: float = 1e-5
    ):
        super().__init__()
        self.head_dim = _check_heads(dim, heads)
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(context_dim or dim, dim, bias=False)
        self.v = nn.Linear(context_dim or dim, dim, bias=False)
        self.q_norm = _qk_norm(self.head_dim, qk_norm, eps)
        self.k_norm = _qk_norm(self.head_dim, qk_norm, eps)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, N, D), (B, M, context_dim), (B, M) bool | None -> (B, N, D)``.

        ``context_mask[b, m]`` is True where context token ``m`` is kept (a key padding mask). A sample
        whose mask keeps no token gets a zero output instead of NaNs.
        """
        q = self.q_norm(split_heads(self.q(x), self.head_dim))
        k = self.k_norm(split_heads(self.k(context), self.head_dim))
        v = split_heads(self.v(context), self.head_dim)
        if context_mask is None:
            return self.out(merge_heads(F.scaled_dot_product_attention(q, k, v)))
        context_mask = context_mask.to(torch.bool)
        any_kept = context_mask.any(dim=-1)  # (B,)
        attn_mask = (context_mask | ~any_kept[:, None])[:, None, None, :]  # (B, 1, 1, M)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(merge_heads(attended)) * any_kept[:, None, None].to(x.dtype)
