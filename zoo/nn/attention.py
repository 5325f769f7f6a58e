"""Multi-head attention through ``F.scaled_dot_product_attention``.

Two modules share one head layout ``(B, heads, N, head_dim)``:

* :class:`SelfAttention`: full bidirectional attention over all tokens (no causal mask, no GQA;
  moviegen-facts §1.1);
* :class:`CrossAttention`: queries from the tokens, keys and values from conditioning tokens (e.g. the
  concatenated text embeddings), with an optional key padding mask.

Both take an optional QK-norm: an RMSNorm over the head dimension applied to queries and keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.nn.norms import RMSNorm


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``(B, N, heads * head_dim) -> (B, heads, N, head_dim)``."""
    return x.unflatten(-1, (heads, -1)).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, heads, N, head_dim) -> (B, N, heads * head_dim)``."""
    return x.transpose(1, 2).flatten(2)


def _qk_norm(head_dim: int, enabled: bool, eps: float) -> nn.Module:
    return RMSNorm(head_dim, eps=eps) if enabled else nn.Identity()


def _check_heads(dim: int, heads: int) -> int:
    if heads < 1 or dim % heads:
        raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
    return dim // heads


class SelfAttention(nn.Module):
    """Bidirectional multi-head self-attention over ``(B, N, D)`` tokens (bias-free projections).

    Args:
        dim: token width ``D``; ``D % heads == 0``.
        heads: number of heads.
        qk_norm: RMSNorm queries and keys over the head dimension.
        eps: epsilon of the QK-norm.
    """

    def __init__(self, dim: int, heads: int, *, qk_norm: bool = False, eps: float = 1e-5):
        super().__init__()
        head_dim = _check_heads(dim, heads)
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_norm = _qk_norm(head_dim, qk_norm, eps)
        self.k_norm = _qk_norm(head_dim, qk_norm, eps)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, D) -> (B, N, D)``."""
        q, k, v = (split_heads(part, self.heads) for part in self.qkv(x).chunk(3, dim=-1))
        attended = F.scaled_dot_product_attention(self.q_norm(q), self.k_norm(k), v)
        return self.out(merge_heads(attended))


class CrossAttention(nn.Module):
    """Multi-head attention from ``(B, N, D)`` tokens to ``(B, M, context_dim)`` conditioning tokens.

    Args:
        dim: query token width ``D``; ``D % heads == 0``.
        heads: number of heads.
        context_dim: width of the conditioning tokens (``None``: same as ``dim``).
        qk_norm: RMSNorm queries and keys over the head dimension.
        eps: epsilon of the QK-norm.
    """

    def __init__(
        self, dim: int, heads: int, *, context_dim: int | None = None, qk_norm: bool = False, eps: float = 1e-5
    ):
        super().__init__()
        head_dim = _check_heads(dim, heads)
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(context_dim or dim, 2 * dim, bias=False)
        self.q_norm = _qk_norm(head_dim, qk_norm, eps)
        self.k_norm = _qk_norm(head_dim, qk_norm, eps)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, N, D), (B, M, context_dim), (B, M) bool | None -> (B, N, D)``.

        ``context_mask[b, m]`` is True where context token ``m`` is kept (a key padding mask). A sample
        whose mask keeps no token gets a zero output instead of NaNs.
        """
        q = self.q_norm(split_heads(self.q(x), self.heads))
        k, v = (split_heads(part, self.heads) for part in self.kv(context).chunk(2, dim=-1))
        k = self.k_norm(k)
        if context_mask is None:
            return self.out(merge_heads(F.scaled_dot_product_attention(q, k, v)))
        context_mask = context_mask.to(torch.bool)
        any_kept = context_mask.any(dim=-1)  # (B,)
        attn_mask = (context_mask | ~any_kept[:, None])[:, None, None, :]  # (B, 1, 1, M)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(merge_heads(attended)) * any_kept[:, None, None].to(x.dtype)
