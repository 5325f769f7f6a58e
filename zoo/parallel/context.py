"""Context parallelism over the video token sequence: each rank of a group holds one contiguous slice.

The paper splits the sequence over CP ranks and all-gathers keys and values in self-attention
(§3.1.6); everything else in a block is per-token and runs on the local slice. The gather is
:class:`GatherSequence`: ``all_gather_into_tensor`` forward and ``reduce_scatter_tensor`` (sum)
backward, so every rank's use of a slice flows back to its owner; both run on NCCL and on gloo.
Written here because torch's ``context_parallel`` needs the CUDA SDPA kernels, and the autograd
all-gather of ``torch.distributed.nn`` mis-scatters gradients of non-contiguous slices on gloo.
"""

from __future__ import annotations

from typing import Any

import torch


def group_size_and_rank(group: Any) -> tuple[int, int]:
    """``(size, rank)`` of this process in ``group``."""
    import torch.distributed as dist

    return dist.get_world_size(group), dist.get_rank(group)


def shard_sequence(x: torch.Tensor, dim: int, group: Any) -> torch.Tensor:
    """This rank's contiguous slice of ``x`` along ``dim``; ValueError when the length does not divide."""
    size, rank = group_size_and_rank(group)
    if x.shape[dim] % size:
        raise ValueError(
            f"context parallel: {x.shape[dim]} tokens do not divide into {size} ranks; choose frames and "
            f"resolution so that the token count is a multiple of cp={size}"
        )
    return x.chunk(size, dim=dim)[rank]


class GatherSequence(torch.autograd.Function):
    """All ranks' slices concatenated along ``dim``.

    Backward sums every rank's gradient into the owner's slice (``sum_grads``: the ranks use the gathered
    tensor differently, as context-parallel attention does), or, when every rank computes the same thing
    from the gathered tensor (sequence parallelism's final gather), keeps this rank's slice of its own.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, dim: int, group: Any, sum_grads: bool = True) -> torch.Tensor:
        import torch.distributed as dist

        ctx.dim, ctx.group, ctx.sum_grads = dim, group, sum_grads
        size, _ = group_size_and_rank(group)
        local = x.movedim(dim, 0).contiguous()
        out = local.new_empty((size * local.shape[0], *local.shape[1:]))
        dist.all_gather_into_tensor(out, local, group=group)
        return out.movedim(0, dim)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        import torch.distributed as dist

        size, rank = group_size_and_rank(ctx.group)
        if not ctx.sum_grads:
            return grad.chunk(size, dim=ctx.dim)[rank].contiguous(), None, None, None
        full = grad.movedim(ctx.dim, 0).contiguous()
        out = full.new_empty((full.shape[0] // size, *full.shape[1:]))
        dist.reduce_scatter_tensor(out, full, group=ctx.group)
        return out.movedim(0, ctx.dim), None, None, None


def gather_sequence(x: torch.Tensor, dim: int, group: Any, *, sum_grads: bool = True) -> torch.Tensor:
    """All ranks' slices of ``x`` concatenated along ``dim``, in rank order (differentiable, see GatherSequence)."""
    return GatherSequence.apply(x, dim % x.dim(), group, sum_grads)
