"""FlowMatchingTask: trains a text-to-video backbone with flow matching (paper §3.1.2).

Policy lives here (latents from the frozen TAE, caption dropout for classifier-free guidance, the
flow-matching loss, EMA of the trained weights, AdamW with warm-up); Lightning owns the loop,
checkpoints, logging and strategies. Every random draw of step k comes from ``step_generator(seed, k)``
(one stream per data-parallel replica),
so a run resumed from a checkpoint repeats the uninterrupted run exactly.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from zoo.io.weights import full_state
from zoo.models.tae import DiagonalGaussian
from zoo.pipelines.text_to_video import TextToVideoPipeline
from zoo.tasks.optim import OptimizerParams, build_optimizer
from zoo.tasks.seeding import replica_rank, step_generator


def ema_by_layout(decay: float) -> Any:
    """torch's EMA update, run separately per tensor layout: under a strategy, plain tensors and DTensors
    on different meshes (tensor-parallel blocks, FSDP-only weights) cannot share one foreach call."""
    update = get_ema_multi_avg_fn(decay)

    def update_by_layout(averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        groups: dict[Any, list[int]] = {}
        for i, tensor in enumerate(current):
            layout = (getattr(tensor, "device_mesh", None), getattr(tensor, "placements", None))
            groups.setdefault(layout, []).append(i)
        for indices in groups.values():
            update([averaged[i] for i in indices], [current[i] for i in indices], num_averaged)

    return update_by_layout


def temporal_deviation_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean square of the error's deviation from its mean over the latent frames (axis 2 of ``(B, C, T, H, W)``).

    The error splits into that mean (still content) and the deviation (what changes over time, the motion),
    whose squares add up to the full error's. Images (``T = 1``) give 0.
    """
    if pred.dim() != 5 or pred.shape[2] == 1:
        return pred.new_zeros((), dtype=torch.float32)
    dtype = torch.promote_types(pred.dtype, torch.float32)  # reduce as FlowMatching.loss does
    error = pred.to(dtype) - target.to(dtype)
    return (error - error.mean(dim=2, keepdim=True)).square().mean()


