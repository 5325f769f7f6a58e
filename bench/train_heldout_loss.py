"""Whether a text-to-video model has memorised its training clips: the flow-matching loss on seen and unseen clips.

The tiny backbone trains for many epochs over a fixed latent cache (items ``0 .. videos - 1`` of the
cache recipe's Shapes-world data). This compares the fixed-time validation loss
(:func:`zoo.metrics.flow_loss.validation_loss`: the same noise and times for every set) on three sets
of clips rendered from pixels: items the cache holds, items of the same world and split beyond the
cache (never seen), and the held-out split of unseen combinations. A model that memorises scores
clearly lower on the first set than on the second; a model that only underfits scores them alike.

    python bench/train_heldout_loss.py [--preset moviegen-video-tiny] [--weights PATH] [-o KEY=VALUE ...]
                                       [--clips 64] [--data-seed 1] [--unseen-from 40000] [--json out.json]
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from zoo.data.shapes_world import sample
from zoo.io.video import frames_to_video
from zoo.metrics.flow_loss import DEFAULT_TIMES, validation_loss

from common import add_model_arguments, bench_parser, load_model, model_fields, write_json

BATCH = 16
HELDOUT_SEED = 2024
"""World seed of the held-out clips (the shapes-bench recipe's flow-matching-loss data)."""


def batches(first: int, clips: int, split: str, seed: int, entry_band: float) -> list[dict]:
    """Pixel batches ``{"video": (B, 3, T, H, W), "caption": [...]}`` of items ``first .. first + clips - 1``."""
    out = []
    for start in range(first, first + clips, BATCH):
        items = [sample(i, split, seed, entry_band=entry_band) for i in range(start, min(start + BATCH, first + clips))]
        out.append({"video": torch.stack([frames_to_video(s.frames) for s in items]),
                    "caption": [s.caption for s in items]})
    return out


def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser, preset_help="A text-to-video preset.")
    parser.add_argument("--clips", type=int, default=64, help="Clips per set.")
    parser.add_argument("--data-seed", type=int, default=1, help="World seed of the training cache (cache recipe).")
    parser.add_argument("--unseen-from", type=int, default=40000, help="First item beyond the cache's videos.")
    parser.add_argument("--entry-band", type=float, default=0.2, help="The world's entry_band (the training data's).")
    parser.add_argument("--json", type=Path, default=Path("bench/results/train_heldout_loss.json"))
    args = parser.parse_args()

    pipe = load_model(args)
    sets = {
        "cached training clips": (0, "train", args.data_seed),
        "unseen training-split clips": (args.unseen_from, "train", args.data_seed),
        "held-out combinations": (0, "heldout", HELDOUT_SEED),
    }
    rows, start = {}, time.perf_counter()
    with torch.inference_mode():
        for label, (first, split, seed) in sets.items():
            losses = validation_loss(pipe, batches(first, args.clips, split, seed, args.entry_band), DEFAULT_TIMES)
            rows[label] = {**{str(t): v for t, v in losses.items()}, "mean": sum(losses.values()) / len(losses)}
    seconds = time.perf_counter() - start

    columns = [*map(str, DEFAULT_TIMES), "mean"]
    print(f"{'flow-matching loss at t':30}" + "".join(f"{c:>8}" for c in columns))
    for label, row in rows.items():
        print(f"{label:30}" + "".join(f"{row[c]:>8.4f}" for c in columns))
    print(f"{len(sets)} x {args.clips} clips in {seconds:.1f} s")
    result = {**model_fields(args), "clips": args.clips,
              "data_seed": args.data_seed, "unseen_from": args.unseen_from, "entry_band": args.entry_band,
              "seconds": seconds, "loss": rows}
    write_json(args.json, result)


if __name__ == "__main__":
    main()
