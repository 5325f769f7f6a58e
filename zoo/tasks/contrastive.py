"""CLIPContrastiveTask: trains a transformers ``CLIPModel`` on (frame, caption) pairs with the CLIP loss.

Each clip of a batch gives one frame (a random one per step, drawn from ``step_generator(seed, step)``,
or the middle one) and its caption. Frames go through the model's own ``CLIPProcessor``, exactly as
CLIP score prepares frames later, so training and scoring see the same pixels. The loss is CLIP's
symmetric cross-entropy over the batch's image-text similarity matrix, with the learned temperature.

Validation uses the middle frame and reports the loss, top-1 retrieval accuracy within the batch in
both directions (a caption identical to the right one counts as right) and the mean raw CLIP score
``100 * cos`` of matching and of mismatched pairs: the gap between the two is what CLIP score measures.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
import torch
from torch import Tensor

from zoo.metrics.clip_score import to_uint8
from zoo.tasks.optim import OptimizerParams, build_optimizer
from zoo.tasks.seeding import step_generator

FrameChoice = Literal["random", "middle"]


class CLIPContrastiveTask(L.LightningModule):
    """Batches are dicts with ``"video"`` ``(B, 3, T, H, W)`` in [-1, 1] (T = 1 for images) and ``"caption"``."""

    def __init__(self, model: Any, processor: Any, optim: OptimizerParams, total_steps: int, *,
                 frame: FrameChoice = "random", seed: int = 0):
        super().__init__()
        self.model, self.processor = model, processor
        self.optim, self.total_steps, self.frame, self.seed = optim, total_steps, frame, seed

    def frames(self, videos: Tensor, step: int | None) -> Tensor:
        """One uint8 frame ``(B, 3, H, W)`` per clip: random with the draws of ``step``, or the middle one if None."""
        count = videos.shape[2]
        if step is None or self.frame == "middle":
            index = torch.full((videos.shape[0],), count // 2)
        else:
            index = torch.randint(count, (videos.shape[0],), generator=step_generator(self.seed, step))
        picked = videos[torch.arange(videos.shape[0]), :, index.to(videos.device)]
        return to_uint8(picked)

    def inputs(self, batch: dict[str, Any], step: int | None) -> dict[str, Tensor]:
        """``pixel_values``, ``input_ids`` and ``attention_mask`` on the model's device."""
        pixels = self.processor(images=list(self.frames(batch["video"], step).cpu()), return_tensors="pt")
        tokens = self.processor.tokenizer(
            list(batch["caption"]), padding=True, truncation=True, max_length=self.processor.tokenizer.model_max_length,
            return_tensors="pt",
        )
        return {
            "pixel_values": pixels["pixel_values"].to(self.device),
            "input_ids": tokens["input_ids"].to(self.device),
            "attention_mask": tokens["attention_mask"].to(self.device),
        }

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        out = self.model(**self.inputs(batch, self.global_step), return_loss=True)
        size = len(batch["caption"])
        self.log("train/loss", out.loss, prog_bar=True, batch_size=size)
        self.log("train/logit_scale", self.model.logit_scale.exp(), batch_size=size)
        return out.loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        out = self.model(**self.inputs(batch, None), return_loss=True)
        captions = list(batch["caption"])
        size = len(captions)
        same = torch.tensor([[a == b for b in captions] for a in captions], device=out.logits_per_image.device)
        image_to_text = same[torch.arange(size), out.logits_per_image.argmax(dim=1)].float().mean()
        text_to_image = same[torch.arange(size), out.logits_per_text.argmax(dim=1)].float().mean()
        scores = 100.0 * out.image_embeds @ out.text_embeds.T  # raw CLIP scores (B, B), before any clamp
        matched = scores.diagonal().mean()
        mismatched = scores[~same].mean() if (~same).any() else matched
        self.log_dict(
            {"val/image_to_text_top1": image_to_text, "val/text_to_image_top1": text_to_image,
             "val/score_matched": matched, "val/score_mismatched": mismatched},
            batch_size=size,
        )
        self.log("val/loss", out.loss, prog_bar=True, batch_size=size)
        return out.loss

    def configure_optimizers(self) -> Any:
        optimizer, scheduler = build_optimizer(self.model.parameters(), self.optim, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
