"""The ``train-probe`` recipe: train the Shapes-world probe (the offline FVD feature network) on clip attributes.

```yaml
schema_version: 1
type: train-probe
name: shapes-probe
model: {size: 32, widths: [16, 32, 64, 128]}        # video_features/shapes-probe params
data: {type: shapes-world, frames: 16, height: 64, width: 64}
val_data: {type: shapes-world, size: 2000, frames: 16, height: 64, width: 64, seed: 1}
steps: 2000
```

The encoder learns with one linear head per attribute (:mod:`zoo.tasks.attribute_probe`); validation
reports each head's accuracy (``val/acc/<attribute>``). The run writes ``<run>/weights.safetensors``
(the encoder alone, its sha256 in ``summary.json``), which ``video_features/shapes-probe`` loads as
``weights``. The run directory and resume rules are :mod:`zoo.recipes.fit`'s.
"""

from __future__ import annotations

import json
from typing import Any

import lightning as L
from pydantic import Field

from zoo.io.weights import load_safetensors, load_state_dict_into, save_safetensors
from zoo.models.shapes_probe import ShapesProbe, ShapesProbeParams
from zoo.recipes.fit import FitParams, FitRecipe
from zoo.registry import register
from zoo.tasks.attribute_probe import AttributeProbeTask


class TrainProbeParams(FitParams):
    """A probe training run: the probe's architecture, and where else to write its weights."""

    model: ShapesProbeParams = Field(
        default_factory=ShapesProbeParams,
        description="The probe (video_features/shapes-probe params); `weights` here are the starting weights.",
    )
    export: str | None = Field(None, description="Also write the final weights here (a path or URI).")


class TrainProbeRecipe(FitRecipe):
    """Runs a validated ``train-probe`` recipe."""

    recipe_type = "train-probe"
    p: TrainProbeParams

    def make_task(self) -> L.LightningModule:
        encoder = ShapesProbe(self.p.model.model_copy(update={"weights": None, "sha256": None}))
        if self.p.model.weights is not None:
            load_state_dict_into(encoder, load_safetensors(self.p.model.weights, self.p.model.sha256))
        return AttributeProbeTask(encoder, self.p.optim, self.p.steps)

    def export(self, task: L.LightningModule) -> dict[str, Any]:
        assert isinstance(task, AttributeProbeTask)
        state = task.export_state()
        architecture = self.p.model.model_dump(mode="json", exclude={"weights", "sha256"})
        # one metadata entry: safetensors writes several in hash order, which would change the file's sha256
        metadata = {"zoo": json.dumps({"video_features": "shapes-probe", "params": architecture}, sort_keys=True)}
        weights = self.dir / "weights.safetensors"
        report: dict[str, Any] = {"weights": str(weights), "sha256": save_safetensors(state, str(weights), metadata)}
        if self.p.export:
            save_safetensors(state, self.p.export, metadata)
            report["exported"] = self.p.export
        return report


@register(
    "recipe",
    "train-probe",
    params=TrainProbeParams,
    description="Train the Shapes-world probe (FVD features) as an attribute classifier with Lightning.",
)
def build_train_probe(p: TrainProbeParams) -> TrainProbeRecipe:
    return TrainProbeRecipe(p)
