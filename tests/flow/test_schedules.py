"""Linear and linear-quadratic t-schedules (zoo/flow/schedules.py)."""

import pytest
import torch

import zoo.flow.schedules  # noqa: F401 - registers the schedule entries
from zoo.errors import SpecError
from zoo.flow.schedules import LinearQuadraticSchedule, LinearSchedule
from zoo.spec.params import component


def _one_sided_slopes(t: torch.Tensor, join: int) -> tuple[float, float]:
    """Slope just left of ``join`` (backward difference) and just right of it (exact for a quadratic)."""
    left = (t[join] - t[join - 1]).item()
    right = ((-3 * t[join] + 4 * t[join + 1] - t[join + 2]) / 2).item()
    return left, right


def test_linear_schedule_equals_linspace():
    t = LinearSchedule(7).timesteps()
    assert t.dtype == torch.float64
    assert torch.equal(t, torch.linspace(0, 1, 8, dtype=torch.float64))
    three = LinearSchedule(7).with_steps(3).timesteps()
    torch.testing.assert_close(three, torch.tensor([0.0, 1 / 3, 2 / 3, 1.0], dtype=torch.float64), rtol=0, atol=1e-15)


def test_linear_quadratic_default_has_51_increasing_times_from_0_to_1():
    t = LinearQuadraticSchedule().timesteps()
    assert t.shape == (51,) and t.dtype == torch.float64
    assert t[0].item() == 0.0 and t[-1].item() == 1.0
    assert bool((t.diff() > 0).all())


def test_linear_quadratic_first_25_steps_copy_a_250_step_linear_schedule():
    t = LinearQuadraticSchedule(steps=50, linear_steps=25, emulate=250).timesteps()
    reference = torch.linspace(0, 1, 251, dtype=torch.float64)[:26]
    assert (t[:26] - reference).abs().max().item() < 1e-12
    assert abs(t[25].item() - 0.1) < 1e-15  # tau = 25 / 250
    assert not torch.allclose(t[26:], torch.linspace(0, 1, 251, dtype=torch.float64)[26:51])


def test_linear_quadratic_slope_is_continuous_at_the_join():
    t = LinearQuadraticSchedule().timesteps()
    left, right = _one_sided_slopes(t, 25)
    assert abs(left - 1 / 250) < 1e-15
    assert abs(right - left) < 1e-12
    # the quadratic part accelerates: steps grow after the join, with a constant second difference
    second = t[25:].diff().diff()
    assert bool((second > 0).all()) and (second.max() - second.min()).item() < 1e-12


def test_linear_quadratic_matches_closed_form_of_facts_sheet():
    # moviegen-facts §2 (D1): L = 25, Q = 25, tau = 0.1, d = L - tau * steps = 20
    L, Q, tau, d = 25, 25, 0.1, 20.0
    a, b = d / (L * Q**2), tau / L - 2 * d / Q**2
    t = LinearQuadraticSchedule().timesteps()
    for i in (26, 30, 40, 49):
        assert abs(t[i].item() - (a * i * i + b * i + a * L * L)) < 1e-12


@pytest.mark.parametrize("steps,linear_steps,emulate", [(10, 3, 40), (8, 4, 8), (100, 50, 1000), (5, 1, 3)])
def test_linear_quadratic_other_settings_stay_valid(steps, linear_steps, emulate):
    t = LinearQuadraticSchedule(steps, linear_steps, emulate).timesteps()
    assert t.shape == (steps + 1,) and t[0].item() == 0.0 and t[-1].item() == 1.0
    assert bool((t.diff() > 0).all())
    linear_part = torch.arange(linear_steps + 1, dtype=torch.float64) / emulate
    assert (t[: linear_steps + 1] - linear_part).abs().max() < 1e-12
    left, right = _one_sided_slopes(t, linear_steps)
    assert abs(right - left) < 1e-9


def test_with_steps_keeps_the_linear_fraction_and_tau():
    schedule = LinearQuadraticSchedule()
    assert schedule.with_steps(50) is schedule
    longer = schedule.with_steps(100)
    assert (longer.steps, longer.linear_steps) == (100, 50) and abs(longer.tau - 0.1) < 1e-15
    t = longer.timesteps()
    assert t.shape == (101,) and abs(t[50].item() - 0.1) < 1e-12 and bool((t.diff() > 0).all())
    assert schedule.with_steps(3).timesteps().shape == (4,)
    with pytest.raises(ValueError):
        schedule.with_steps(1)


def test_registry_builds_schedules():
    built = component("schedule", "linear-quadratic").build()
    assert (built.steps, built.linear_steps, built.emulate) == (50, 25, 250)
    linear = component("schedule", "linear", steps=4).build()
    assert torch.equal(linear.timesteps(), torch.linspace(0, 1, 5, dtype=torch.float64))


@pytest.mark.parametrize(
    "params",
    [
        {"linear_steps": 50},  # not below steps
        {"steps": 10, "linear_steps": 12},
        {"emulate": 25},  # linear_steps not below emulate
        {"steps": 50, "linear_steps": 2, "emulate": 3},  # tau close to 1 with few linear steps: decreasing
        {"steps": 1},
        {"warmup": 3},
    ],
)
def test_invalid_linear_quadratic_specs_raise_spec_error(params):
    with pytest.raises(SpecError):
        component("schedule", "linear-quadratic", **params)


def test_invalid_schedule_constructor_raises_value_error():
    with pytest.raises(ValueError):
        LinearQuadraticSchedule(steps=50, linear_steps=2, emulate=3)
    with pytest.raises(ValueError):
        LinearSchedule(0)
