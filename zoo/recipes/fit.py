"""One Lightning fit into a run directory: the shared runner of single-model recipes (``train-probe``, ``train-clip``).

A subclass of :class:`FitRecipe` says which task trains and how its result is exported; this module owns
the rest, the same way the ``train`` recipe runs a stage:

```
<run>/recipe.yaml                   the resolved recipe
<run>/checkpoints/last.ckpt         Lightning checkpoint, every trainer.checkpoint_every_n_steps
<run>/logs/fit/metrics.csv          train and validation metrics (TensorBoard under <run>/tensorboard)
<run>/...                           the subclass's exports (weights file, model directory)
<run>/summary.json                  written last: the run is finished
```

Running the recipe again resumes from ``last.ckpt``; once ``summary.json`` exists a rerun changes nothing.
Batches are :class:`~zoo.recipes.train.StageData` streams, so a resumed run reads the batches the
uninterrupted run would have read.
"""

from __future__ import annotations

import json
from typing import Any

import lightning as L
from pydantic import Field, NonNegativeInt, PositiveInt
from torch.utils.data import DataLoader, Dataset

from zoo.data.batches import MixedBatches
from zoo.io.atomic import atomic_write
from zoo.recipes.common import (
    TrainerParams,
    keep_previous_log,
    lightning_trainer,
    mixed_datasets,
    run_dir,
    run_loggers,
)
from zoo.recipes.train import StageData
from zoo.spec.migrations import CURRENT_SCHEMA_VERSION
from zoo.spec.params import ComponentSpec, Params, Slot
from zoo.spec.yaml_io import dump_yaml
from zoo.tasks.optim import OptimizerParams

LOG_VERSION = "fit"


class FitParams(Params):
    """What every single-fit recipe has: data, steps, batch size, optimiser, trainer, seed and run directory."""

    name: str = Field(description="Run name; fills {name} in output_dir.")
    data: Slot("dataset") = Field(description="Training data.")
    val_data: Slot("dataset") | None = Field(
        None, description="Validation data (e.g. the same dataset with another seed); None = draws from `data`."
    )
    steps: PositiveInt = Field(description="Optimizer steps.")
    batch_size: PositiveInt = Field(32, description="Samples per batch (per device).")
    optim: OptimizerParams = Field(default_factory=OptimizerParams, description="AdamW and its schedule.")
    trainer: TrainerParams = Field(default_factory=TrainerParams, description="Lightning Trainer settings.")
    seed: NonNegativeInt = Field(0, description="Seed of every random draw (data order, initial weights).")
    output_dir: str = Field("runs/{name}", description="Run directory; {name} is replaced by the run name.")


class FitData(StageData):
    """:class:`StageData` whose validation batches come from their own datasets when given."""

    def __init__(self, train: tuple[Any, Any], val: tuple[Any, Any] | None, batch_size: int, image_fraction: float,
                 seed: int, t: TrainerParams):
        super().__init__(*train, batch_size, image_fraction, seed, t)
        self.val_sets = val

    def val_dataloader(self) -> DataLoader:
        if self.val_sets is None:
            return super().val_dataloader()
        stream = MixedBatches(*self.val_sets, self.batch_size, self.image_fraction, seed=self.seed + 7_777,
                              limit=self.settings.val_batches)
        return self._loader(stream)


class FitRecipe:
    """Runs one ``Trainer.fit`` of :meth:`make_task` and then :meth:`export`; ``run()`` returns 0 when finished."""

    recipe_type = ""  # the registry name, written into the resolved recipe.yaml
    image_fraction = 0.0  # share of image (T = 1) batches; 0 = videos only

    def __init__(self, p: FitParams):
        self.p = p
        self.dir = run_dir(p.output_dir, p.name)

    # -- what a subclass provides -----------------------------------------------------------------------
    def make_task(self) -> L.LightningModule:
        raise NotImplementedError

    def export(self, task: L.LightningModule) -> dict[str, Any]:
        """Write the trained model into the run directory; returns what to record in summary.json."""
        raise NotImplementedError

    # -- the run ----------------------------------------------------------------------------------------
    def datasets(self, data: ComponentSpec) -> tuple[Dataset | None, Dataset | None]:
        """``(videos, images)`` built from a dataset node (``image_fraction`` 0 and 1) as the batches need them."""
        return mixed_datasets(data, self.image_fraction)

    def write_resolved(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        recipe = {"schema_version": CURRENT_SCHEMA_VERSION, "type": self.recipe_type, **self.p.model_dump(mode="json")}
        with atomic_write(self.dir / "recipe.yaml", "w") as handle:
            handle.write(dump_yaml(recipe))

    def trainer(self) -> L.Trainer:
        return lightning_trainer(
            self.p.trainer,
            max_steps=self.p.steps,
            grad_clip=self.p.optim.grad_clip,
            root_dir=self.dir,
            checkpoints=self.dir / "checkpoints",
            loggers=run_loggers(self.dir, LOG_VERSION, self.p.trainer),
        )

    def run(self) -> int:
        summary_path = self.dir / "summary.json"
        if summary_path.exists():
            print(f"{self.p.name}: finished earlier, nothing to do (see {summary_path})")
            return 0
        L.seed_everything(self.p.seed, workers=True, verbose=False)
        self.write_resolved()
        task = self.make_task()
        val = self.datasets(self.p.val_data) if self.p.val_data is not None else None
        data = FitData(self.datasets(self.p.data), val, self.p.batch_size, self.image_fraction, self.p.seed,
                       self.p.trainer)
        trainer = self.trainer()
        last = self.dir / "checkpoints" / "last.ckpt"
        keep_previous_log(self.dir / "logs" / LOG_VERSION / "metrics.csv")
        trainer.fit(task, datamodule=data, ckpt_path=str(last) if last.exists() else None)
        exported = self.export(task)
        summary = {
            "name": self.p.name,
            "type": self.recipe_type,
            "steps": int(trainer.global_step),
            **exported,
            "metrics": {k: float(v) for k, v in sorted(trainer.callback_metrics.items())},
        }
        with atomic_write(summary_path, "w") as handle:
            json.dump(summary, handle, indent=2)
        print("  ".join(f"{key}: {value}" for key, value in exported.items()))
        return 0

