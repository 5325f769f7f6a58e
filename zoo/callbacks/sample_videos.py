"""SampleVideos: a Lightning callback that generates fixed prompts every N training steps.

Watching samples is how a flow-matching run is judged between evaluations (the loss falls slowly and
says little about colour or motion). Every ``every_n_steps`` optimizer steps, rank 0 samples the same
prompts with the same seed from the weights being trained and writes, per prompt,
``<dir>/step-<step>-<i>.mp4`` and a PNG contact sheet beside it; a TensorBoard logger also gets each
contact sheet as an image (``add_image``: TensorBoard's ``add_video`` would need moviepy). Samples use the live weights, not the EMA, so they show what the optimiser does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import lightning as L
import numpy as np
import torch
from pydantic import Field, NonNegativeInt, PositiveInt
from torch import nn

from zoo.spec.params import Params


class SampleVideosParams(Params):
    """Which prompts to sample during training, how often, and how."""

    every_n_steps: PositiveInt = Field(500, description="Sample every N optimizer steps (and at the end).")
    prompts: list[str] = Field(min_length=1, description="Prompts, sampled in one batch.")
    steps: PositiveInt = Field(25, description="Sampler steps per video.")
    guidance: float = Field(7.5, ge=1.0, description="Classifier-free guidance scale.")
    seed: NonNegativeInt = Field(0, description="Noise seed: the same noise at every sampling, so clips compare.")
    frames: PositiveInt | None = Field(None, description="Frames per clip; None = the preset's default.")


class SampleVideos(L.Callback):
    """Writes sample clips of ``pipeline`` (whose modules the task trains) every ``every_n_steps`` steps."""

    def __init__(self, pipeline: Any, params: SampleVideosParams, directory: str | Path):
        self.pipeline, self.params, self.directory = pipeline, params, Path(directory)

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        if step % self.params.every_n_steps == 0 or step == trainer.max_steps:
            self.sample(trainer, module, step)

    def sample(self, trainer: L.Trainer, module: nn.Module, step: int) -> list[Path]:
        """Generate and write the clips for ``step``; returns the mp4 paths (none off rank 0)."""
        if not trainer.is_global_zero:
            return []
        from zoo.io.video import write_contact_sheet, write_mp4

        p = self.params
        was_training = module.training
        try:
            output = self.pipeline(p.prompts, steps=p.steps, guidance=p.guidance, seed=p.seed, frames=p.frames)
        finally:
            module.train(was_training)
        frames = output.frames_uint8()
        self.directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, clip in enumerate(frames):
            path = self.directory / f"step-{step:07d}-{index}.mp4"
            write_mp4(clip, str(path), fps=output.fps)
            write_contact_sheet(clip, str(path.with_suffix(".png")))
            paths.append(path)
        self.log_clips(trainer, frames, output.fps, step, p.prompts)
        return paths

    @staticmethod
    def log_clips(trainer: L.Trainer, frames: torch.Tensor, fps: float, step: int, prompts: Sequence[str]) -> None:
        """Hand each clip's contact sheet to every logger that shows images (TensorBoard)."""
        from zoo.io.video import contact_sheet

        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if not hasattr(experiment, "add_image"):
                continue
            for index, prompt in enumerate(prompts):
                sheet = np.asarray(contact_sheet(frames[index]))  # (H, W, 3) uint8
                experiment.add_image(f"samples/{index}", sheet, step, dataformats="HWC")
                experiment.add_text(f"samples/{index}/prompt", f"{prompt} ({fps:g} fps)", step)
