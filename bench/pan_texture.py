"""How much of a panning clip's latent is its background texture: the part a model must move to show a pan.

Under a camera pan the only thing that shows the pan, besides the objects, is the faint background
texture sliding across the frame. Each clip (one object, a pan, the training world's ``entry_band``)
is rendered again with another texture seed, everything else the same; both are encoded by the
model's TAE (posterior mean, normalised as the backbone sees them), and half the squared difference
is the texture's energy. The script reports it beside the clip's whole energy, and the same for the
deviation from the mean over latent frames (the moving part, which carries the pan), and the
texture's signal-to-noise ratio ``t² E / (1 − t)²`` at flow times ``t`` of the noisy latent.

    python bench/pan_texture.py [--preset moviegen-video-tiny] [--weights PATH] [-o KEY=VALUE ...]
                                [--count 24] [--entry-band 0.2] [--texture-cell 2] [--texture-amplitude 12]
                                [--json out.json]
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from zoo.data.shapes_world import render, sample
from zoo.io.video import frames_to_video
from zoo.tasks.flow_matching import temporal_deviation_loss

from common import (
    add_model_arguments,
    add_texture_arguments,
    bench_parser,
    load_model,
    model_fields,
    texture_settings,
    write_json,
)

SEED = 5
"""World seed of the clips (held-out split); the shapes-bench prompts use another."""

TIMES = (0.5, 0.7, 0.9)


def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser, preset_help="A preset with an autoencoder component.")
    parser.add_argument("--count", type=int, default=24, help="Held-out clips with a pan.")
    parser.add_argument("--entry-band", type=float, default=0.2, help="The world's entry_band (the training data's).")
    add_texture_arguments(parser)
    parser.add_argument("--json", type=Path, default=Path("bench/results/pan_texture.json"))
    args = parser.parse_args()

    tae = load_model(args).autoencoder.eval()
    energies: dict[str, list[float]] = {"clip": [], "texture": [], "clip moving part": [], "texture moving part": []}
    start = time.perf_counter()
    with torch.inference_mode():
        for index in range(args.count):
            item = sample(index, "heldout", SEED, max_objects=1, camera_pan_prob=1.0, entry_band=args.entry_band,
                          **texture_settings(args))
            retextured = render(replace(item.scene, texture_seed=item.scene.texture_seed + 1))
            clips = torch.stack([frames_to_video(item.frames), frames_to_video(retextured)])
            latents = tae.normalize(tae.encode(clips).mean)
            latent, other = latents[:1], latents[1:]
            texture = (latent - other) / 2**0.5  # two independent textures: their difference has twice the energy
            energies["clip"].append(float(latent.square().mean()))
            energies["texture"].append(float(texture.square().mean()))
            # the moving part as the motion weight of the loss measures it: the deviation over latent frames
            energies["clip moving part"].append(float(temporal_deviation_loss(latent, torch.zeros_like(latent))))
            energies["texture moving part"].append(float(temporal_deviation_loss(texture, torch.zeros_like(texture))))
    seconds = time.perf_counter() - start

    mean = {k: float(np.mean(v)) for k, v in energies.items()}
    shares = {"texture / clip": mean["texture"] / mean["clip"],
              "texture moving part / clip moving part": mean["texture moving part"] / mean["clip moving part"]}
    snr = {str(t): t**2 * mean["texture"] / (1 - t) ** 2 for t in TIMES}
    for label, value in mean.items():
        print(f"{'mean square, ' + label:40}{value:>9.4f}")
    for label, value in shares.items():
        print(f"{label:40}{value:>9.3f}")
    print(f"{'texture SNR at t':40}" + "".join(f"{t}: {v:.2f}  " for t, v in snr.items()))
    print(f"{args.count} clips in {seconds:.1f} s")
    result = {**model_fields(args), "count": args.count, "entry_band": args.entry_band, **texture_settings(args),
              "seconds": seconds, "mean_square": mean, "shares": shares, "texture_snr": snr}
    write_json(args.json, result)


if __name__ == "__main__":
    main()
