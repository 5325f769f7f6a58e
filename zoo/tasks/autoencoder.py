"""AutoencoderTask: trains the TAE with reconstruction + KL + outlier penalty loss (paper §3.1.1).

The optional adversarial term of the paper's recipe is not implemented yet; the perceptual term needs
pretrained weights that cannot be fetched here and is left out (both are noted in the docs).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor

from zoo.losses import outlier_penalty_loss
from zoo.models.tae import TAE
from zoo.tasks.optim import OptimizerParams, build_optimizer
from zoo.tasks.seeding import replica_rank, step_generator


class AutoencoderTask(L.LightningModule):
    """Batches are dicts with ``"video"`` ``(B, 3, T, H, W)`` in [-1, 1]; images are T = 1 batches."""

    def __init__(self, autoencoder: TAE, optim: OptimizerParams, total_steps: int, *, seed: int = 0):
        super().__init__()
        self.autoencoder = autoencoder
        self.optim, self.total_steps, self.seed = optim, total_steps, seed

    def losses(self, video: Tensor, step: int) -> dict[str, Tensor]:
        """Reconstruction (L1 + MSE), KL and OPL terms and their weighted total."""
        p = self.autoencoder.params
        posterior = self.autoencoder.encode(video)
        z = posterior.sample(generator=step_generator(self.seed, step, stream=replica_rank(self._trainer)))
        recon = self.autoencoder.decode(z, frames=video.shape[2])
        terms = {
            "l1": (recon - video).abs().mean(),
            "mse": (recon - video).square().mean(),
            "kl": posterior.kl().mean(),
            "opl": outlier_penalty_loss(posterior.mean, r=p.opl_r),
        }
        terms["loss"] = terms["l1"] + terms["mse"] + p.kl_weight * terms["kl"] + p.opl_weight * terms["opl"]
        return terms

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        terms = self.losses(batch["video"], self.global_step)
        size = batch["video"].shape[0]
        self.log_dict({f"train/{k}": v for k, v in terms.items() if k != "loss"}, batch_size=size)
        self.log("train/loss", terms["loss"], prog_bar=True, batch_size=size)
        return terms["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        terms = self.losses(batch["video"], 10_000_000 + batch_idx)
        psnr = 10 * torch.log10(4.0 / terms["mse"].clamp(min=1e-10))  # peak-to-peak 2 for [-1, 1] video
        self.log_dict({"val/loss": terms["loss"], "val/psnr": psnr}, prog_bar=True, batch_size=batch["video"].shape[0])
        return terms["loss"]

    def configure_optimizers(self) -> Any:
        optimizer, scheduler = build_optimizer(self.autoencoder.parameters(), self.optim, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def export_state(self, use_ema: bool = False) -> dict[str, Tensor]:
        """Weights keyed like a pipeline (``autoencoder.*``)."""
        return {f"autoencoder.{k}": v.detach().clone() for k, v in self.autoencoder.state_dict().items()}
