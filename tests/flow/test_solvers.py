"""Euler / midpoint solvers and classifier-free guidance (zoo/flow/solvers.py, guidance.py)."""

import math
from collections import namedtuple

import pytest
import torch

import zoo.flow.solvers  # noqa: F401 - registers the sampler and schedule entries
from zoo.errors import SpecError
from zoo.flow.guidance import can_concat, cfg_combine, concat_batch, guided_velocity, split_batch, take_rows
from zoo.flow.path import FlowMatching
from zoo.flow.schedules import LinearQuadraticSchedule, LinearSchedule
from zoo.flow.solvers import EulerSolver, MidpointSolver, StochasticEulerSolver
from zoo.spec.params import component


class Recorder:
    """A velocity function ``v = cond_gain · x + cond_bias`` that logs each call's batch size and times."""

    def __init__(self):
        self.calls: list[tuple[int, torch.Tensor]] = []

    def __call__(self, x, t, cond):
        self.calls.append((x.shape[0], t.clone()))
        gain, bias = (cond["gain"], cond["bias"]) if isinstance(cond, dict) else (cond[0], cond[1])
        return gain.view(-1, 1, 1) * x + bias.view(-1, 1, 1) + 0 * t.view(-1, 1, 1)


def _noise(shape=(2, 3, 4), seed=0, dtype=torch.float64):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_euler_recovers_data_in_one_step_on_straight_path():
    flow = FlowMatching(sigma_min=0.0)
    x0, x1 = _noise(seed=0), _noise(seed=1)
    target = flow.target(x0, x1)
    solver = EulerSolver(schedule=LinearSchedule(1), guidance=1.0)
    out = solver.sample(lambda x, t, cond: target, x0, cond=None)
    torch.testing.assert_close(out, x1, rtol=0, atol=1e-15)
    # exact on the linear-quadratic grid too: the steps sum to 1
    out50 = EulerSolver(guidance=1.0).sample(lambda x, t, cond: target, x0, cond=None)
    torch.testing.assert_close(out50, x1, rtol=0, atol=1e-12)


def _solve_error(solver_cls, steps: int) -> float:
    """|x(1) − sin(3)/3| for dx/dt = cos(3t), x(0) = 0."""
    solver = solver_cls(schedule=LinearSchedule(steps), guidance=1.0)
    start = torch.zeros(1, 1, dtype=torch.float64)
    x = solver.sample(lambda x, t, cond: torch.cos(3 * t).view(-1, 1), start, cond=None)
    return abs(x.item() - math.sin(3) / 3)


def test_midpoint_is_second_order_and_euler_first_order():
    euler_ratio = _solve_error(EulerSolver, 16) / _solve_error(EulerSolver, 32)
    midpoint_ratio = _solve_error(MidpointSolver, 16) / _solve_error(MidpointSolver, 32)
    assert 1.8 < euler_ratio < 2.2
    assert 3.7 < midpoint_ratio < 4.3
    assert _solve_error(MidpointSolver, 16) < _solve_error(EulerSolver, 16) / 10


def test_guidance_one_equals_conditional_and_uses_one_pass():
    cond = (torch.tensor([0.5, -1.0]).double(), torch.tensor([1.0, 2.0]).double())
    null = (torch.zeros(2).double(), torch.zeros(2).double())
    noise = _noise()
    with_null, without_null = Recorder(), Recorder()
    solver = EulerSolver(schedule=LinearSchedule(4))
    a = solver.sample(with_null, noise, cond=cond, null_cond=null, guidance=1.0)
    b = solver.sample(without_null, noise, cond=cond)  # null_cond None: no guidance even at 7.5
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [n for n, _ in with_null.calls] == [2] * 4 == [n for n, _ in without_null.calls]


