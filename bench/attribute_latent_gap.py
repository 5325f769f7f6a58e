"""How much each attribute word changes the data: latent distance between a clip and its edited re-renders.

Each held-out clip (one object, the training world's ``entry_band``) is rendered again with only the
object's shape changed (to each other shape) or only its colour changed (to each other colour); all
are encoded by the model's TAE (posterior mean, normalised as the backbone sees them) and the mean
squared latent difference to the original is averaged per attribute and object size. A backbone that
uses a word fully can lower its loss by about this much against a wrong word, so comparing these with
``bench/prompt_sensitivity.py``'s loss gaps tells how much of each word a model has learnt to use.

    python bench/attribute_latent_gap.py [--preset moviegen-video-tiny] [--weights PATH] [-o KEY=VALUE ...]
                                         [--count 48] [--entry-band 0.2] [--json out.json]
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from zoo.data.shapes_world import Scene, render, sample
from zoo.data.shapes_world.vocabulary import COLOURS, SHAPES, SIZES
from zoo.io.video import frames_to_video

from common import add_model_arguments, bench_parser, load_model, model_fields, write_json

SEED = 5
"""World seed of the clips (held-out split); the shapes-bench prompts use another."""


def edited(scene: Scene, **changes: str) -> np.ndarray:
    """Frames of ``scene`` with its first object's attributes changed, everything else the same."""
    obj = replace(scene.attributes.objects[0], **changes)
    return render(replace(scene, attributes=replace(scene.attributes, objects=(obj,))))


def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser, preset_help="A preset with an autoencoder component.")
    parser.add_argument("--count", type=int, default=48, help="Held-out clips.")
    parser.add_argument("--entry-band", type=float, default=0.2, help="The world's entry_band (the training data's).")
    parser.add_argument("--json", type=Path, default=Path("bench/results/attribute_latent_gap.json"))
    args = parser.parse_args()

    tae = load_model(args).autoencoder.eval()
    gaps: dict[str, dict[str, list[float]]] = {a: {s: [] for s in SIZES} for a in ("shape", "colour")}
    start = time.perf_counter()
    with torch.inference_mode():
        for index in range(args.count):
            item = sample(index, "heldout", SEED, max_objects=1, entry_band=args.entry_band)
            obj = item.attributes.objects[0]
            variants = {
                "shape": [edited(item.scene, shape=s) for s in SHAPES if s != obj.shape],
                "colour": [edited(item.scene, colour=c) for c in COLOURS if c != obj.colour],
            }
            clips = [item.frames, *variants["shape"], *variants["colour"]]
            latents = tae.normalize(tae.encode(torch.stack([frames_to_video(c) for c in clips])).mean)
            squared = ((latents[1:] - latents[:1]) ** 2).flatten(1).mean(1).tolist()
            gaps["shape"][obj.size].append(float(np.mean(squared[: len(variants["shape"])])))
            gaps["colour"][obj.size].append(float(np.mean(squared[len(variants["shape"]) :])))
    seconds = time.perf_counter() - start

    table = {
        attribute: {**{s: float(np.mean(v)) for s, v in by_size.items() if v},
                    "all": float(np.mean([g for v in by_size.values() for g in v]))}
        for attribute, by_size in gaps.items()
    }
    ratio = {k: table["shape"][k] / table["colour"][k] for k in table["shape"]}
    columns = list(table["shape"])
    print(f"{'mean squared latent change':28}" + "".join(f"{c:>9}" for c in columns))
    for label, row in [*table.items(), ("shape / colour", ratio)]:
        print(f"{label:28}" + "".join(f"{row[c]:>9.3f}" for c in columns))
    print(f"{args.count} clips in {seconds:.1f} s")
    result = {**model_fields(args), "count": args.count,
              "entry_band": args.entry_band, "seconds": seconds, "gap": table, "shape_over_colour": ratio}
    write_json(args.json, result)


if __name__ == "__main__":
    main()