class FlowMatchingTask(L.LightningModule):
    """Text-to-image and text-to-video training of ``pipeline``'s backbone and text projections.

    Batches are dicts with ``"caption"`` (list of B str) and one of: ``"video"`` ``(B, 3, T, H, W)`` in
    [-1, 1] (encoded by the frozen autoencoder); a cached posterior ``"latent_mean"`` and
    ``"latent_logvar"`` ``(B, C, t, h, w)`` in raw latent units (see :mod:`zoo.data.latent_cache`); or
    normalised ``"latents"``. Images are batches with T = 1. Text encoders built with ``frozen: false``
    (tiny presets, whose encoders have no pretrained weights) train with the backbone.
    """

    def __init__(
        self,
        pipeline: TextToVideoPipeline,
        optim: OptimizerParams,
        total_steps: int,
        *,
        ema_decay: float | None = 0.999,
        seed: int = 0,
        motion_loss_weight: float = 1.0,
    ):
        super().__init__()
        self.backbone = pipeline.backbone
        self.conditioner = pipeline.conditioner
        self.autoencoder = pipeline.autoencoder.requires_grad_(False)
        self.flow = pipeline.flow
        self.fps = pipeline.spec.pipeline.params.fps
        self.optim, self.total_steps, self.seed = optim, total_steps, seed
        self.motion_loss_weight = motion_loss_weight
        self.ema = AveragedModel(self.trained(), multi_avg_fn=ema_by_layout(ema_decay)) if ema_decay else None
        if self.ema is not None:
            self.ema.requires_grad_(False)

    def trained(self) -> nn.ModuleDict:
        """The modules this task optimises: the backbone, the text projections and any unfrozen text encoder."""
        modules: dict[str, nn.Module] = {"backbone": self.backbone, "text_projections": self.conditioner.projections}
        unfrozen = {str(i): e for i, e in enumerate(self.conditioner.encoders) if not getattr(e, "frozen", True)}
        if unfrozen:  # keyed by position, so state-dict keys read text_encoders.<i>.* as in the pipeline
            modules["text_encoders"] = nn.ModuleDict(unfrozen)
        return nn.ModuleDict(modules)

    # -- the step -----------------------------------------------------------------------------
    def latents(self, batch: dict[str, Any], generator: torch.Generator) -> Tensor:
        """Normalised latents of the batch: precomputed, or a posterior sample of the frozen TAE."""
        return self.encode_latents(self.autoencoder, batch, generator)

    @staticmethod
    @torch.no_grad()
    def encode_latents(autoencoder: nn.Module, batch: dict[str, Any], generator: torch.Generator) -> Tensor:
        """Normalised latents ``(B, C, t, h, w)`` of a batch of clips, cached posteriors or latents."""
        if "latents" in batch:
            return batch["latents"]
        if "latent_mean" in batch:
            posterior = DiagonalGaussian(batch["latent_mean"], batch["latent_logvar"])
        else:
            autoencoder.eval()
            posterior = autoencoder.encode(batch["video"])
        return autoencoder.normalize(posterior.sample(generator=generator))

    @staticmethod
    def latents_shape(batch: dict[str, Any]) -> torch.Size:
        """Shape of the batch's latents ``(B, C, t, h, w)`` (for cached or precomputed latents)."""
        return (batch["latents"] if "latents" in batch else batch["latent_mean"]).shape

    def loss(self, batch: dict[str, Any], step: int, *, weighted: bool = True) -> Tensor:
        """Flow-matching loss of one batch with the draws of ``step``; ``weighted`` applies ``motion_loss_weight``."""
        generator = step_generator(self.seed, step, stream=replica_rank(self._trainer))
        x1 = self.latents(batch, generator)
        captions = list(batch["caption"])
        dropped = self.flow.drop_conditioning(len(captions), generator=generator)
        captions = ["" if drop else caption for caption, drop in zip(captions, dropped.tolist())]
        tokens, mask = self.conditioner(captions, fps=self.fps)
        xt, t, target, _ = self.flow.training_batch(x1, generator=generator)
        pred = self.backbone(xt, t, tokens, mask)
        loss = self.flow.loss(pred, target)
        if weighted and self.motion_loss_weight != 1.0:
            loss = loss + (self.motion_loss_weight - 1.0) * temporal_deviation_loss(pred, target)
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss = self.loss(batch, self.global_step)
        frames = batch["video"].shape[2] if "video" in batch else self.latents_shape(batch)[2]
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["caption"]))
        self.log("train/image_batch", float(frames == 1), batch_size=len(batch["caption"]))
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        # Fixed draws per validation batch: the flow-matching validation loss tracks quality (paper §3.5).
        loss = self.loss(batch, 10_000_000 + batch_idx, weighted=False)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch["caption"]))
        return loss

    # -- scale-out ----------------------------------------------------------------------------
    def configure_model(self) -> None:
        """Under the ``model-parallel`` strategy: apply its plans (TP, CP, checkpointing, FSDP2) once."""
        from zoo.parallel.lightning import ZooModelParallelStrategy

        strategy = self.trainer.strategy if self._trainer is not None else None
        if not isinstance(strategy, ZooModelParallelStrategy) or getattr(self, "_parallelized", False):
            return
        from zoo.parallel.plans import parallelize

        frozen_encoders = [e for e in self.conditioner.encoders if getattr(e, "frozen", True)]
        frozen = {"autoencoder": self.autoencoder, "text_encoders": nn.ModuleList(frozen_encoders)}
        parallelize(self.trained().values(), frozen, self.backbone, strategy.mesh, strategy.params)
        if self.ema is not None:  # the average is laid out like the weights, so it updates shard by shard
            average = self.ema.module
            parallelize(average.values(), {}, average["backbone"], strategy.mesh, strategy.params)
        self._parallelized = True

    def on_after_backward(self) -> None:
        if getattr(self, "_parallelized", False):  # e.g. sequence parallel: sum replicated weights' grads over TP
            from zoo.parallel.plans import finish_backward

            finish_backward(self.backbone)

    def configure_gradient_clipping(
        self, optimizer: Any, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None
    ) -> None:
        from zoo.parallel.lightning import ZooModelParallelStrategy, clip_grad_norm

        if not isinstance(self.trainer.strategy, ZooModelParallelStrategy):
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
        elif gradient_clip_val:  # DTensor gradients on several meshes: torch's clip cannot stack their norms
            clip_grad_norm([p for group in optimizer.param_groups for p in group["params"]], gradient_clip_val)

    # -- optimisation -------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        params = [p for p in self.trained().parameters() if p.requires_grad]
        optimizer, scheduler = build_optimizer(params, self.optim, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.trained())

    def export_state(self, use_ema: bool = True) -> dict[str, Tensor]:
        """Weights of the trained modules keyed like the pipeline (``backbone.*``, ``text_projections.*``)."""
        source = self.ema.module if (use_ema and self.ema is not None) else self.trained()
        return {k: v.detach().clone() for k, v in full_state(source.state_dict()).items()}
