"""Per-step random generators: every random draw of a training step derives from (seed, step).

Resuming from a checkpoint at step k then draws exactly what the uninterrupted run drew at step k,
without saving any RNG state: the loss curve continues identically.
"""

from __future__ import annotations

import torch


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator seeded from the run seed, the global step and a stream id (noise, data, ...)."""
    generator = torch.Generator("cpu")
    generator.manual_seed((seed * 1_000_003 + step * 7_919 + stream * 104_729) % (2**63 - 1))
    return generator
