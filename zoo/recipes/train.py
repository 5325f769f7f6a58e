"""The ``train`` recipe: build a preset, then run its training stages with Lightning.

```yaml
schema_version: 1
type: train
name: moviegen-video-tiny
model: {preset: moviegen-video-tiny}
data: {type: shapes-world, frames: 16, height: 64, width: 64}
stages:                                # the paper's staged shape (§3.2): T2I, then joint T2I/T2V
  - {name: t2i, steps: 600, image_fraction: 1.0}
  - {name: t2iv, steps: 2400, image_fraction: 0.1}
```

Each stage is one ``Trainer.fit`` with its own checkpoints under ``<run>/stage-<i>-<name>/``; running the
recipe again resumes the first unfinished stage from its ``last.ckpt`` and skips finished ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from pydantic import Field, NonNegativeInt, PositiveInt, model_validator
from torch.utils.data import DataLoader

from zoo.callbacks.sample_videos import SampleVideos, SampleVideosParams
from zoo.data.batches import MixedBatches
from zoo.errors import ZooError
from zoo.io.atomic import atomic_write
from zoo.io.weights import load_safetensors, save_safetensors
from zoo.pipeline import Pipeline
from zoo.recipes.common import (
    InitWeights,
    ModelRef,
    TrainerParams,
    build_pipeline,
    keep_previous_log,
    lightning_trainer,
    mixed_datasets,
    run_dir,
    run_loggers,
)
from zoo.registry import register
from zoo.spec.migrations import CURRENT_SCHEMA_VERSION
from zoo.spec.params import ComponentSpec, Params, Slot
from zoo.spec.yaml_io import dump_yaml
from zoo.tasks.optim import OptimizerParams
from zoo.tasks.seeding import data_parallel_replica


class StageParams(Params):
    """One training stage: how many steps, and the image:video mix of its batches."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="Stage name, used in directory names.")
    steps: PositiveInt = Field(description="Optimizer steps in this stage.")
    image_fraction: float = Field(
        0.0, ge=0, le=1, description="Share of batches that are images (T = 1); 1.0 = text-to-image only."
    )
    frames: PositiveInt | None = Field(None, description="Video frames in this stage; None = the dataset's.")
    lr: float | None = Field(None, gt=0, description="Peak learning rate of this stage; None = optim.lr.")


class TrainRecipeParams(Params):
    """A training run: the preset, the data, the stages and the optimiser."""

    name: str = Field(description="Run name; fills {name} in output_dir.")
    model: ModelRef = Field(description="The preset to train.")
    init: list[InitWeights] = Field(default_factory=list, description="Weights loaded before training.")
    data: Slot("dataset") = Field(description="Training data; must accept `frames` and `image_fraction`.")
    stages: list[StageParams] = Field(min_length=1, description="Stages, run in order.")
    batch_size: PositiveInt = Field(8, description="Samples per batch (per device).")
    optim: OptimizerParams = Field(default_factory=OptimizerParams, description="AdamW and its schedule.")
    ema_decay: float | None = Field(0.999, gt=0, lt=1, description="EMA of trained weights; None = off.")
    motion_loss_weight: float = Field(
        1.0, gt=0, description="Text-to-video: weight of the flow-matching error's part that changes over the "
        "latent frames (the motion) against the still part's 1; 1 = the plain loss. The validation loss stays plain."
    )
    trainer: TrainerParams = Field(default_factory=TrainerParams, description="Lightning Trainer settings.")
    seed: NonNegativeInt = Field(0, description="Seed of every random draw (data, noise, times, dropout).")
    output_dir: str = Field("runs/{name}", description="Run directory; {name} is replaced by the run name.")
    export: str | None = Field(None, description="Also write the final weights here (a path or URI).")
    samples: SampleVideosParams | None = Field(
        None, description="Sample fixed prompts during training (text-to-video presets); None = off."
    )
    strategy: Slot("strategy") | None = Field(
        None,
        description="Scale-out: a `model-parallel` node or a preset name (recipes/strategies/, e.g. h100-8x8); "
        "None = Lightning's default for trainer.devices.",
    )

    @model_validator(mode="after")
    def _unique_stage_names(self) -> TrainRecipeParams:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        return self

    @model_validator(mode="after")
    def _strategy_fits(self) -> TrainRecipeParams:
        if self.strategy is not None:
            from zoo.parallel.checks import raise_strategy_issues

            frames = [stage.frames or getattr(self.data.params, "frames", 1) for stage in self.stages]
            raise_strategy_issues(self.strategy.params, self.model, self.trainer, self.data.params, frames)
        return self


class StageData(L.LightningDataModule):
    """Deterministic training batches (resuming at the restored global step) and fixed validation batches."""

    def __init__(self, videos: Any, images: Any, batch_size: int, image_fraction: float, seed: int, t: TrainerParams):
        super().__init__()
        self.videos, self.images, self.batch_size = videos, images, batch_size
        self.image_fraction, self.seed, self.settings = image_fraction, seed, t

    def _loader(self, stream: MixedBatches) -> DataLoader:
        return DataLoader(stream, batch_size=None, num_workers=self.settings.num_workers)

    def train_dataloader(self) -> DataLoader:
        start = self.trainer.global_step if self.trainer is not None else 0
        return self._loader(
            MixedBatches(self.videos, self.images, self.batch_size, self.image_fraction, seed=self.seed, start=start,
                         replica=data_parallel_replica(self.trainer))
        )

    def val_dataloader(self) -> DataLoader:
        stream = MixedBatches(
            self.videos, self.images, self.batch_size, self.image_fraction, seed=self.seed + 7_777,
            limit=self.settings.val_batches, replica=data_parallel_replica(self.trainer),
        )
        return self._loader(stream)


