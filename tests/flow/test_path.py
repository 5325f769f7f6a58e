"""Flow-matching path, target, masked loss, training draws and timestep samplers (zoo/flow/path.py, timesteps.py)."""

import pytest
import torch

import zoo.flow.path  # noqa: F401 - registers the flow and timestep-sampler entries
from zoo.errors import SpecError
from zoo.flow.path import FlowMatching
from zoo.flow.timesteps import LogitNormalSampler, UniformSampler
from zoo.registry import get
from zoo.spec.params import component

SIGMA_MIN = 1e-5


def _pair(shape=(3, 2, 4, 5, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)


def test_interpolate_t0_is_noise_and_t1_is_data():
    flow = FlowMatching(sigma_min=SIGMA_MIN)
    x0, x1 = _pair()
    zeros, ones = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    assert torch.equal(flow.interpolate(x0, x1, zeros), x0)
    torch.testing.assert_close(flow.interpolate(x0, x1, ones), x1 + SIGMA_MIN * x0, rtol=0, atol=1e-15)
    # the sigma_min residual is the only difference from x1 at t = 1
    assert (flow.interpolate(x0, x1, ones) - x1).abs().max() <= SIGMA_MIN * x0.abs().max() * (1 + 1e-9)


def test_interpolate_broadcasts_per_sample_time():
    flow = FlowMatching(sigma_min=0.0)
    x0, x1 = _pair((3, 4, 2))
    t = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float64)
    xt = flow.interpolate(x0, x1, t)
    for b in range(3):
        torch.testing.assert_close(xt[b], t[b] * x1[b] + (1 - t[b]) * x0[b], rtol=0, atol=1e-15)


def test_target_is_finite_difference_time_derivative_of_path():
    flow = FlowMatching(sigma_min=1e-3)  # a large sigma_min makes a wrong sign visible
    x0, x1 = _pair()
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    h = 1e-6
    derivative = (flow.interpolate(x0, x1, t + h) - flow.interpolate(x0, x1, t - h)) / (2 * h)
    torch.testing.assert_close(flow.target(x0, x1), derivative, rtol=0, atol=1e-8)
    torch.testing.assert_close(flow.target(x0, x1), x1 - (1 - 1e-3) * x0, rtol=0, atol=0)


def test_masked_loss_ignores_masked_elements_exactly():
    flow = FlowMatching()
    pred, target = _pair((2, 3, 4, 2, 2))
    mask = torch.ones(2, 1, 4, 1, 1, dtype=torch.bool)
    mask[0, :, 3:] = False  # sample 0 has 3 valid latent frames
    mask[1, :, 1:] = False  # sample 1 has 1
    poisoned = pred.clone()
    poisoned[0, :, 3:] = float("nan")
    poisoned[1, :, 1:] = 1e30
    loss = flow.loss(poisoned, target, mask)
    kept = torch.cat([(pred[0, :, :3] - target[0, :, :3]).flatten(), (pred[1, :, :1] - target[1, :, :1]).flatten()])
    assert kept.numel() == 3 * 4 * 3 + 3 * 1 * 4
    torch.testing.assert_close(loss, kept.square().mean(), rtol=1e-12, atol=0)


def test_loss_with_float_mask_and_without_mask():
    flow = FlowMatching()
    pred, target = _pair((2, 6))
    full = flow.loss(pred, target)
    torch.testing.assert_close(full, (pred - target).square().mean())
    assert torch.equal(flow.loss(pred, target, torch.ones(2, 1, dtype=torch.float64)), full)
    half = torch.tensor([[1.0], [0.0]])
    torch.testing.assert_close(flow.loss(pred, target, half), (pred[0] - target[0]).square().mean())
    assert flow.loss(pred, target, torch.zeros(2, 6)).item() == 0.0


def test_training_batch_is_consistent_and_seeded():
    flow = FlowMatching(sigma_min=SIGMA_MIN)
    x1 = torch.randn(4, 2, 3, 4, 4)
    xt, t, target, x0 = flow.training_batch(x1, generator=torch.Generator().manual_seed(7))
    assert t.shape == (4,) and t.dtype == torch.float32 and bool(((t > 0) & (t < 1)).all())
    assert xt.shape == x1.shape == target.shape == x0.shape
    torch.testing.assert_close(xt, flow.interpolate(x0, x1, t))
    torch.testing.assert_close(target, x1 - (1 - SIGMA_MIN) * x0)
    again = flow.training_batch(x1, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(a, b) for a, b in zip((xt, t, target, x0), again))


def test_drop_conditioning_rate_follows_cond_drop_prob():
    g = torch.Generator().manual_seed(0)
    drops = FlowMatching(cond_drop_prob=0.1).drop_conditioning(20000, generator=g)
    assert drops.dtype == torch.bool and drops.shape == (20000,)
    assert abs(drops.float().mean().item() - 0.1) < 0.01
    assert not FlowMatching(cond_drop_prob=0.0).drop_conditioning(100, generator=g).any()
    assert FlowMatching(cond_drop_prob=1.0).drop_conditioning(100, generator=g).all()


def test_logit_normal_samples_in_open_unit_interval_with_median_half():
    t = LogitNormalSampler(mean=0.0, std=1.0).sample(40000, generator=torch.Generator().manual_seed(0))
    assert t.shape == (40000,) and bool(((t > 0) & (t < 1)).all())
    assert abs(t.median().item() - 0.5) < 0.01
    # logit(t) is standard normal
    logit = torch.logit(t.double())
    assert abs(logit.mean().item()) < 0.02 and abs(logit.std().item() - 1.0) < 0.02


def test_logit_normal_mean_shifts_the_median():
    t = LogitNormalSampler(mean=1.0, std=0.5).sample(20000, generator=torch.Generator().manual_seed(1))
    assert abs(t.median().item() - torch.sigmoid(torch.tensor(1.0)).item()) < 0.01


def test_uniform_sampler_covers_its_interval():
    t = UniformSampler(0.2, 0.6).sample(20000, generator=torch.Generator().manual_seed(0))
    assert t.min().item() >= 0.2 and t.max().item() < 0.6
    assert abs(t.mean().item() - 0.4) < 0.005


def test_registry_builds_flow_with_paper_defaults_and_nested_sampler():
    flow = component("flow", "flow-matching").build()
    assert flow.sigma_min == 1e-5 and flow.cond_drop_prob == 0.1
    assert isinstance(flow.t_sampler, LogitNormalSampler) and (flow.t_sampler.mean, flow.t_sampler.std) == (0.0, 1.0)
    spec = component("flow", "flow-matching", sigma_min=0.0, t_sampler={"type": "uniform", "low": 0.1})
    built = spec.build()
    assert isinstance(built.t_sampler, UniformSampler) and built.t_sampler.low == 0.1
    assert spec.model_dump()["t_sampler"] == {"type": "uniform", "low": 0.1, "high": 1.0}
    assert get("timestep_sampler", "logit-normal").params.model_fields["std"].default == 1.0


@pytest.mark.parametrize(
    "node",
    [
        {"type": "flow-matching", "sigma_min": 1.5},
        {"type": "flow-matching", "cond_drop_prob": -0.1},
        {"type": "flow-matching", "t_sampler": {"type": "logit-normal", "std": 0.0}},
        {"type": "flow-matching", "t_sampler": {"type": "uniform", "low": 0.7, "high": 0.3}},
        {"type": "flow-matching", "t_sampler": {"type": "logit-normals"}},
    ],
)
def test_invalid_flow_specs_raise_spec_error(node):
    with pytest.raises(SpecError):
        component("flow", node.pop("type"), **node)
