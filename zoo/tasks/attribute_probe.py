"""AttributeProbeTask: trains a video encoder to recognise the ground-truth attributes of Shapes-world clips.

One linear head per attribute reads the encoder's features ``(B, D)``; the heads exist for training only
(the encoder alone is exported). Scene attributes (background, camera, object count) have one value per
clip and train with cross-entropy. Object attributes (shape, colour, size, motion, speed) describe one
or two objects, so their heads say which values are present in the clip (multi-label, binary
cross-entropy per value): a clip of a red circle and a blue square has colour targets {red, blue}.

Accuracy per head is exact: a scene head must pick the value, an object head must predict the set of
present values exactly (every value's sigmoid on the right side of 0.5).
"""

from __future__ import annotations

from typing import Any, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.data.shapes_world.vocabulary import BACKGROUNDS, CAMERAS, COLOURS, MOTIONS, SHAPES, SIZES, SPEEDS
from zoo.tasks.optim import OptimizerParams, build_optimizer

OBJECT_HEADS: dict[str, tuple[str, ...]] = {
    "shape": SHAPES,
    "colour": tuple(COLOURS),
    "size": tuple(SIZES),
    "motion": MOTIONS,
    "speed": tuple(SPEEDS),
}
"""Multi-label heads: which values the clip's objects have (speed: of its moving objects)."""

SCENE_HEADS: dict[str, tuple[str, ...]] = {
    "background": tuple(BACKGROUNDS),
    "camera": CAMERAS,
    "count": ("1", "2"),
}
"""Single-label heads: one value per clip."""

IGNORE = -100  # scene target of a clip without that attribute (no camera in a still image)


def attribute_targets(attributes: Sequence[dict[str, Any]]) -> dict[str, Tensor]:
    """Targets of a batch of Shapes-world attribute dicts (the dataset's ``"attributes"``).

    Object heads: multi-hot ``(B, K)`` float; scene heads: value indices ``(B,)`` long, :data:`IGNORE` when unset.
    """
    targets: dict[str, Tensor] = {}
    for head, values in OBJECT_HEADS.items():
        hot = torch.zeros(len(attributes), len(values))
        for row, scene in enumerate(attributes):
            for obj in scene["objects"]:
                if obj.get(head) is not None:
                    hot[row, values.index(obj[head])] = 1.0
        targets[head] = hot
    for head, values in SCENE_HEADS.items():
        found = [str(len(scene["objects"])) if head == "count" else scene.get(head) for scene in attributes]
        targets[head] = torch.tensor([values.index(v) if v is not None else IGNORE for v in found], dtype=torch.long)
    return targets


class AttributeProbeTask(L.LightningModule):
    """Batches are dicts with ``"video"`` ``(B, 3, T, H, W)`` in [-1, 1] and ``"attributes"`` (B dicts)."""

    def __init__(self, encoder: nn.Module, optim: OptimizerParams, total_steps: int):
        super().__init__()
        self.encoder = encoder
        dim = int(encoder.feature_dim)
        self.heads = nn.ModuleDict(
            {head: nn.Linear(dim, len(values)) for head, values in {**OBJECT_HEADS, **SCENE_HEADS}.items()}
        )
        self.optim, self.total_steps = optim, total_steps

    def evaluate(self, batch: dict[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
        """The summed loss over heads and each head's accuracy on the batch."""
        features = self.encoder(batch["video"])
        targets = {k: v.to(features.device) for k, v in attribute_targets(batch["attributes"]).items()}
        loss = features.new_zeros(())
        accuracy: dict[str, Tensor] = {}
        for head in OBJECT_HEADS:
            logits = self.heads[head](features)
            # summed over values, so a head weighs about as much as a cross-entropy head
            loss = loss + F.binary_cross_entropy_with_logits(logits, targets[head], reduction="sum") / len(logits)
            accuracy[head] = ((logits > 0) == targets[head].bool()).all(dim=1).float().mean()
        for head in SCENE_HEADS:
            logits, target = self.heads[head](features), targets[head]
            known = target != IGNORE
            if known.any():
                loss = loss + F.cross_entropy(logits[known], target[known])
                accuracy[head] = (logits[known].argmax(dim=1) == target[known]).float().mean()
        return loss, accuracy

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss, accuracy = self.evaluate(batch)
        size = batch["video"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/acc_mean", torch.stack(list(accuracy.values())).mean(), prog_bar=True, batch_size=size)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss, accuracy = self.evaluate(batch)
        size = batch["video"].shape[0]
        self.log_dict({f"val/acc/{head}": value for head, value in accuracy.items()}, batch_size=size)
        self.log("val/acc_mean", torch.stack(list(accuracy.values())).mean(), prog_bar=True, batch_size=size)
        self.log("val/loss", loss, prog_bar=True, batch_size=size)
        return loss

    def configure_optimizers(self) -> Any:
        optimizer, scheduler = build_optimizer(self.parameters(), self.optim, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def export_state(self) -> dict[str, Tensor]:
        """The encoder's weights, keyed as in the encoder itself (the heads stay behind)."""
        return {k: v.detach().clone() for k, v in self.encoder.state_dict().items()}
