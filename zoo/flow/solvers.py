"""Solvers that integrate a learned velocity from noise (t = 0) to data (t = 1), with CFG.

Movie Gen samples with first-order Euler, 50 steps of the linear-quadratic t-schedule and
classifier-free guidance 7.5 (Movie Gen paper §2, §3.4.2). The midpoint rule is the second-order
alternative, and the stochastic Euler sampler re-draws part of the noise at every step (an SDE with
the same marginals as the ODE; ``eta = 0`` is Euler).

``velocity_fn(x, t, cond) -> v``: ``x`` is the latent ``(B, ...)`` (e.g. ``(B, C, T, H, W)``), ``t``
the ``(B,)`` flow times, ``cond`` the conditioning; ``v`` has the shape of ``x``. Solvers run under
the caller's grad mode; wrap them in ``torch.inference_mode()`` for generation.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from pydantic import Field, field_validator
from torch import Tensor
from tqdm.auto import tqdm

from zoo.flow.guidance import guided_velocity
from zoo.flow.noise import GaussianNoise
from zoo.flow.schedules import LinearQuadraticSchedule, Schedule
from zoo.registry import register
from zoo.spec.params import Params, Slot, component

VelocityFn = Callable[[Tensor, Tensor, Any], Tensor]
StepCallback = Callable[[int, float, Tensor], Any]
NoiseDraw = Callable[[Tensor], Tensor]  # fresh noise of the prior, shaped and typed like its argument


class SolverParams(Params):
    steps: int | None = Field(
        None, ge=1, description="Number of ODE steps; None uses the schedule's own (Movie Gen paper §2: 50)."
    )
    schedule: Slot("schedule") = Field(
        default_factory=lambda: component("schedule", "linear-quadratic"),
        description="Time grid from 0 (noise) to 1 (data) (Movie Gen paper §2: linear-quadratic).",
    )
    guidance: float = Field(
        7.5, ge=0.0, description="Classifier-free guidance scale; 1 disables guidance (Movie Gen paper §2: 7.5)."
    )
    guidance_interval: tuple[float, float] | None = Field(
        None,
        description="Flow times [start, end) at which guidance applies; elsewhere one conditional pass. "
        "None: every step.",
    )

    @field_validator("guidance_interval")
    @classmethod
    def _interval_ordered(cls, interval: tuple[float, float] | None) -> tuple[float, float] | None:
        if interval is not None and not 0.0 <= interval[0] < interval[1] <= 1.0:
            raise ValueError(f"guidance_interval must satisfy 0 <= start < end <= 1, got {list(interval)}")
        return interval


class FlowSolver:
    """Shared loop of the fixed-grid solvers; subclasses define one step of the ODE."""

    name = "solver"

    def __init__(
        self,
        schedule: Schedule | None = None,
        steps: int | None = None,
        guidance: float = 7.5,  # §2
        guidance_interval: tuple[float, float] | None = None,
    ):
        self.schedule = schedule if schedule is not None else LinearQuadraticSchedule()
        self.steps = steps
        self.guidance = guidance
        self.guidance_interval = guidance_interval

    def guidance_at(self, t: float, scale: float) -> float:
        """The guidance scale at flow time ``t``: ``scale`` inside ``guidance_interval`` (or everywhere), else 1."""
        if self.guidance_interval is None:
            return scale
        start, end = self.guidance_interval
        return scale if start <= t < end else 1.0

    def timesteps(self, steps: int | None = None) -> Tensor:
        """``(n + 1,)`` float64 times from 0 to 1 for ``n = steps``, else this solver's or the schedule's."""
        steps = steps if steps is not None else self.steps
        schedule = self.schedule.with_steps(steps) if steps is not None else self.schedule
        return schedule.timesteps()

    def step(
        self,
        velocity: Callable[[Tensor, float], Tensor],
        x: Tensor,
        t0: float,
        t1: float,
        draw: NoiseDraw | None = None,
    ) -> Tensor:
        """Advance ``x`` from ``t0`` to ``t1``, given the (guided) velocity ``velocity(x, t)``.

        ``draw(x)`` gives stochastic solvers fresh noise like ``x``; deterministic ones ignore it.
        """
        raise NotImplementedError

    def sample(
        self,
        velocity_fn: VelocityFn,
        noise: Tensor,
        *,
        cond: Any,
        null_cond: Any | None = None,
        guidance: float | None = None,
        steps: int | None = None,
        progress: bool = False,
        callback: StepCallback | None = None,
        generator: torch.Generator | None = None,
        noise_prior: GaussianNoise | None = None,
    ) -> Tensor:
        """Integrate from ``noise`` ``(B, ...)`` at t = 0 to a sample at t = 1, same shape and dtype.

        ``guidance`` (default: this solver's) combines conditional and unconditional velocities as
        ``v_u + g·(v_c − v_u)`` when ``null_cond`` is given and ``g != 1``; both passes share one
        ``2B`` batch when ``cond`` and ``null_cond`` are tensors or matching tuples/dicts of tensors.
        With a ``guidance_interval``, velocity calls at times outside it use the conditional velocity alone.
        ``callback(i, t, x)`` runs after step ``i`` with the new time and latent. A stochastic solver
        draws its fresh noise from ``noise_prior`` (default: N(0, I)), the prior that ``noise`` came
        from, with ``generator`` (e.g. the one that drew ``noise``), so its draws are reproducible.
        """
        scale = self.guidance if guidance is None else guidance
        times = self.timesteps(steps).tolist()
        t_dtype = torch.promote_types(noise.dtype, torch.float32)  # bf16 cannot resolve steps of 0.004

        def velocity(x: Tensor, t: float) -> Tensor:
            t_batch = torch.full((x.shape[0],), t, dtype=t_dtype, device=x.device)
            return guided_velocity(velocity_fn, x, t_batch, cond, null_cond, self.guidance_at(t, scale))

        prior = noise_prior if noise_prior is not None else GaussianNoise()

        def draw(like: Tensor) -> Tensor:
            return prior.sample(like.shape, generator=generator, device=like.device).to(like.dtype)

        x = noise
        for i in tqdm(range(len(times) - 1), desc=f"{self.name} sampling", disable=not progress):
            x = self.step(velocity, x, times[i], times[i + 1], draw)
            if callback is not None:
                callback(i, times[i + 1], x)
        return x

    def __repr__(self) -> str:
        interval = "" if self.guidance_interval is None else f", guidance_interval={list(self.guidance_interval)}"
        settings = f"schedule={self.schedule!r}, steps={self.steps}, guidance={self.guidance}{interval}"
        return f"{type(self).__name__}({settings})"


class EulerSolver(FlowSolver):
    """First-order Euler: ``x ← x + (t1 − t0)·v(x, t0)``; one velocity call per step (Movie Gen's choice)."""

    name = "euler"

    def step(self, velocity: Callable[[Tensor, float], Tensor], x: Tensor, t0: float, t1: float,
             draw: NoiseDraw | None = None) -> Tensor:
        return x + (t1 - t0) * velocity(x, t0)


class MidpointSolver(FlowSolver):
    """Second-order explicit midpoint: a half Euler step, then a full step with the midpoint velocity."""

    name = "midpoint"

    def step(self, velocity: Callable[[Tensor, float], Tensor], x: Tensor, t0: float, t1: float,
             draw: NoiseDraw | None = None) -> Tensor:
        half = (t1 - t0) / 2
        x_mid = x + half * velocity(x, t0)
        return x + (t1 - t0) * velocity(x_mid, t0 + half)


class StochasticEulerSolver(FlowSolver):
    """Euler steps that re-draw a share ``eta`` of the noise: the flow's SDE, with the ODE's marginals.

    From the velocity at ``(x, t0)`` come the predicted data ``x̂1 = x + (1 − t0)·v`` and noise
    ``x̂0 = x − t0·v``; the step lands on ``x = t1·x̂1 + √((1 − t1)² − s²)·x̂0 + s·z`` with fresh
    ``z`` from the noise prior (N(0, I) unless the flow correlates frames) and
    ``s = eta·(1 − t1)·√(1 − (σ1/σ0)²)``, ``σ = (1 − t)/t``: the posterior spread of ancestral
    sampling (DDPM) at ``eta = 1``, plain Euler (DDIM) at ``eta = 0``. Fresh noise lets
    later steps correct what earlier ones decided; one velocity call per step, as Euler.
    """

    name = "stochastic-euler"

    def __init__(self, *args: Any, eta: float = 1.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.eta = eta

    def step(self, velocity: Callable[[Tensor, float], Tensor], x: Tensor, t0: float, t1: float,
             draw: NoiseDraw | None = None) -> Tensor:
        v = velocity(x, t0)
        data, noise = x + (1 - t0) * v, x - t0 * v
        spread = self.noise_spread(t0, t1)
        if spread == 0.0:
            return t1 * data + (1 - t1) * noise
        fresh = draw(x) if draw is not None else torch.randn_like(x)
        kept = max((1 - t1) ** 2 - spread**2, 0.0) ** 0.5
        return t1 * data + kept * noise + spread * fresh

    def noise_spread(self, t0: float, t1: float) -> float:
        """``s``, the standard deviation of the fresh noise that the step from ``t0`` to ``t1`` adds."""
        if self.eta == 0.0 or t1 >= 1.0:
            return 0.0
        ratio = 0.0 if t0 <= 0.0 else (1 - t1) * t0 / (t1 * (1 - t0))  # σ1 / σ0
        return self.eta * (1 - t1) * max(1.0 - ratio**2, 0.0) ** 0.5

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, eta={self.eta})"


class StochasticSolverParams(SolverParams):
    eta: float = Field(
        1.0, ge=0.0, le=1.0,
        description="Share of the posterior noise re-drawn at each step: 1 = ancestral sampling, 0 = Euler.",
    )


def _settings(p: SolverParams) -> dict[str, Any]:
    """A solver's constructor arguments from its spec node."""
    return {"schedule": p.schedule.build(), "steps": p.steps, "guidance": p.guidance,
            "guidance_interval": p.guidance_interval}


@register("sampler", "euler", params=SolverParams, description="First-order Euler ODE solver with CFG (Movie Gen).")
def build_euler(p: SolverParams) -> EulerSolver:
    return EulerSolver(**_settings(p))


@register("sampler", "midpoint", params=SolverParams, description="Second-order midpoint ODE solver with CFG.")
def build_midpoint(p: SolverParams) -> MidpointSolver:
    return MidpointSolver(**_settings(p))


@register(
    "sampler",
    "stochastic-euler",
    params=StochasticSolverParams,
    description="Euler steps that re-draw part of the noise (the flow's SDE), with CFG.",
)
def build_stochastic_euler(p: StochasticSolverParams) -> StochasticEulerSolver:
    return StochasticEulerSolver(**_settings(p), eta=p.eta)
