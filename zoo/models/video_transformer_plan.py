"""How the Movie Gen Video backbone spreads over a device mesh: its tensor-parallel plan, its FSDP2 units
and its context-parallel hook.

Tensor parallel follows Megatron: per block, the query/key/value projections of self- and
cross-attention and the SwiGLU gate and up projections are split column-wise (by heads and FFN width),
the attention and FFN output projections row-wise, so each block costs two all-reduces forward.
Everything else (norms, adaLN modulation, patch embedding, final layer) is replicated over TP ranks.

With sequence parallelism the residual stream between the split layers holds ``1/tp`` of the tokens:
each sub-layer all-gathers its input over the sequence and its row-wise output reduce-scatters back
(the same traffic as the two all-reduces), so norms, modulation and residuals run on a slice. The
replicated weights then see only their rank's tokens: :func:`sync_sequence_parallel_grads` sums their
gradients over the TP group after backward.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from zoo.models.video_transformer import VideoTransformer
from zoo.parallel.plans import register_plan


def tensor_parallel_plan(sequence_parallel: bool = False) -> dict[str, Any]:
    """``parallelize_module`` plan of one :class:`~zoo.models.video_transformer.Block`."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.parallel import ColwiseParallel, PrepareModuleInput, RowwiseParallel

    output = {"output_layouts": Shard(1)} if sequence_parallel else {}
    plan: dict[str, Any] = {}
    for attention in ("self_attn", "cross_attn"):
        for name in ("q", "k", "v"):
            plan[f"{attention}.{name}"] = ColwiseParallel()
        plan[f"{attention}.out"] = RowwiseParallel(**output)
    plan.update({"ffn.w1": ColwiseParallel(), "ffn.w3": ColwiseParallel(), "ffn.w2": RowwiseParallel(**output)})
    if sequence_parallel:  # gather the token slices once per sub-layer, before its split projections
        gather = PrepareModuleInput(input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),))
        plan["self_attn"] = gather
        plan["ffn"] = gather
        plan["cross_attn"] = PrepareModuleInput(
            input_layouts=(Shard(1), Replicate(), None), desired_input_layouts=(Replicate(), Replicate(), None)
        )
    return plan


def sync_sequence_parallel_grads(model: VideoTransformer) -> None:
    """Sum, over the TP group, the gradients of the weights that sequence parallelism leaves replicated."""
    import torch.distributed as dist
    from torch.distributed.tensor import DTensor

    if model.sequence_group is None:
        return
    params = dict(model.named_parameters())
    for name in model.replicated_under_tp:
        grad = params[name].grad
        if grad is not None:
            dist.all_reduce(grad.to_local() if isinstance(grad, DTensor) else grad, group=model.sequence_group)


class VideoTransformerPlan:
    """The parallel plan of :class:`~zoo.models.video_transformer.VideoTransformer`."""

    def check(self, model: VideoTransformer, tp: int, cp: int, sequence_parallel: bool) -> list[tuple[str, str]]:  # noqa: ARG002
        """``(strategy field, problem)`` pairs for splitting ``model`` over ``tp`` and ``cp`` ranks."""
        p = model.params
        problems = []
        if p.heads % tp:
            problems.append(("tp", f"the backbone's {p.heads} attention heads do not divide by tp={tp}"))
        if p.ffn_dim % tp:
            problems.append(("tp", f"the backbone's ffn_dim {p.ffn_dim} does not divide by tp={tp}"))
        if p.qk_norm and tp > 1:
            problems.append(("tp", "backbone qk_norm with tp > 1 is not supported (its per-head scale is not split)"))
        return problems

    def blocks(self, model: VideoTransformer) -> list[nn.Module]:
        """The repeated units: each is one FSDP2 unit and one activation-checkpointing unit."""
        return list(model.blocks)

    def tensor_parallel(self, model: VideoTransformer, mesh: Any, sequence_parallel: bool = False) -> None:
        """Split every block over the 1-D ``mesh`` (the ``tp`` dimension), the token stream too when asked."""
        from torch.distributed.tensor import DTensor
        from torch.distributed.tensor.parallel import parallelize_module

        plan = tensor_parallel_plan(sequence_parallel)
        for block in model.blocks:
            parallelize_module(block, mesh, plan)
        if sequence_parallel:
            model.sequence_group = mesh.get_group()
            model.replicated_under_tp = [n for n, p in model.named_parameters() if not isinstance(p, DTensor)]

    def finish_backward(self, model: VideoTransformer) -> None:
        """Complete the gradients after backward (sequence parallel: sum the replicated weights' over TP)."""
        sync_sequence_parallel_grads(model)

    def context_parallel(self, model: VideoTransformer, group: Any) -> None:
        """Split the token sequence over ``group``; self-attention gathers keys and values."""
        model.context_group = group

    def checkpoint(self, model: VideoTransformer, period: int) -> None:
        """Recompute every ``period``-th block in the backward pass."""
        for index, block in enumerate(model.blocks):
            block.checkpointed = index % period == 0


register_plan(VideoTransformer, VideoTransformerPlan())
