"""Inference time grids for the flow ODE: linear and Movie Gen's linear-quadratic t-schedule.

Movie Gen convention: ``t = 0`` is noise, ``t = 1`` is data. A schedule of ``steps`` steps gives
``timesteps()``, a float64 ``(steps + 1,)`` tensor increasing from exactly 0 to exactly 1. A solver
may ask for another step count with ``with_steps(n)``.
"""

from __future__ import annotations

from typing import Protocol

import torch
from pydantic import Field, model_validator
from torch import Tensor

from zoo.registry import register
from zoo.spec.params import Params


class Schedule(Protocol):
    """A time grid of ``steps`` ODE steps over [0, 1]."""

    steps: int

    def timesteps(self) -> Tensor: ...

    def with_steps(self, steps: int) -> Schedule: ...


# -- linear ---------------------------------------------------------------------------------------


class LinearParams(Params):
    steps: int = Field(50, ge=1, description="Number of ODE steps (Movie Gen paper §2 samples with 50).")


class LinearSchedule:
    """``steps`` equal steps: ``t_i = i / steps``."""

    def __init__(self, steps: int = 50):
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        self.steps = steps

    def timesteps(self) -> Tensor:
        """``(steps + 1,)`` float64, ``linspace(0, 1, steps + 1)``."""
        return torch.linspace(0.0, 1.0, self.steps + 1, dtype=torch.float64)

    def with_steps(self, steps: int) -> LinearSchedule:
        return LinearSchedule(steps)

    def __repr__(self) -> str:
        return f"LinearSchedule(steps={self.steps})"


@register("schedule", "linear", params=LinearParams, description="Evenly spaced times from 0 (noise) to 1 (data).")
def build_linear(p: LinearParams) -> LinearSchedule:
    return LinearSchedule(p.steps)


# -- linear-quadratic -----------------------------------------------------------------------------
# Movie Gen paper §3.4.2 (moviegen-facts §2): the first 25 of 50 steps copy the first 25 steps of a
# 250-step linear schedule; the remaining steps are placed quadratically. The quadratic itself is
# UNCONFIRMED; we use the closed form of moviegen-facts §2 (source D1, Genmo's Mochi schedule), with
# tau = linear_steps / emulate the time reached by the linear part:
#   L = linear_steps, Q = steps − L, d = L − tau·steps
#   f(i) = i·tau/L                     for i ≤ L
#   f(i) = a·i² + b·i + c              for i ≥ L, a = d/(L·Q²), b = tau/L − 2d/Q², c = a·L²
# pinned by f(L) = tau, f′(L) = tau/L (a continuous slope at the join) and f(steps) = 1.


def check_linear_quadratic(steps: int, linear_steps: int, emulate: float) -> None:
    """Raise ValueError unless the linear-quadratic schedule is well defined and increasing."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    if not 1 <= linear_steps < steps:
        raise ValueError(f"linear_steps must be in [1, steps) = [1, {steps}), got {linear_steps}")
    if not linear_steps < emulate:
        raise ValueError(f"linear_steps ({linear_steps}) must be below emulate ({emulate})")
    tau = linear_steps / emulate
    d = linear_steps - tau * steps
    # f′ is linear in i and f′(L) = tau/L > 0, so f increases iff f′(steps) = (2d/Q + tau)/L > 0.
    if 2 * d / (steps - linear_steps) + tau <= 0:
        raise ValueError(
            f"steps={steps}, linear_steps={linear_steps}, emulate={emulate} give a decreasing quadratic part; "
            "raise linear_steps or emulate"
        )


class LinearQuadraticParams(Params):
    steps: int = Field(50, ge=2, description="Total number of ODE steps (Movie Gen paper §2: 50).")
    linear_steps: int = Field(
        25, ge=1, description="Leading steps copied from an `emulate`-step linear schedule (Movie Gen paper §2: 25)."
    )
    emulate: int = Field(
        250,
        ge=2,
        description="Step count of the linear schedule being emulated (Movie Gen paper §3.4.2: 250, UNCONFIRMED).",
    )

    @model_validator(mode="after")
    def _well_defined(self) -> LinearQuadraticParams:
        check_linear_quadratic(self.steps, self.linear_steps, self.emulate)
        return self


class LinearQuadraticSchedule:
    """Movie Gen's linear-quadratic t-schedule: ``linear_steps`` fine linear steps, then quadratic ones."""

    def __init__(self, steps: int = 50, linear_steps: int = 25, emulate: float = 250):  # Movie Gen paper §2
        check_linear_quadratic(steps, linear_steps, emulate)
        self.steps = steps
        self.linear_steps = linear_steps
        self.emulate = emulate

    @property
    def tau(self) -> float:
        """Time reached at the end of the linear part, ``linear_steps / emulate``."""
        return self.linear_steps / self.emulate

    def timesteps(self) -> Tensor:
        """``(steps + 1,)`` float64 times; ``t[:linear_steps + 1] == arange(linear_steps + 1) / emulate``."""
        L, Q, tau = self.linear_steps, self.steps - self.linear_steps, self.tau
        d = L - tau * self.steps
        a = d / (L * Q**2)
        b = tau / L - 2 * d / Q**2
        c = a * L**2
        i = torch.arange(self.steps + 1, dtype=torch.float64)
        t = torch.where(i <= L, i / self.emulate, (a * i + b) * i + c)
        t[-1] = 1.0  # exact end point; the formula gives 1 up to rounding
        return t

    def with_steps(self, steps: int) -> LinearQuadraticSchedule:
        """The same shape at another step count: keeps the linear fraction of the steps and ``tau``."""
        if steps == self.steps:
            return self
        if steps < 2:
            raise ValueError(f"the linear-quadratic schedule needs at least 2 steps, got {steps}")
        linear_steps = min(steps - 1, max(1, round(steps * self.linear_steps / self.steps)))
        return LinearQuadraticSchedule(steps, linear_steps, linear_steps / self.tau)

    def __repr__(self) -> str:
        return (
            f"LinearQuadraticSchedule(steps={self.steps}, linear_steps={self.linear_steps}, emulate={self.emulate})"
        )


@register(
    "schedule",
    "linear-quadratic",
    params=LinearQuadraticParams,
    description="Movie Gen t-schedule: first steps of a long linear schedule, then quadratic steps to t = 1.",
)
def build_linear_quadratic(p: LinearQuadraticParams) -> LinearQuadraticSchedule:
    return LinearQuadraticSchedule(p.steps, p.linear_steps, p.emulate)
