"""Per-step generators: the same (seed, step) repeats its draws; data-parallel replicas draw their own."""

from types import SimpleNamespace

import torch

from zoo.tasks.seeding import replica_rank, step_generator


def draw(seed: int, step: int, stream: int = 0) -> torch.Tensor:
    return torch.randn(8, generator=step_generator(seed, step, stream))


def test_same_step_repeats_and_replicas_differ():
    torch.testing.assert_close(draw(0, 5), draw(0, 5))
    assert not torch.allclose(draw(0, 5), draw(0, 6))
    assert not torch.allclose(draw(0, 5, stream=0), draw(0, 5, stream=1))


def test_replica_rank_comes_from_the_strategy_data_parallel_coordinates():
    assert replica_rank(None) == 0
    assert replica_rank(SimpleNamespace(strategy=SimpleNamespace())) == 0  # single device: no sampler kwargs
    ddp = SimpleNamespace(strategy=SimpleNamespace(distributed_sampler_kwargs={"num_replicas": 4, "rank": 3}))
    assert replica_rank(ddp) == 3
