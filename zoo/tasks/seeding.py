"""Per-step random generators: every random draw of a training step derives from (seed, step, replica).

Resuming from a checkpoint at step k then draws exactly what the uninterrupted run drew at step k,
without saving any RNG state: the loss curve continues identically. Data-parallel replicas draw
different noise (their stream is their replica rank); the context- and tensor-parallel ranks of one
replica draw the same, as they must.
"""

from __future__ import annotations

from typing import Any

import torch


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator seeded from the run seed, the global step and a stream id (noise, data, ...)."""
    generator = torch.Generator("cpu")
    generator.manual_seed((seed * 1_000_003 + step * 7_919 + stream * 104_729) % (2**63 - 1))
    return generator


def data_parallel_replica(trainer: Any) -> tuple[int, int] | None:
    """``(rank, count)`` of this process among the data-parallel replicas of ``trainer``'s strategy, or None
    (no trainer, or a single-device strategy)."""
    kwargs = getattr(trainer.strategy, "distributed_sampler_kwargs", None) if trainer is not None else None
    return (int(kwargs["rank"]), int(kwargs["num_replicas"])) if kwargs else None


def replica_rank(trainer: Any) -> int:
    """This process's data-parallel replica rank under ``trainer``'s strategy (0 without one, or alone)."""
    replica = data_parallel_replica(trainer)
    return replica[0] if replica else 0
