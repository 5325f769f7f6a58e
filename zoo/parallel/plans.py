"""Applying a ``model-parallel`` node to a model: the device mesh, then per-model plans, then FSDP2.

Each registered model class ships a plan (:class:`ParallelPlan`): its tensor-parallel layout, its
context-parallel hook, its repeated blocks (FSDP2 and activation-checkpointing units). Order, as in
torchtitan: tensor parallel, context parallel, activation checkpointing, compile, then FSDP2 from the
blocks up, so that FSDP2 shards the already tensor-parallel DTensors along the data-parallel mesh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from torch import nn

from zoo.errors import ZooError
from zoo.parallel.spec import ModelParallelParams

MESH_DIMS = ("dp_replicate", "dp_shard", "cp", "tp")
"""Mesh dimension names, outermost first; ``data_parallel`` (dp_replicate x dp_shard) and
``dp_shard_cp`` (dp_shard x cp, the FSDP2 shard group) are flattened views of them."""

PLAN_MODULES = ("zoo.models.video_transformer_plan",)
FORWARD_METHODS = ("encode", "decode")  # entry points besides forward that must see gathered parameters


class ParallelPlan(Protocol):
    """What a model class declares so that a strategy can split it."""

    def check(self, model: Any, tp: int, cp: int, sequence_parallel: bool) -> list[tuple[str, str]]: ...

    def blocks(self, model: Any) -> list[nn.Module]: ...

    def tensor_parallel(self, model: Any, mesh: Any, sequence_parallel: bool = False) -> None: ...

    def finish_backward(self, model: Any) -> None: ...

    def context_parallel(self, model: Any, group: Any) -> None: ...

    def checkpoint(self, model: Any, period: int) -> None: ...


_PLANS: dict[type, ParallelPlan] = {}


def register_plan(model_class: type, plan: ParallelPlan) -> None:
    """Declare ``plan`` as the parallel plan of ``model_class`` (and its subclasses)."""
    _PLANS[model_class] = plan


def plan_for(model: nn.Module) -> ParallelPlan | None:
    """The plan registered for ``model``'s class, or None."""
    import importlib

    for module in PLAN_MODULES:
        importlib.import_module(module)
    for cls in type(model).__mro__:
        if cls in _PLANS:
            return _PLANS[cls]
    return None


@dataclass(frozen=True)
class ParallelMesh:
    """The 4-D ``(dp_replicate, dp_shard, cp, tp)`` DeviceMesh and the views a strategy uses."""

    root: Any
    data_parallel: Any  # dp_replicate x dp_shard, flattened: ranks that read different samples
    fsdp: Any  # (dp_replicate, dp_shard x cp): FSDP2's replicate and shard dimensions
    cp: Any
    tp: Any

    @property
    def uses_fsdp(self) -> bool:
        return self.fsdp.size() > 1


def build_mesh(p: ModelParallelParams, world_size: int, device_type: str) -> ParallelMesh:
    """The mesh of ``p`` over ``world_size`` ranks of ``device_type`` (``cpu`` or ``cuda``)."""
    from torch.distributed.device_mesh import init_device_mesh

    degrees = p.degrees(world_size)
    root = init_device_mesh(device_type, tuple(degrees[d] for d in MESH_DIMS), mesh_dim_names=MESH_DIMS)
    data_parallel = root["dp_replicate", "dp_shard"]._flatten("data_parallel")
    shard = root["dp_shard", "cp"]._flatten("dp_shard_cp")
    fsdp = root["dp_replicate", "dp_shard_cp"] if p.dp_replicate > 1 else shard
    return ParallelMesh(root, data_parallel, fsdp, root["cp"], root["tp"])


def check_model(p: ModelParallelParams, model: nn.Module) -> list[tuple[str, str]]:
    """``(strategy field, problem)`` pairs for splitting ``model`` (the trained backbone) as ``p`` asks."""
    if p.tp == 1 and p.cp == 1:
        return []
    plan = plan_for(model)
    if plan is None:
        return [("tp" if p.tp > 1 else "cp", f"{type(model).__name__} has no parallel plan, so tp and cp must be 1")]
    return plan.check(model, p.tp, p.cp, p.sequence_parallel)


def _fsdp_kwargs(p: ModelParallelParams, mesh: ParallelMesh) -> dict[str, Any]:
    from torch.distributed.fsdp import MixedPrecisionPolicy

    kwargs: dict[str, Any] = {"mesh": mesh.fsdp}
    if p.precision == "bf16-mixed":
        import torch

        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    return kwargs


def parallelize(
    trained: Iterable[nn.Module],
    frozen: dict[str, nn.Module],
    backbone: nn.Module,
    mesh: ParallelMesh,
    p: ModelParallelParams,
) -> None:
    """Apply ``p`` in place: plans on ``backbone``, FSDP2 on each ``trained`` module (its blocks first)
    and on the ``frozen`` roles placed ``sharded`` or ``offloaded``."""
    from torch.distributed.fsdp import CPUOffloadPolicy, fully_shard

    problems = check_model(p, backbone)
    if problems:
        raise ZooError("strategy does not fit the model: " + "; ".join(f"{f}: {m}" for f, m in problems))
    plan = plan_for(backbone)
    if plan is not None:
        if p.tp > 1:
            plan.tensor_parallel(backbone, mesh.tp, p.sequence_parallel)
        if p.cp > 1:
            plan.context_parallel(backbone, mesh.cp.get_group())
        checkpointing = p.activation_checkpointing
        if checkpointing.mode != "none":
            plan.checkpoint(backbone, 1 if checkpointing.mode == "full" else checkpointing.period)
        if p.compile:
            for block in plan.blocks(backbone):
                block.compile()
    if p.precision == "fp8":
        _convert_to_float8(backbone)
    if not mesh.uses_fsdp:
        return
    kwargs = _fsdp_kwargs(p, mesh)
    for module in trained:
        if module is backbone and plan is not None:
            for block in plan.blocks(backbone):
                fully_shard(block, **kwargs)
        _shard(module, kwargs)
    for role, module in frozen.items():
        placement = p.frozen.get(role, "replicated")
        if placement != "replicated":  # each is its own FSDP2 root, which would stay gathered after a no-grad forward
            offload = {"offload_policy": CPUOffloadPolicy()} if placement == "offloaded" else {}
            _shard(module, {**kwargs, **offload, "reshard_after_forward": True})


def _shard(module: nn.Module, kwargs: dict[str, Any]) -> None:
    """``fully_shard`` a module with parameters; containers (no forward) are sharded child by child.

    ``encode`` and ``decode`` methods (autoencoders, text encoders) gather their parameters like ``forward``.
    """
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    if not any(True for _ in module.parameters()):
        return
    if isinstance(module, (nn.ModuleList, nn.ModuleDict)):
        for child in module.children():
            _shard(child, kwargs)
        return
    fully_shard(module, **kwargs)
    for method in FORWARD_METHODS:
        if callable(getattr(module, method, None)):
            register_fsdp_forward_method(module, method)


def finish_backward(backbone: nn.Module) -> None:
    """Call after backward, before clipping and the optimizer step: the plan completes its gradients."""
    plan = plan_for(backbone)
    if plan is not None:
        plan.finish_backward(backbone)


def _convert_to_float8(model: nn.Module) -> None:
    try:
        from torchao.float8 import convert_to_float8_training
    except ImportError as error:
        raise ZooError(f"precision fp8 needs torchao (pip install torchao) and an H100-class GPU: {error}") from None
    convert_to_float8_training(model)
