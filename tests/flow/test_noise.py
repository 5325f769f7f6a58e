import pytest
import torch

from zoo.errors import SpecError
from zoo.flow.noise import GaussianNoise
from zoo.flow.path import FlowMatching
from zoo.flow.schedules import LinearSchedule
from zoo.flow.solvers import StochasticEulerSolver
from zoo.flow.timesteps import sample_normal
from zoo.spec.params import component


def frame_correlation(x: torch.Tensor) -> torch.Tensor:
    """``(T, T)`` correlation between the latent frames of ``x`` ``(B, C, T, H, W)``, over every other axis."""
    frames = x.transpose(0, 2).reshape(x.shape[2], -1)
    return torch.corrcoef(frames)


def test_uncorrelated_noise_is_the_plain_normal_draw():
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(GaussianNoise().sample((2, 8, 4, 6, 6), generator=g1), sample_normal((2, 8, 4, 6, 6), generator=g2))


def test_frames_correlate_by_rho_and_every_element_stays_standard_normal():
    x = GaussianNoise(0.6).sample((500, 4, 4, 8, 8), generator=torch.Generator().manual_seed(0))
    corr = frame_correlation(x)
    off_diagonal = corr[~torch.eye(4, dtype=torch.bool)]
    assert (off_diagonal - 0.6).abs().max() < 0.02
    assert abs(x.mean().item()) < 0.01 and abs(x.std().item() - 1.0) < 0.01
    temporal_mean = x.mean(dim=2, keepdim=True)  # the part that differs between frames keeps 1 - rho
    assert abs((x - temporal_mean).var().item() - 0.4 * 3 / 4) < 0.01


def test_images_and_frameless_latents_get_plain_noise():
    prior = GaussianNoise(0.8)
    for shape in [(3, 8, 1, 4, 4), (3, 8, 64)]:
        g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
        assert not prior.correlates(shape)
        assert torch.equal(prior.sample(shape, generator=g1), sample_normal(shape, generator=g2))


def test_a_correlation_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="frame_correlation"):
        GaussianNoise(1.0)
    with pytest.raises(SpecError, match="frame_noise_correlation"):
        component("flow", "flow-matching", frame_noise_correlation=-0.1)
    flow = component("flow", "flow-matching", frame_noise_correlation=0.5).build()
    assert flow.noise.frame_correlation == 0.5


def test_training_noise_follows_the_flows_prior():
    flow = FlowMatching(noise=GaussianNoise(0.7))
    _, _, _, x0 = flow.training_batch(torch.zeros(400, 4, 4, 8, 8), generator=torch.Generator().manual_seed(2))
    assert (frame_correlation(x0)[0, 1:] - 0.7).abs().max() < 0.03


def test_stochastic_steps_draw_fresh_noise_from_the_same_prior():
    # Data at 0: the exact velocity is -x / (1 - t) and x_t = (1 - t)·x0 for every t. A stochastic
    # step keeps that law only if its fresh noise has the prior's correlation.
    prior = GaussianNoise(0.75)
    noise = prior.sample((2000, 2, 4, 4, 4), generator=torch.Generator().manual_seed(0))
    solver = StochasticEulerSolver(schedule=LinearSchedule(10), guidance=1.0, eta=1.0)
    halfway = {}

    def keep(i, t, x):
        if abs(t - 0.5) < 1e-9:
            halfway["x"] = x.clone()

    def velocity(x, t, cond):
        return -x / (1 - t.view(-1, 1, 1, 1, 1))

    solver.sample(velocity, noise, cond=None, callback=keep, generator=torch.Generator().manual_seed(1), noise_prior=prior)
    assert abs(halfway["x"].std().item() - 0.5) < 0.01
    assert abs(frame_correlation(halfway["x"])[0, 1:].mean().item() - 0.75) < 0.03
    solver.sample(velocity, noise, cond=None, callback=keep, generator=torch.Generator().manual_seed(1))
    assert frame_correlation(halfway["x"])[0, 1:].mean().item() < 0.3  # independent fresh noise: the law is lost
