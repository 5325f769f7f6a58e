"""The ``train-clip`` recipe: train the tiny CLIP (offline CLIP score) contrastively on Shapes-world frames.

```yaml
schema_version: 1
type: train-clip
name: shapes-clip-tiny
model: {image_size: 64, patch_size: 8}             # zoo.models.tiny_clip.TinyCLIPParams
data: {type: shapes-world, frames: 16, height: 64, width: 64}
image_fraction: 0.5                                # still images with image captions, half of the batches
steps: 2000
```

The run saves the model and its processor with ``save_pretrained`` into ``<run>/clip/`` (written
under a temporary name, then renamed into place), a directory ``metric/clip-score`` loads as
``model: <run>/clip``. ``summary.json`` records the sha256 of its ``model.safetensors``. The run
directory and resume rules are :mod:`zoo.recipes.fit`'s.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import lightning as L
from pydantic import Field

from zoo.io.weights import sha256_file
from zoo.models.tiny_clip import TinyCLIPParams, build_tiny_clip
from zoo.recipes.fit import FitParams, FitRecipe
from zoo.registry import register
from zoo.tasks.contrastive import CLIPContrastiveTask, FrameChoice

EXPORT_DIR = "clip"


class TrainCLIPParams(FitParams):
    """A tiny-CLIP training run: the model sizes, the frames and the image share of batches."""

    model: TinyCLIPParams = Field(default_factory=TinyCLIPParams, description="Sizes of the tiny CLIP.")
    frame: FrameChoice = Field("random", description="Which frame of a clip trains: 'random' per step, or 'middle'.")
    image_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of batches that are still images (T = 1) with image captions."
    )
    export: str | None = Field(None, description="Also save the model directory here (a local path).")


def save_directory(model: Any, processor: Any, target: Path, provenance: dict[str, Any]) -> None:
    """``save_pretrained`` of model and processor into ``target``, replacing it whole (via a temporary sibling)."""
    target = target.expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        model.save_pretrained(temp)
        processor.save_pretrained(temp)
        (temp / "training.json").write_text(json.dumps(provenance, indent=2))
        if target.exists():
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(target, old)
            os.replace(temp, target)
            shutil.rmtree(old)
        else:
            os.replace(temp, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


class TrainCLIPRecipe(FitRecipe):
    """Runs a validated ``train-clip`` recipe."""

    recipe_type = "train-clip"
    p: TrainCLIPParams

    def __init__(self, p: TrainCLIPParams):
        super().__init__(p)
        self.image_fraction = p.image_fraction

    def make_task(self) -> L.LightningModule:
        model, processor = build_tiny_clip(self.p.model)
        return CLIPContrastiveTask(model, processor, self.p.optim, self.p.steps, frame=self.p.frame, seed=self.p.seed)

    def export(self, task: L.LightningModule) -> dict[str, Any]:
        assert isinstance(task, CLIPContrastiveTask)
        model = task.model.to("cpu").float().eval()
        provenance = {
            "recipe": self.recipe_type,
            "name": self.p.name,
            "steps": self.p.steps,
            "data": self.p.data.model_dump(mode="json"),
            "note": "Tiny CLIP trained on Shapes-world frames; its scores compare only with scores from these weights.",
        }
        directory = self.dir / EXPORT_DIR
        save_directory(model, task.processor, directory, provenance)
        report: dict[str, Any] = {"directory": str(directory), "sha256": sha256_file(directory / "model.safetensors")}
        if self.p.export:
            save_directory(model, task.processor, Path(self.p.export), provenance)
            report["exported"] = self.p.export
        return report


@register(
    "recipe",
    "train-clip",
    params=TrainCLIPParams,
    description="Train a tiny CLIP on Shapes-world frames and captions; saves a local Hugging Face directory.",
)
def build_train_clip(p: TrainCLIPParams) -> TrainCLIPRecipe:
    return TrainCLIPRecipe(p)