@pytest.mark.parametrize("scale", [0.0, 3.0, 7.5])
def test_guided_euler_step_matches_cfg_formula(scale):
    noise = _noise()
    cond = {"gain": torch.tensor([0.5, -1.0]).double(), "bias": torch.tensor([1.0, 2.0]).double()}
    null = {"gain": torch.tensor([0.1, 0.2]).double(), "bias": torch.tensor([-1.0, 0.0]).double()}
    out = EulerSolver(schedule=LinearSchedule(1)).sample(Recorder(), noise, cond=cond, null_cond=null, guidance=scale)
    v_c = cond["gain"].view(-1, 1, 1) * noise + cond["bias"].view(-1, 1, 1)
    v_u = null["gain"].view(-1, 1, 1) * noise + null["bias"].view(-1, 1, 1)
    torch.testing.assert_close(out, noise + v_u + scale * (v_c - v_u), rtol=0, atol=1e-14)


def test_cfg_combine_formula():
    v_c, v_u = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0])
    assert torch.equal(cfg_combine(v_c, v_u, 1.0), v_c)
    assert torch.equal(cfg_combine(v_c, v_u, 0.0), v_u)
    assert torch.equal(cfg_combine(v_c, v_u, 7.5), torch.tensor([8.5, -14.0]))


@pytest.mark.parametrize("solver_cls,calls_per_step", [(EulerSolver, 1), (MidpointSolver, 2)])
def test_batched_cfg_calls_velocity_once_per_evaluation_with_batch_2b(solver_cls, calls_per_step):
    recorder = Recorder()
    cond = {"gain": torch.ones(2).double(), "bias": torch.ones(2).double()}
    null = {"gain": torch.zeros(1).double(), "bias": torch.zeros(1).double()}  # batch-1 null broadcast to B
    solver_cls(schedule=LinearSchedule(5)).sample(recorder, _noise(), cond=cond, null_cond=null, guidance=7.5)
    assert [n for n, _ in recorder.calls] == [4] * (5 * calls_per_step)
    first_t = recorder.calls[0][1]
    assert first_t.shape == (4,) and first_t.dtype == torch.float64 and bool((first_t == 0).all())


def test_guidance_interval_guides_only_inside_it_and_runs_one_pass_outside():
    recorder = Recorder()
    cond = {"gain": torch.tensor([0.5, -1.0]).double(), "bias": torch.tensor([1.0, 2.0]).double()}
    null = {"gain": torch.tensor([0.1, 0.2]).double(), "bias": torch.tensor([-1.0, 0.0]).double()}
    noise = _noise()
    solver = EulerSolver(schedule=LinearSchedule(4), guidance=7.5, guidance_interval=(0.25, 0.75))
    out = solver.sample(recorder, noise, cond=cond, null_cond=null)
    # steps start at t = 0, 0.25, 0.5, 0.75: the middle two (inside [0.25, 0.75)) run the 2B batch
    assert [n for n, _ in recorder.calls] == [2, 4, 4, 2]
    gain_c, bias_c = cond["gain"].view(-1, 1, 1), cond["bias"].view(-1, 1, 1)
    gain_u, bias_u = null["gain"].view(-1, 1, 1), null["bias"].view(-1, 1, 1)
    x = noise
    for scale in (1.0, 7.5, 7.5, 1.0):
        v_c, v_u = gain_c * x + bias_c, gain_u * x + bias_u
        x = x + 0.25 * (v_u + scale * (v_c - v_u))
    torch.testing.assert_close(out, x, rtol=0, atol=1e-12)
    # the full interval is plain guidance
    everywhere = EulerSolver(schedule=LinearSchedule(4), guidance=7.5, guidance_interval=(0.0, 1.0))
    plain = EulerSolver(schedule=LinearSchedule(4), guidance=7.5)
    torch.testing.assert_close(
        everywhere.sample(Recorder(), noise, cond=cond, null_cond=null),
        plain.sample(Recorder(), noise, cond=cond, null_cond=null), rtol=0, atol=0,
    )


@pytest.mark.parametrize("interval", [[0.5, 0.5], [0.6, 0.2], [-0.1, 0.5], [0.2, 1.5]])
def test_guidance_interval_must_be_ordered_inside_unit_range(interval):
    with pytest.raises(SpecError, match="guidance_interval"):
        component("sampler", "euler", guidance_interval=interval).build()


