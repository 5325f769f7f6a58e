"""The Lightning side of ``model-parallel``: Lightning's ``ModelParallelStrategy`` with a 4-D mesh.

Lightning's strategy builds a 2-D ``(data_parallel, tensor_parallel)`` mesh; this subclass builds
``(dp_replicate, dp_shard, cp, tp)`` instead (:func:`zoo.parallel.plans.build_mesh`) and hands it to
the task, whose ``configure_model`` applies the plans. Everything else is Lightning's: the launch
(subprocesses, torchrun, SLURM), distributed checkpoints (a folder of ``.distcp`` shards that loads
under any other layout), precision plugins and the loop. Samplers see only data-parallel ranks, so
the ``cp`` and ``tp`` ranks of one replica read the same batch.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.strategies import ModelParallelStrategy

from zoo.parallel.plans import ParallelMesh, build_mesh
from zoo.parallel.spec import ModelParallelParams


class ZooModelParallelStrategy(ModelParallelStrategy):
    """``ModelParallelStrategy`` over the mesh of a :class:`~zoo.parallel.spec.ModelParallelParams`."""

    def __init__(self, params: ModelParallelParams):
        super().__init__(
            save_distributed_checkpoint=True,
            process_group_backend=None if params.backend == "auto" else params.backend,
        )
        self.params = params
        self._mesh: ParallelMesh | None = None

    @property
    def mesh(self) -> ParallelMesh:
        """The mesh and its views; available once the processes are initialised."""
        if self._mesh is None:
            raise RuntimeError("the device mesh exists only after the processes have started")
        return self._mesh

    def setup_environment(self) -> None:
        self._setup_distributed()  # Lightning: init the process group (no 2-D mesh)
        self._mesh = build_mesh(self.params, self.world_size, self.root_device.type)
        self._device_mesh = self._mesh.root
        assert self.lightning_module is not None
        self.lightning_module._device_mesh = self._mesh.root

    @property
    def distributed_sampler_kwargs(self) -> dict[str, Any]:
        data_parallel = self.mesh.data_parallel
        return {"num_replicas": data_parallel.size(), "rank": data_parallel.get_local_rank()}


def lightning_precision(params: ModelParallelParams) -> str:
    """The Lightning precision flag for a strategy's ``precision`` (fp8 runs its matmuls under bf16-mixed)."""
    return "bf16-mixed" if params.precision == "fp8" else params.precision


def clip_grad_norm(parameters: list[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """Clip the global gradient norm of parameters that may be DTensors on different meshes.

    ``torch.nn.utils.clip_grad_norm_`` stacks per-parameter norms, which fails when tensor-parallel
    block weights (2-D mesh) and FSDP-only weights (1-D mesh) mix; each norm is made a full scalar first.
    """
    from torch.distributed.tensor import DTensor

    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    squares = []
    for grad in grads:
        norm = torch.linalg.vector_norm(grad, dtype=torch.float32)
        squares.append((norm.full_tensor() if isinstance(norm, DTensor) else norm) ** 2)
    total = torch.stack(squares).sum().sqrt()
    scale = min(1.0, max_norm / (float(total) + 1e-6))
    if scale < 1.0:
        for grad in grads:
            grad.mul_(scale)
    return total