class TrainRecipe:
    """Runs a validated ``train`` recipe; ``run()`` returns 0 when every stage finished."""

    def __init__(self, p: TrainRecipeParams):
        self.p = p
        self.dir = run_dir(p.output_dir, p.name)

    def build_pipeline(self) -> Pipeline:
        return build_pipeline(self.p.model, self.p.init)

    def make_task(self, pipe: Pipeline, stage: StageParams) -> L.LightningModule:
        optim = self.p.optim if stage.lr is None else self.p.optim.model_copy(update={"lr": stage.lr})
        if pipe.spec.pipeline.type == "text-to-video":
            from zoo.tasks.flow_matching import FlowMatchingTask

            return FlowMatchingTask(
                pipe, optim, stage.steps, ema_decay=self.p.ema_decay, seed=self.p.seed,
                motion_loss_weight=self.p.motion_loss_weight,
            )
        if pipe.spec.pipeline.type == "video-autoencoder":
            from zoo.tasks.autoencoder import AutoencoderTask

            return AutoencoderTask(pipe.autoencoder, optim, stage.steps, seed=self.p.seed)
        raise ZooError(f"no training task for pipeline type '{pipe.spec.pipeline.type}'")

    def datasets(self, stage: StageParams) -> tuple[Any, Any]:
        data: ComponentSpec = self.p.data
        frames = stage.frames or getattr(data.params, "frames", None)
        return mixed_datasets(data, stage.image_fraction, frames=frames)

    def write_resolved(self, pipe: Pipeline) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        recipe = {"schema_version": CURRENT_SCHEMA_VERSION, "type": "train", **self.p.model_dump(mode="json")}
        with atomic_write(self.dir / "recipe.yaml", "w") as handle:
            handle.write(dump_yaml(recipe))
        with atomic_write(self.dir / "model.yaml", "w") as handle:
            handle.write(pipe.spec.to_yaml())

    def sample_callbacks(self, pipe: Pipeline, stage_dir: Path) -> list[SampleVideos]:
        """The sample-video callback, when ``samples`` is set."""
        if self.p.samples is None:
            return []
        if pipe.spec.pipeline.type != "text-to-video":
            raise ZooError(f"samples: only text-to-video recipes sample videos, not '{pipe.spec.pipeline.type}'")
        return [SampleVideos(pipe, self.p.samples, stage_dir / "samples")]

    def run_stage(self, index: int, stage: StageParams) -> dict[str, Any]:
        """Train ``self.pipe`` through one stage (or load the stage's weights when it is done)."""
        pipe = self.pipe
        stage_dir = self.dir / f"stage-{index}-{stage.name}"
        weights = stage_dir / "weights.safetensors"
        if (stage_dir / "done.json").exists():
            pipe.load_state(load_safetensors(str(weights)))
            return json.loads((stage_dir / "done.json").read_text())
        task = self.make_task(pipe, stage)
        videos, images = self.datasets(stage)
        data = StageData(videos, images, self.p.batch_size, stage.image_fraction, self.p.seed + index, self.p.trainer)
        t = self.p.trainer
        checkpoints = stage_dir / "checkpoints"
        trainer = lightning_trainer(
            t,
            strategy=self.p.strategy.params if self.p.strategy is not None else None,
            max_steps=stage.steps,
            grad_clip=self.p.optim.grad_clip,
            root_dir=stage_dir,
            checkpoints=checkpoints,
            loggers=run_loggers(self.dir, f"stage-{index}-{stage.name}", t),
            callbacks=self.sample_callbacks(pipe, stage_dir),
        )
        last = checkpoints / "last.ckpt"
        keep_previous_log(self.dir / "logs" / f"stage-{index}-{stage.name}" / "metrics.csv")
        trainer.fit(task, datamodule=data, ckpt_path=str(last) if last.exists() else None)
        state = pipe.state_dict()  # every rank takes part in gathering sharded weights
        state.update(task.export_state())
        summary = {"stage": stage.name, "steps": int(trainer.global_step),
                   **{k: float(v) for k, v in trainer.callback_metrics.items()}}
        if trainer.is_global_zero:
            summary["sha256"] = save_safetensors(state, str(weights))
            with atomic_write(stage_dir / "done.json", "w") as handle:
                json.dump(summary, handle, indent=2)
        trainer.strategy.barrier("stage-weights")
        if self.p.strategy is None:
            pipe.load_state(state)
        else:  # the stage's modules stay sharded: go on with a fresh, whole copy
            self.pipe = self.build_pipeline()
            self.pipe.load_state(load_safetensors(str(weights)))
        return summary

    def run(self) -> int:
        L.seed_everything(self.p.seed, workers=True, verbose=False)
        self.pipe = self.build_pipeline()
        if rank_zero_only.rank == 0:
            self.write_resolved(self.pipe)
        summaries = [self.run_stage(i, stage) for i, stage in enumerate(self.p.stages)]
        if rank_zero_only.rank != 0:
            return 0
        pipe = self.pipe
        final = self.dir / "weights.safetensors"
        digest = save_safetensors(pipe.state_dict(), str(final))
        report = {"name": self.p.name, "weights": str(final), "sha256": digest, "stages": summaries}
        if self.p.export:
            report["exported"] = self.p.export
            save_safetensors(pipe.state_dict(), self.p.export)
        with atomic_write(self.dir / "summary.json", "w") as handle:
            json.dump(report, handle, indent=2)
        print(f"weights: {final}  sha256: {digest}")
        return 0


@register("recipe", "train", params=TrainRecipeParams, description="Train a preset in stages with Lightning.")
def build_train(p: TrainRecipeParams) -> TrainRecipe:
    return TrainRecipe(p)
