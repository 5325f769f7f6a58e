"""The ``model-parallel`` strategy node: how a training run lays a model over its devices.

A recipe's ``strategy:`` holds this node or names a preset of it (``recipes/strategies/``). The devices
form a 4-D mesh ``(dp_replicate, dp_shard, cp, tp)``, outermost first:

* ``dp_replicate``: pure data parallel replicas (HSDP's replicate dimension);
* ``dp_shard``: FSDP2 shards parameters, gradients and optimizer state over ``dp_shard x cp`` ranks;
* ``cp``: context parallel, each rank holds ``1/cp`` of the video token sequence (self-attention
  all-gathers keys and values, paper §3.1.6);
* ``tp``: tensor parallel, attention heads and FFN width split over ``tp`` ranks (Megatron layout);
  with ``sequence_parallel`` the norms, modulation and residuals between them hold ``1/tp`` of the tokens.

Degrees multiply to the world size; ``dp_shard: -1`` takes what the others leave.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from zoo.registry import register
from zoo.spec.params import Params

Placement = Literal["replicated", "sharded", "offloaded"]
Precision = Literal["32-true", "bf16-mixed", "bf16-true", "fp8"]


class ActivationCheckpointing(Params):
    """Recompute block activations in the backward pass instead of storing them."""

    mode: Literal["none", "full", "selective"] = Field(
        "none", description="'full': every block; 'selective': every `period`-th block; 'none': off."
    )
    period: PositiveInt = Field(2, description="'selective' checkpoints blocks 0, period, 2*period, ...")


class ModelParallelParams(Params):
    """A device mesh ``(dp_replicate, dp_shard, cp, tp)`` and what runs on it."""

    dp_replicate: PositiveInt = Field(1, description="Data-parallel replicas (HSDP replicate dimension).")
    dp_shard: int = Field(-1, ge=-1, description="FSDP2 shard degree; -1 = world size / (dp_replicate*cp*tp).")
    tp: PositiveInt = Field(1, description="Tensor-parallel degree (heads and FFN width must divide by it).")
    cp: PositiveInt = Field(1, description="Context-parallel degree (video tokens must divide by it).")
    sequence_parallel: bool = Field(
        False,
        description="With tp > 1: norms, modulation and residuals hold 1/tp of the tokens (Megatron-SP).",
    )
    activation_checkpointing: ActivationCheckpointing = Field(
        default_factory=ActivationCheckpointing, description="Activation checkpointing of transformer blocks."
    )
    compile: bool = Field(False, description="torch.compile each transformer block.")
    precision: Precision = Field(
        "32-true",
        description="Lightning precision; bf16-mixed keeps fp32 master weights and reduces gradients in fp32; "
        "fp8 trains Linear layers in float8 (H100, needs torchao).",
    )
    frozen: dict[str, Placement] = Field(
        default_factory=lambda: {"autoencoder": "replicated", "text_encoders": "replicated"},
        description="Placement of frozen components by role: replicated on every rank, sharded (FSDP2) over "
        "dp_shard x cp, or offloaded (sharded, parameters kept in host memory).",
    )
    backend: Literal["auto", "nccl", "gloo"] = Field(
        "auto", description="Process-group backend; auto = nccl on GPUs, gloo on CPUs."
    )

    @model_validator(mode="after")
    def _check(self) -> ModelParallelParams:
        if self.sequence_parallel and self.tp == 1:
            raise ValueError("sequence_parallel needs tp > 1")
        return self

    def degrees(self, world_size: int) -> dict[str, int]:
        """``{dp_replicate, dp_shard, cp, tp}`` for ``world_size`` ranks; ValueError when they do not fit."""
        fixed = self.dp_replicate * self.cp * self.tp
        if self.dp_shard == -1:
            if world_size % fixed:
                raise ValueError(
                    f"dp_replicate*cp*tp = {self.dp_replicate}*{self.cp}*{self.tp} = {fixed} does not divide "
                    f"the world size {world_size}"
                )
            shard = world_size // fixed
        else:
            shard = self.dp_shard
            if fixed * shard != world_size:
                raise ValueError(
                    f"dp_replicate*dp_shard*cp*tp = {self.dp_replicate}*{shard}*{self.cp}*{self.tp} = "
                    f"{fixed * shard}, but the world size is {world_size}"
                )
        if shard < 1:
            raise ValueError(f"dp_shard must be >= 1, got {shard}")
        return {"dp_replicate": self.dp_replicate, "dp_shard": shard, "cp": self.cp, "tp": self.tp}


@register(
    "strategy",
    "model-parallel",
    params=ModelParallelParams,
    description="FSDP2 x tensor x sequence x context parallel over a 4-D device mesh, through Lightning.",
)
def build_model_parallel(p: ModelParallelParams) -> ModelParallelParams:
    """The validated node itself; :func:`zoo.parallel.lightning.lightning_strategy` builds the Lightning side."""
    return p
