"""A tiny registered dataset for recipe tests: moving bright squares with two captions."""

from __future__ import annotations

import os
import signal

import torch
from pydantic import Field
from torch.utils.data import Dataset

from zoo.registry import REGISTRY
from zoo.spec.params import Params


class ToyVideoParams(Params):
    size: int = Field(16, description="Samples.")
    frames: int = Field(4, description="Frames per video.")
    height: int = Field(32, description="Height.")
    width: int = Field(32, description="Width.")
    image_fraction: float = Field(0.0, description="1.0 gives single-frame samples.")


class ToyVideos(Dataset):
    def __init__(self, p: ToyVideoParams):
        self.p = p

    def __len__(self) -> int:
        return self.p.size

    def __getitem__(self, index: int) -> dict:
        _kill_if_asked()
        frames = 1 if self.p.image_fraction >= 1 else self.p.frames
        video = -torch.ones(3, frames, self.p.height, self.p.width)
        left = index % 2 == 0
        for f in range(frames):
            x = (f * 4) if left else self.p.width - 8 - f * 4
            video[:, f, 8:16, max(x, 0) : max(x, 0) + 8] = 1.0
        return {"video": video, "caption": "a square moving right" if left else "a square moving left"}


_reads = 0


def _kill_if_asked() -> None:
    """With ZOO_TEST_SIGKILL_AFTER=N, the process SIGKILLs itself on its N+1-th sample read (a hard crash)."""
    global _reads
    _reads += 1
    limit = os.environ.get("ZOO_TEST_SIGKILL_AFTER")
    if limit is not None and _reads > int(limit):
        os.kill(os.getpid(), signal.SIGKILL)


def register_toy_videos() -> None:
    REGISTRY.register("dataset", "toy-videos", params=ToyVideoParams, description="Test videos.",
                      factory=ToyVideos, override=True)
