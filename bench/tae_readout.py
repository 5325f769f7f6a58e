"""What a TAE keeps: the analytic readout's attribute accuracy on TAE reconstructions of held-out clips.

The shapes-bench clips (``heldout_prompts``) are rendered, encoded and decoded (posterior mean), and the
readout scores both the renders and their reconstructions against the clips' true attributes. No
backbone over the TAE can score higher than its reconstructions do, so this bounds the text-to-video
model's shapes-bench figures.

    python bench/tae_readout.py [--preset moviegen-tae-tiny] [--weights PATH] [-o KEY=VALUE ...]
                                [--count 64] [--texture-cell 2] [--texture-amplitude 12] [--json out.json]
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from zoo.data.shapes_world import sample
from zoo.data.shapes_world.bench import BENCH_SEED, heldout_prompts
from zoo.io.video import frames_to_video
from zoo.metrics.attribute_accuracy import AttributeAccuracy

from common import (
    add_model_arguments,
    add_texture_arguments,
    bench_parser,
    load_model,
    model_fields,
    texture_settings,
    write_json,
)


def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser, preset="moviegen-tae-tiny", preset_help="A preset with an autoencoder component.")
    parser.add_argument("--count", type=int, default=64, help="Held-out clips.")
    add_texture_arguments(parser)
    parser.add_argument("--json", type=Path, default=Path("bench/results/tae_readout.json"))
    args = parser.parse_args()

    torch.manual_seed(0)
    tae = load_model(args).autoencoder.eval()
    prompts = heldout_prompts(args.count)
    renders, reconstructions = AttributeAccuracy(), AttributeAccuracy()
    start = time.perf_counter()
    with torch.inference_mode():
        for index, prompt in enumerate(prompts):
            frames = sample(index, "heldout", BENCH_SEED, frames=16, height=64, width=64, max_objects=1,
                            **texture_settings(args)).frames
            video = frames_to_video(frames).unsqueeze(0)
            recon = tae.decode(tae.encode(video).mean, frames=video.shape[2])
            renders.update(video, [prompt.attributes])
            reconstructions.update(recon.clamp(-1, 1), [prompt.attributes])
    seconds = time.perf_counter() - start
    rows = {"renders": renders.compute(), "reconstructions": reconstructions.compute()}
    names = list(rows["renders"])
    print(f"{'':16}" + "".join(f"{n:>11}" for n in names))
    for label, row in rows.items():
        print(f"{label:16}" + "".join(f"{row[n]:>11.3f}" for n in names))
    print(f"{args.count} clips in {seconds:.1f} s")
    result = {**model_fields(args), "count": args.count, **texture_settings(args),
              "seconds": seconds, **rows}
    write_json(args.json, result)


if __name__ == "__main__":
    main()
