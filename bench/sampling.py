"""Sampling error of linear-N and linear-quadratic-50 schedules against a 1000-step Euler reference.

For a fixed set of prompts and seeds, every schedule starts from the same noise; the error is the mean
absolute difference of its final latents from the reference's (normalised latent units), and the
time is wall seconds per video. Meaningful on trained weights: pass them with --weights.

    python bench/sampling.py [--preset moviegen-video-tiny] [--weights URI] [-o KEY=VALUE ...] [--reference-steps 1000]
                             [--schedules linear-25 ...] [--prompts N]

Target (issue acceptance): linear-quadratic-50's error <= linear-100's.

It also measures where the guided velocity changes along the reference path: ``|dv/dt|`` in 20 bins
of t (finite differences 0.016 of the path apart, 16 steps of a 1000-step reference, which smooths the
network's step-to-step jitter).
Euler's error over a grid with steps ``h(t)`` is about ``sum h(t)^2 |dv/dt| / 2``, so the best
``n``-step grid puts steps with density proportional to ``sqrt(|dv/dt|)``; that curvature-adapted
50-step grid is run too. If even it loses to linear-100, no 50-step Euler grid can win on this model.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor

from zoo.flow.schedules import LinearSchedule
from zoo.flow.solvers import EulerSolver
from zoo.spec.params import component

from common import add_model_arguments, bench_parser, load_model, model_fields, write_json

CURVATURE_BINS = 20
CURVATURE_LAG_T = 0.016  # flow time between the two velocities of a finite difference (16 of 1000 steps)
PROMPTS = [
    "a red circle moving left", "a small blue square bouncing", "a green triangle moving up on a gray background",
]
SCHEDULES = {
    "linear-25": {"type": "linear", "steps": 25},
    "linear-50": {"type": "linear", "steps": 50},
    "linear-100": {"type": "linear", "steps": 100},
    "linear-250": {"type": "linear", "steps": 250},
    "linear-quadratic-50": {"type": "linear-quadratic", "steps": 50, "linear_steps": 25, "emulate": 250},
}


class FixedGrid:
    """A schedule with explicit times ``(steps + 1,)`` from 0 to 1 (the curvature-adapted grid)."""

    def __init__(self, times: Tensor):
        self.times, self.steps = times.to(torch.float64), len(times) - 1

    def timesteps(self) -> Tensor:
        return self.times

    def with_steps(self, steps: int) -> FixedGrid:
        if steps != self.steps:
            raise ValueError(f"this grid has {self.steps} steps, not {steps}")
        return self


class VelocityRecorder(EulerSolver):
    """Euler that keeps the guided velocity of every step, per run (for the reference path)."""

    def __init__(self, schedule: LinearSchedule, guidance: float, guidance_interval: tuple[float, float] | None):
        super().__init__(schedule, guidance=guidance, guidance_interval=guidance_interval)
        self.runs: list[list[Tensor]] = []

    def sample(self, *args, **kwargs) -> Tensor:
        self.runs.append([])
        return super().sample(*args, **kwargs)

    def step(self, velocity, x: Tensor, t0: float, t1: float, draw=None) -> Tensor:
        v = velocity(x, t0)
        self.runs[-1].append(v.clone())
        return x + (t1 - t0) * v

    def velocities(self) -> Tensor:
        """``(n, B_total, ...)``: every run's velocities, runs joined along the batch."""
        return torch.cat([torch.stack(run) for run in self.runs], dim=1)


def curvature_lag(steps: int) -> int:
    """Reference steps between the two velocities of a finite difference: ``CURVATURE_LAG_T`` of the path."""
    return max(1, round(steps * CURVATURE_LAG_T))


def curvature_profile(velocity: Tensor, bins: int = CURVATURE_BINS) -> Tensor:
    """Mean ``|dv/dt|`` per t-bin ``(bins,)`` from the velocities ``(n, B, ...)`` of an n-step linear grid."""
    n = velocity.shape[0]
    lag = curvature_lag(n)
    change = (velocity[lag:] - velocity[:-lag]).flatten(1).abs().mean(1) * n / lag  # (n - lag,)
    starts = torch.arange(n - lag, dtype=torch.float64) / n
    in_bin = [(starts >= b / bins) & (starts < (b + 1) / bins) for b in range(bins)]
    if not all(mask.any() for mask in in_bin):
        raise SystemExit(f"error: a {n}-step reference leaves some of the {bins} curvature bins empty; "
                         f"use --reference-steps {2 * bins} or more")
    return torch.stack([change[mask].mean() for mask in in_bin])


