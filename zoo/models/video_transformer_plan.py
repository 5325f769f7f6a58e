"""How the Movie Gen Video backbone spreads over a device mesh: its tensor-parallel plan, its FSDP2 units
and its context-parallel hook.

Tensor parallel follows Megatron: per block, the query/key/value projections of self- and
cross-attention and the SwiGLU gate and up projections are split column-wise (by heads and FFN width),
the attention and FFN output projections row-wise, so each block costs two all-reduces forward.
Everything else (norms, adaLN modulation, patch embedding, final layer) is replicated over TP ranks.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from zoo.models.video_transformer import VideoTransformer
from zoo.parallel.plans import register_plan


def tensor_parallel_plan() -> dict[str, Any]:
    """``parallelize_module`` plan of one :class:`~zoo.models.video_transformer.Block`."""
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    plan: dict[str, Any] = {}
    for attention in ("self_attn", "cross_attn"):
        for name in ("q", "k", "v"):
            plan[f"{attention}.{name}"] = ColwiseParallel()
        plan[f"{attention}.out"] = RowwiseParallel()
    plan.update({"ffn.w1": ColwiseParallel(), "ffn.w3": ColwiseParallel(), "ffn.w2": RowwiseParallel()})
    return plan


class VideoTransformerPlan:
    """The parallel plan of :class:`~zoo.models.video_transformer.VideoTransformer`."""

    def check(self, model: VideoTransformer, tp: int, cp: int, sequence_parallel: bool) -> list[tuple[str, str]]:  # noqa: ARG002
        """``(strategy field, problem)`` pairs for splitting ``model`` over ``tp`` and ``cp`` ranks."""
        p = model.params
        problems = []
        if sequence_parallel:
            problems.append(("sequence_parallel", "the video transformer's plan has no sequence-parallel layout yet "
                             "(its adaLN-modulated norms would need DTensor inputs); use tp without it"))
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

    def tensor_parallel(self, model: VideoTransformer, mesh: Any) -> None:
        """Split every block over the 1-D ``mesh`` (the ``tp`` dimension)."""
        from torch.distributed.tensor.parallel import parallelize_module

        plan = tensor_parallel_plan()
        for block in model.blocks:
            parallelize_module(block, mesh, plan)

    def context_parallel(self, model: VideoTransformer, group: Any) -> None:
        """Split the token sequence over ``group``; self-attention gathers keys and values."""
        model.context_group = group

    def checkpoint(self, model: VideoTransformer, period: int) -> None:
        """Recompute every ``period``-th block in the backward pass."""
        for index, block in enumerate(model.blocks):
            block.checkpointed = index % period == 0


register_plan(VideoTransformer, VideoTransformerPlan())