def test_unbatchable_conditioning_falls_back_to_two_calls():
    calls = []

    def velocity(x, t, cond):
        calls.append((x.shape[0], cond.shape[1]))
        return x * 0 + cond.mean(dim=(1, 2)).view(-1, 1, 1)

    cond, null = torch.ones(2, 5, 3), torch.zeros(2, 7, 3)  # different token counts: (B, N, D) vs (B, N', D)
    out = EulerSolver(schedule=LinearSchedule(2)).sample(velocity, torch.zeros(2, 1, 1), cond=cond, null_cond=null)
    assert calls == [(2, 5), (2, 7)] * 2
    torch.testing.assert_close(out, torch.full((2, 1, 1), 7.5))


def test_callback_sees_every_step_and_progress_bar_runs(capsys):
    seen = []
    solver = MidpointSolver(schedule=LinearQuadraticSchedule(), steps=6, guidance=1.0)
    solver.sample(
        lambda x, t, cond: torch.ones_like(x), torch.zeros(1, 2), cond=None, progress=True,
        callback=lambda i, t, x: seen.append((i, t, x[0, 0].item())),
    )
    assert [i for i, _, _ in seen] == list(range(6))
    assert seen[-1][1] == 1.0 and abs(seen[-1][2] - 1.0) < 1e-6
    assert all(a[1] < b[1] and abs(a[1] - a[2]) < 1e-6 for a, b in zip(seen, seen[1:]))
    assert "midpoint" in capsys.readouterr().err


def test_steps_override_and_dtypes():
    solver = EulerSolver(schedule=LinearQuadraticSchedule(), steps=10)
    assert solver.timesteps().shape == (11,)
    assert solver.timesteps(steps=4).shape == (5,)
    assert EulerSolver(schedule=LinearQuadraticSchedule()).timesteps().shape == (51,)
    recorder_dtypes = []

    def velocity(x, t, cond):
        recorder_dtypes.append(t.dtype)
        return torch.ones_like(x)

    out = solver.sample(velocity, torch.zeros(2, 3, dtype=torch.bfloat16), cond=None, steps=3)
    assert out.dtype == torch.bfloat16 and len(recorder_dtypes) == 3 and recorder_dtypes[0] == torch.float32


def test_concat_and_split_round_trip_nested_structures():
    Pair = namedtuple("Pair", "tokens mask")
    tokens, mask = torch.randn(2, 4, 3), torch.ones(2, 4, dtype=torch.bool)
    cond = {"text": Pair(tokens, mask), "fps": 16, "extra": [torch.randn(2)]}
    null_text = Pair(torch.zeros(1, 4, 3), torch.zeros(1, 4, dtype=torch.bool))
    null = {"text": null_text, "fps": 16, "extra": [torch.ones(2)]}
    assert can_concat(cond, null)
    both = concat_batch(cond, null)
    assert isinstance(both["text"], Pair) and both["text"].tokens.shape == (4, 4, 3) and both["fps"] == 16
    assert both["text"].mask.dtype == torch.bool and both["text"].mask.sum().item() == 8
    back_cond, back_null = split_batch(both)
    assert torch.equal(back_cond["text"].tokens, cond["text"].tokens)
    assert torch.equal(back_cond["extra"][0], cond["extra"][0]) and torch.equal(back_null["extra"][0], torch.ones(2))
    assert torch.equal(back_null["text"].tokens, torch.zeros(2, 4, 3))
    assert not can_concat(cond, {**null, "fps": 24})
    assert not can_concat(torch.zeros(2, 4), torch.zeros(2, 5))
    assert not can_concat(torch.zeros(2, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError):
        concat_batch(torch.zeros(2, 4), torch.zeros(2, 5))


def test_guided_velocity_with_nonlinear_model():
    def velocity(x, t, cond):
        return torch.tanh(x * cond.view(-1, 1))

    x, t = torch.randn(3, 5), torch.rand(3)
    cond, null = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 0.5, 0.5])
    expected = velocity(x, t, null) + 4.0 * (velocity(x, t, cond) - velocity(x, t, null))
    torch.testing.assert_close(guided_velocity(velocity, x, t, cond, null, 4.0), expected)


