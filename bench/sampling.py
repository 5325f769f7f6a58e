"""Sampling error of linear-N and linear-quadratic-50 schedules against a 1000-step Euler reference.

For a fixed set of prompts and seeds, every schedule starts from the same noise; the error is the mean
absolute difference of its final latents from the reference's (normalised latent units), and the
time is wall seconds per video. Meaningful on trained weights: pass them with --weights.

    python bench/sampling.py [--model moviegen-video-tiny] [--weights URI] [--reference-steps 1000]

Target (issue acceptance): linear-quadratic-50's error <= linear-100's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import zoo
from zoo.spec.params import component

PROMPTS = ["a red circle moving left", "a small blue square bouncing", "a green triangle moving up on a gray background"]
SCHEDULES = {
    "linear-25": {"type": "linear", "steps": 25},
    "linear-50": {"type": "linear", "steps": 50},
    "linear-100": {"type": "linear", "steps": 100},
    "linear-250": {"type": "linear", "steps": 250},
    "linear-quadratic-50": {"type": "linear-quadratic", "steps": 50, "linear_steps": 25, "emulate": 250},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="moviegen-video-tiny")
    parser.add_argument("--weights", help="weights URI (default: the preset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--reference-steps", type=int, default=1000)
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--json", default="bench/results/sampling.json")
    args = parser.parse_args()
    pipe = zoo.load(args.model, weights=args.weights)

    def run(schedule: dict) -> tuple[torch.Tensor, float]:
        sampler = component("sampler", "euler", schedule=schedule).build()
        outs, start = [], time.perf_counter()
        for seed in args.seeds:
            outs.append(pipe.sample_latents(PROMPTS, sampler=sampler, guidance=args.guidance, seed=seed))
        seconds = (time.perf_counter() - start) / (len(args.seeds) * len(PROMPTS))
        return torch.cat(outs), seconds

    reference, ref_seconds = run({"type": "linear", "steps": args.reference_steps})
    rows = [{"schedule": f"linear-{args.reference_steps} (reference)", "error": 0.0, "seconds_per_video": ref_seconds}]
    for name, schedule in SCHEDULES.items():
        latents, seconds = run(schedule)
        rows.append({"schedule": name, "error": (latents - reference).abs().mean().item(), "seconds_per_video": seconds})
    print(f"{'schedule':<28} {'mean |err|':>11} {'s/video':>9}")
    for row in rows:
        print(f"{row['schedule']:<28} {row['error']:>11.5f} {row['seconds_per_video']:>9.3f}")
    by_name = {r["schedule"]: r["error"] for r in rows}
    verdict = by_name["linear-quadratic-50"] <= by_name["linear-100"]
    print(f"linear-quadratic-50 error <= linear-100 error: {verdict}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": args.model, "weights": args.weights, "prompts": PROMPTS, "seeds": args.seeds,
                               "rows": rows, "lq50_beats_linear100": verdict}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
