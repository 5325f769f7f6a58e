"""Autoguidance on shapes-bench: a text-to-video model steered away from a weaker model, by guide scale.

Generates the benchmark's one-object held-out prompts with the model alone (scale 1) and with
``guide=`` a weaker model over the same latent space at each scale (the pipeline's ``guide_scale``:
the conditional velocity becomes ``v_g + s·(v_c − v_g)`` before classifier-free guidance), reads each
clip back and prints the per-attribute accuracy with the seconds per clip.

    python bench/autoguidance.py --guide-weights PATH [-g KEY=VALUE ...] [--preset moviegen-video-tiny]
                                 [--weights PATH] [--scales 1,1.2,1.4,1.8] [--count 64] [--seeds 0,1] [--steps N]
                                 [--json out.json]
"""

from __future__ import annotations

import time
from pathlib import Path

import zoo
from zoo.data.shapes_world import sample
from zoo.data.shapes_world.bench import BENCH_SEED
from zoo.metrics.attribute_accuracy import AttributeAccuracy

from common import add_model_arguments, bench_parser, load_model, model_fields, write_json

ATTRIBUTES = ("colour", "shape", "size", "motion", "speed", "camera", "count", "all")


def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser)
    parser.add_argument("--guide-weights", required=True, help="Weights URI of the guide (the weaker model).")
    parser.add_argument("-g", "--guide-override", action="append", default=[],
                        help="Spec override KEY=VALUE of the guide (e.g. components.backbone.layers=4).")
    parser.add_argument("--scales", default="1,1.2,1.4,1.8", help="Comma-separated guide scales; 1 is no guide.")
    parser.add_argument("--count", type=int, default=64, help="Prompts.")
    parser.add_argument("--seeds", default="0,1", help="Comma-separated sampling seeds.")
    parser.add_argument("--steps", type=int, default=None, help="Sampling steps; default: the preset's.")
    parser.add_argument("--json", type=Path, default=Path("bench/results/autoguidance.json"))
    args = parser.parse_args()

    pipe = load_model(args)
    guide = zoo.load(args.preset, overrides=args.guide_override, weights=args.guide_weights)
    items = [sample(i, "heldout", BENCH_SEED, frames=16, height=64, width=64, max_objects=1) for i in range(args.count)]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    print(f"{'scale':>6}" + "".join(f"{name:>8}" for name in ATTRIBUTES) + f"{'s/clip':>8}")
    for scale in (float(s) for s in args.scales.split(",")):
        accuracy = AttributeAccuracy()
        start = time.perf_counter()
        for seed in seeds:
            for first in range(0, len(items), 16):
                batch = items[first : first + 16]
                out = pipe([item.caption for item in batch], steps=args.steps, seed=seed, guide=guide,
                           guide_scale=scale)
                accuracy.update(out.video, [item.attributes for item in batch])
        values = accuracy.compute()
        row = {"scale": scale, **{name: values[name] for name in ATTRIBUTES},
               "seconds_per_clip": (time.perf_counter() - start) / (len(items) * len(seeds))}
        rows.append(row)
        print(f"{scale:>6.2f}" + "".join(f"{row[name]:>8.3f}" for name in ATTRIBUTES) + f"{row['seconds_per_clip']:>8.2f}")
    result = {**model_fields(args), "guide_weights": args.guide_weights, "guide_overrides": args.guide_override,
              "count": args.count, "seeds": seeds, "steps": args.steps, "rows": rows}
    write_json(args.json, result)


if __name__ == "__main__":
    main()