def test_registry_round_trip_of_sampler_spec():
    spec = component("sampler", "euler", steps=10, schedule={"type": "linear"})
    solver = spec.build()
    assert isinstance(solver, EulerSolver) and isinstance(solver.schedule, LinearSchedule)
    assert solver.guidance == 7.5 and torch.equal(solver.timesteps(), torch.linspace(0, 1, 11, dtype=torch.float64))
    node = spec.model_dump()
    assert node == {"type": "euler", "steps": 10, "schedule": {"type": "linear", "steps": 50}, "guidance": 7.5,
                    "guidance_interval": None}
    again = component("sampler", node.pop("type"), **node)
    assert again == spec
    default = component("sampler", "midpoint").build()
    assert isinstance(default, MidpointSolver) and isinstance(default.schedule, LinearQuadraticSchedule)
    assert default.steps is None and default.timesteps().shape == (51,)


@pytest.mark.parametrize(
    "params",
    [{"steps": 0}, {"guidance": -1.0}, {"schedule": {"type": "linear-quadratic", "linear_steps": 60}}, {"step": 3}],
)
def test_invalid_sampler_specs_raise_spec_error(params):
    with pytest.raises(SpecError):
        component("sampler", "euler", **params)


def test_take_rows_picks_the_same_rows_of_every_tensor_leaf():
    Pair = namedtuple("Pair", "tokens mask")
    cond = {"text": Pair(torch.arange(12.0).view(3, 4), torch.tensor([True, False, True])), "fps": 16}
    rows = torch.tensor([2, 0])
    picked = take_rows(cond, rows)
    assert isinstance(picked["text"], Pair) and picked["fps"] == 16
    assert torch.equal(picked["text"].tokens, torch.tensor([[8.0, 9, 10, 11], [0, 1, 2, 3]]))
    assert torch.equal(picked["text"].mask, torch.tensor([True, True]))


def _gaussian_velocity(mean: float, std: float):
    """The exact flow-matching velocity for data ~ N(mean, std²) and x_t = t·x1 + (1 − t)·x0."""

    def velocity(x, t, cond):
        t = t.view(-1, *([1] * (x.dim() - 1)))
        variance = t**2 * std**2 + (1 - t) ** 2
        centred = x - t * mean
        return mean + (t * std**2 - (1 - t)) / variance * centred

    return velocity


@pytest.mark.parametrize("eta", [0.5, 1.0])
def test_stochastic_euler_keeps_the_marginals_of_the_flow(eta):
    mean, std = 1.5, 0.4
    noise = _noise((20_000, 1), seed=3)
    solver = StochasticEulerSolver(schedule=LinearSchedule(100), guidance=1.0, eta=eta)
    out = solver.sample(_gaussian_velocity(mean, std), noise, cond=None, generator=torch.Generator().manual_seed(0))
    assert abs(out.mean().item() - mean) < 0.02 and abs(out.std().item() - std) < 0.02
    euler = EulerSolver(schedule=LinearSchedule(100), guidance=1.0).sample(_gaussian_velocity(mean, std), noise, cond=None)
    assert (out - euler).abs().mean() > 0.05  # the fresh noise moves the samples, not their distribution


def test_stochastic_euler_at_eta_zero_is_euler_and_draws_follow_the_generator():
    noise, velocity = _noise(), _gaussian_velocity(0.5, 1.0)
    euler = EulerSolver(schedule=LinearSchedule(8), guidance=1.0).sample(velocity, noise, cond=None)
    still = StochasticEulerSolver(schedule=LinearSchedule(8), guidance=1.0, eta=0.0)
    torch.testing.assert_close(still.sample(velocity, noise, cond=None), euler, rtol=0, atol=1e-12)
    solver = StochasticEulerSolver(schedule=LinearSchedule(8), guidance=1.0, eta=1.0)
    runs = [solver.sample(velocity, noise, cond=None, generator=torch.Generator().manual_seed(seed)) for seed in (0, 0, 1)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
    assert solver.noise_spread(0.0, 0.5) == pytest.approx(0.5)  # from pure noise: all of it fresh
    assert solver.noise_spread(0.9, 1.0) == 0.0  # the last step lands on the data
    assert component("sampler", "stochastic-euler", eta=0.3).build().eta == 0.3
    with pytest.raises(SpecError, match="eta"):
        component("sampler", "stochastic-euler", eta=1.5)
