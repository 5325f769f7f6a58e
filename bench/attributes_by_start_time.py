"""Where along the flow a model loses an attribute: sample from ground-truth latents noised to a start time.

Held-out one-object clips (the training world's ``entry_band``) are encoded by the model's TAE; each
latent ``x1`` is mixed with fixed noise to the flow's ``x_t0 = t0·x1 + (1 − t0)·x0`` and integrated
from ``t0`` to 1 with Euler steps and the clip's caption, then decoded and read back by the analytic
readout. ``t0 = 0`` is ordinary generation, ``t0 = 1`` the TAE reconstruction (the ceiling). A model
that keeps an attribute once the data shows it scores near the ceiling from small ``t0``; where the
accuracy falls between two start times is where the model's denoising replaces the attribute.

    python bench/attributes_by_start_time.py [--preset moviegen-video-tiny] [--weights PATH] [-o KEY=VALUE ...]
                                             [--count 48] [--guidance G] [--steps-per-unit 50] [--json out.json]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from zoo.data.shapes_world import sample
from zoo.data.shapes_world.bench import BENCH_SEED, heldout_prompts
from zoo.data.shapes_world.readout import score
from zoo.flow.guidance import guided_velocity
from zoo.io.video import frames_to_video
from zoo.pipelines.steps import backbone_velocity

from common import add_model_arguments, bench_parser, load_model, model_fields, write_json

ATTRIBUTES = ("colour", "shape", "size", "motion", "camera")
STARTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
STEPS_PER_UNIT = 50
"""Euler steps for the whole of [0, 1]; a start at ``t0`` takes ``(1 − t0)`` of them (at least 2)."""


def integrate(velocity, x: torch.Tensor, t0: float, cond, null, guidance: Callable[[float], float],
              steps_per_unit: int = STEPS_PER_UNIT) -> torch.Tensor:
    """Euler on a linear grid from ``t0`` to 1: latents ``(B, C, T, H, W)`` at t0 -> samples at t = 1.

    ``guidance(t)`` is the scale at flow time ``t`` (the preset sampler's ``guidance_at``, which honours
    its ``guidance_interval``).
    """
    steps = max(2, round(steps_per_unit * (1 - t0)))
    times = torch.linspace(t0, 1, steps + 1, dtype=torch.float64).tolist()
    for t, t_next in zip(times[:-1], times[1:]):
        t_batch = torch.full((x.shape[0],), t, dtype=torch.float32)
        x = x + (t_next - t) * guided_velocity(velocity, x, t_batch, cond, null, guidance(t))
    return x


def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser, preset_help="A text-to-video preset.")
    parser.add_argument("--count", type=int, default=48, help="Held-out clips (the first shapes-bench prompts).")
    parser.add_argument("--guidance", type=float, default=None, help="Guidance scale (default: the preset's).")
    parser.add_argument("--entry-band", type=float, default=0.2, help="The world's entry_band (the training data's).")
    parser.add_argument("--steps-per-unit", type=int, default=STEPS_PER_UNIT,
                        help="Euler steps for the whole of [0, 1].")
    parser.add_argument("--json", type=Path, default=Path("bench/results/attributes_by_start_time.json"))
    args = parser.parse_args()

    pipe = load_model(args)
    guidance = pipe.sampler.guidance if args.guidance is None else args.guidance
    tae, backbone, conditioner = pipe.autoencoder.eval(), pipe.backbone.eval(), pipe.conditioner.eval()
    prompts = heldout_prompts(args.count)
    frames = pipe.spec.pipeline.params.frames
    fps = float(pipe.spec.pipeline.params.fps)
    rows, start = [], time.perf_counter()
    with torch.inference_mode():
        clips = [sample(i, "heldout", BENCH_SEED, max_objects=1, entry_band=args.entry_band).frames
                 for i in range(args.count)]
        x1 = tae.normalize(tae.encode(torch.stack([frames_to_video(c) for c in clips])).mean)
        noise = pipe.flow.noise.sample(x1.shape, generator=torch.Generator().manual_seed(0))  # the model's prior
        cond = conditioner([p.prompt for p in prompts], fps=fps)
        null = conditioner.null_conditioning(args.count, fps=fps)
        for t0 in STARTS:
            x = t0 * x1 + (1 - t0) * noise
            if t0 < 1:
                x = integrate(backbone_velocity(backbone), x, t0, cond, null,
                              lambda t: pipe.sampler.guidance_at(t, guidance), args.steps_per_unit)
            video = tae.decode(tae.denormalize(x), frames=frames).clamp(-1, 1)
            scores = [score(video[i], p.attributes) for i, p in enumerate(prompts)]
            rows.append({"start": t0, **{a: float(np.mean([s[a] for s in scores if a in s])) for a in ATTRIBUTES}})
    seconds = time.perf_counter() - start

    print(f"{'start t0':>9}" + "".join(f"{a:>9}" for a in ATTRIBUTES))
    for row in rows:
        label = f"{row['start']:.1f}" + (" (TAE)" if row["start"] == 1 else "")
        print(f"{label:>9}" + "".join(f"{row[a]:>9.2f}" for a in ATTRIBUTES))
    print(f"{args.count} clips x {len(STARTS)} starts in {seconds:.1f} s")
    result = {**model_fields(args), "count": args.count,
              "guidance": guidance, "entry_band": args.entry_band, "steps_per_unit": args.steps_per_unit,
              "seconds": seconds, "rows": rows}
    write_json(args.json, result)


if __name__ == "__main__":
    main()
