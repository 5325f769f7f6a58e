"""A deterministic stream of image or video batches, for image:video mixing (paper §3.2, "1:10").

Batch ``g`` of the stream is fully determined by ``(seed, g)``: whether it holds images or videos and
which samples it holds. Rank ``r`` of ``world`` reads batches ``r, r + world, ...`` and DataLoader
workers split a rank's batches round-robin, so the order is the same with any worker count, and a
run resumed at step ``k`` (``start = k``) reads exactly the batches the uninterrupted run read.
"""

from __future__ import annotations

import random
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info


def collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors, keep everything else as lists."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return out


def _rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class MixedBatches(IterableDataset):
    """Endless batches: images with probability ``image_fraction``, else videos; starts at batch ``start``.

    ``replica`` is ``(rank, count)`` among data-parallel replicas: with context or tensor parallelism
    several processes form one replica and must read the same batches.
    """

    def __init__(
        self,
        videos: Dataset | None,
        images: Dataset | None,
        batch_size: int,
        image_fraction: float,
        *,
        seed: int = 0,
        start: int = 0,
        limit: int | None = None,
        replica: tuple[int, int] | None = None,
    ):
        if (videos is None and image_fraction < 1) or (images is None and image_fraction > 0):
            raise ValueError("image_fraction needs an image dataset above 0 and a video dataset below 1")
        self.videos, self.images = videos, images
        self.batch_size, self.image_fraction = batch_size, image_fraction
        self.seed, self.start, self.limit = seed, start, limit
        self.replica = replica  # (rank, count) among data-parallel replicas; None = the process group's

    def batch(self, index: int) -> dict[str, Any]:
        """Global batch ``index`` of the stream."""
        rng = random.Random(self.seed * 1_000_003 + index)
        source = self.images if rng.random() < self.image_fraction else self.videos
        assert source is not None
        picks = [rng.randrange(len(source)) for _ in range(self.batch_size)]
        return collate([source[i] for i in picks])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rank, world = self.replica or _rank_and_world()
        worker = get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker else (0, 1)
        local = 0
        while self.limit is None or local < self.limit:
            if local % workers == worker_id:
                yield self.batch((self.start + local) * world + rank)
            local += 1