def adapted_grid(profile: Tensor, steps: int) -> Tensor:
    """``(steps + 1,)`` times with density ``sqrt(profile)``, piecewise linear within the bins."""
    bins = len(profile)
    mass = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(profile.double().sqrt(), 0)])
    targets = torch.linspace(0, 1, steps + 1, dtype=torch.float64) * mass[-1]
    index = torch.searchsorted(mass, targets, right=True).clamp(1, bins) - 1
    frac = (targets - mass[index]) / (mass[index + 1] - mass[index])
    times = (index + frac) / bins
    times[0], times[-1] = 0.0, 1.0
    return times


def euler_error_estimate(profile: Tensor, times: Tensor) -> float:
    """``sum h^2 |dv/dt|(t) / 2`` over a grid: the local errors' size, for comparing grids."""
    h = times[1:] - times[:-1]
    bins = ((times[:-1] * len(profile)).long()).clamp(max=len(profile) - 1)
    return float((h**2 * profile.double()[bins]).sum() / 2)


def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser, preset_help="A text-to-video preset.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--reference-steps", type=int, default=1000)
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--schedules", nargs="+", choices=list(SCHEDULES), default=list(SCHEDULES),
                        help="The grids to compare (default: all); the curvature-adapted one always runs.")
    parser.add_argument("--prompts", type=int, default=len(PROMPTS), help="The first N of the fixed prompts.")
    parser.add_argument("--json", default="bench/results/sampling.json")
    args = parser.parse_args()
    if not 1 <= args.prompts <= len(PROMPTS):
        parser.error(f"--prompts must be 1 to {len(PROMPTS)}, got {args.prompts}")
    prompts = PROMPTS[: args.prompts]
    pipe = load_model(args)
    guidance = pipe.sampler.guidance if args.guidance is None else args.guidance
    interval = pipe.sampler.guidance_interval  # the preset's, for the reference and every grid alike

    def run(sampler: EulerSolver) -> tuple[Tensor, float]:
        outs, start = [], time.perf_counter()
        for seed in args.seeds:
            outs.append(pipe.sample_latents(prompts, sampler=sampler, seed=seed))
        seconds = (time.perf_counter() - start) / (len(args.seeds) * len(prompts))
        return torch.cat(outs), seconds

    def euler(schedule: dict) -> EulerSolver:
        return component("sampler", "euler", schedule=schedule).build()

    recorder = VelocityRecorder(LinearSchedule(args.reference_steps), guidance, interval)
    reference, ref_seconds = run(recorder)
    profile = curvature_profile(recorder.velocities())
    grids = {name: euler(SCHEDULES[name]).timesteps() for name in args.schedules}
    grids["curvature-adapted-50"] = adapted_grid(profile, 50)
    rows = [{"schedule": f"linear-{args.reference_steps} (reference)", "error": 0.0, "seconds_per_video": ref_seconds}]
    for name, times in grids.items():
        latents, seconds = run(EulerSolver(FixedGrid(times), guidance=guidance, guidance_interval=interval))
        rows.append({"schedule": name, "error": (latents - reference).abs().mean().item(), "seconds_per_video": seconds,
                     "estimate": euler_error_estimate(profile, times)})
    print(f"{'schedule':<28} {'mean |err|':>11} {'estimate':>9} {'s/video':>9}")
    for row in rows:
        estimate = f"{row['estimate']:.4f}" if "estimate" in row else ""
        print(f"{row['schedule']:<28} {row['error']:>11.5f} {estimate:>9} {row['seconds_per_video']:>9.3f}")
    print("\n|dv/dt| along the reference path, per t-bin:")
    for b, value in enumerate(profile.tolist()):
        print(f"  t {b / len(profile):.2f}-{(b + 1) / len(profile):.2f}  {value:8.3f}")
    by_name = {r["schedule"]: r["error"] for r in rows}
    verdict = None  # the target's two grids, when both ran
    if {"linear-quadratic-50", "linear-100"} <= by_name.keys():
        verdict = by_name["linear-quadratic-50"] <= by_name["linear-100"]
        print(f"linear-quadratic-50 error <= linear-100 error: {verdict}")
    write_json(args.json, {**model_fields(args),
                           "prompts": prompts, "seeds": args.seeds, "guidance": guidance, "guidance_interval": interval,
                           "rows": rows, "lq50_beats_linear100": verdict,
                           "curvature": {"bins": CURVATURE_BINS, "lag": curvature_lag(args.reference_steps),
                                         "dv_dt": profile.tolist()},
                           "curvature_adapted_50_times": grids["curvature-adapted-50"].tolist()})


if __name__ == "__main__":
    main()
