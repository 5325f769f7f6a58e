"""Where a text-to-video model's motion goes wrong on shapes-bench: by kind of motion, camera and what it reads as.

Generates the benchmark's one-object prompts (held-out combinations, or training ones with ``--split
train``) and reads each clip back. Motion accuracy is broken down by what the prompt asks for (static,
straight, diagonal, bouncing; with or without a camera pan), and each wrong clip by what the readout
saw instead (static, bouncing, another direction). For clips with a pan it also reports how often the
camera is read and how well the background texture of the last frame matches the first frame's at
the best shift (a correlation; ground-truth renders are the reference), which says whether a model
draws the pan at all.

    python bench/motion_breakdown.py [--preset moviegen-video-tiny] [--weights PATH] [-o KEY=VALUE ...]
                                     [--count 64] [--seeds 0,1] [--steps 50] [--guidance G] [--split heldout] [--json out.json]
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from zoo.data.shapes_world import sample
from zoo.data.shapes_world.bench import BENCH_SEED
from zoo.data.shapes_world.readout import compare, estimate_background, label_colours, read_video, to_frames

from common import add_model_arguments, bench_parser, load_model, model_fields, write_json

REACH = 12
"""Largest background shift in pixels tried when matching textures (a pan moves about 10 in 16 frames)."""


def motion_kind(obj: dict) -> str:
    """What a prompt's object does: static, straight, diagonal or bouncing."""
    motion = obj["motion"]
    if motion in ("static", "bouncing"):
        return motion
    return "diagonal" if "-" in motion else "straight"


def failure(wanted: str, read: str | None) -> str:
    """What a wrong motion read as: static, bouncing, another direction, or nothing found."""
    if read is None:
        return "no object"
    if read in ("static", "bouncing"):
        return read
    return "another direction" if wanted != "static" else "moving"


def texture_match(frames: np.ndarray) -> float:
    """Best correlation of the last frame's background texture with the first frame's, over shifts along x or y.

    ``frames`` ``(T, H, W, 3)`` uint8. Object pixels (and their shifted partners) are left out.
    """
    grey = frames.astype(np.float64).mean(axis=-1)
    background = label_colours(frames, estimate_background(frames)) < 0
    first, last = grey[0], grey[-1]
    height, width = first.shape
    best = -1.0
    shifts = [(d, 0) for d in range(-REACH, REACH + 1)] + [(0, d) for d in range(-REACH, REACH + 1) if d]
    for sx, sy in shifts:
        ya, yb, xa, xb = max(0, -sy), min(height, height - sy), max(0, -sx), min(width, width - sx)
        keep = background[-1, ya:yb, xa:xb] & background[0, ya + sy : yb + sy, xa + sx : xb + sx]
        a = last[ya:yb, xa:xb][keep]
        b = first[ya + sy : yb + sy, xa + sx : xb + sx][keep]
        if a.size < 64 or a.std() == 0 or b.std() == 0:
            continue
        best = max(best, float(np.corrcoef(a, b)[0, 1]))
    return best


def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser)
    parser.add_argument("--count", type=int, default=64, help="Prompts.")
    parser.add_argument("--seeds", default="0,1", help="Comma-separated sampling seeds.")
    parser.add_argument("--guidance", type=float, default=None, help="Guidance scale; default: the preset's.")
    parser.add_argument("--steps", type=int, default=50, help="Sampling steps of the preset's schedule.")
    parser.add_argument("--split", choices=("heldout", "train"), default="heldout", help="Attribute combinations.")
    parser.add_argument("--json", type=Path, default=Path("bench/results/motion_breakdown.json"))
    args = parser.parse_args()

    pipe = load_model(args)
    items = [sample(i, args.split, BENCH_SEED, frames=16, height=64, width=64, max_objects=1) for i in range(args.count)]
    seeds = [int(s) for s in args.seeds.split(",")]
    right: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: Counter[str] = Counter()
    pans = {"camera read": [0, 0], "texture match": [], "texture match, renders": []}
    start = time.perf_counter()
    for seed in seeds:
        for first in range(0, len(items), 16):
            batch = items[first : first + 16]
            out = pipe([item.caption for item in batch], steps=args.steps, guidance=args.guidance, seed=seed)
            for item, video in zip(batch, out.video):
                attributes = item.attributes.to_dict()
                obj, panning = attributes["objects"][0], (attributes.get("camera") or "static") != "static"
                kind = motion_kind(obj)
                read = read_video(video)
                ok = bool(compare(read, attributes)["motion"])
                for group in ("all", kind, f"{kind}, {'pan' if panning else 'still camera'}"):
                    right[group][0] += ok
                    right[group][1] += 1
                if not ok:
                    wrong[failure(obj["motion"], read.objects[0].motion if read.objects else None)] += 1
                if panning:
                    pans["camera read"][0] += read.camera == attributes["camera"]
                    pans["camera read"][1] += 1
                    pans["texture match"].append(texture_match(to_frames(video)))
                    if seed == seeds[0]:
                        pans["texture match, renders"].append(texture_match(np.asarray(item.frames)))
    seconds = time.perf_counter() - start

    accuracy = {group: {"right": r, "clips": n, "accuracy": r / n} for group, (r, n) in sorted(right.items())}
    print(f"{'asked for':28}{'right':>8}{'clips':>8}{'accuracy':>10}")
    for group, row in accuracy.items():
        print(f"{group:28}{row['right']:>8}{row['clips']:>8}{row['accuracy']:>10.2f}")
    print("wrong motions read as: " + ", ".join(f"{name} {n}" for name, n in wrong.most_common()))
    camera_right, panned = pans["camera read"]
    texture = {key: float(np.mean(pans[key])) if pans[key] else None for key in ("texture match", "texture match, renders")}
    print(f"pans: camera read in {camera_right} of {panned}; texture match of last to first frame "
          f"{texture['texture match']:.2f} (renders {texture['texture match, renders']:.2f})" if panned else "no pans")
    print(f"{len(items) * len(seeds)} clips in {seconds:.0f} s")
    result = {
        **model_fields(args), "split": args.split, "count": args.count, "seeds": seeds, "steps": args.steps,
        "guidance": args.guidance, "seconds": seconds, "accuracy": accuracy,
        "wrong_read_as": dict(wrong), "pan_camera_read": [camera_right, panned],
        "pan_texture_match": texture["texture match"], "pan_texture_match_renders": texture["texture match, renders"],
    }
    write_json(args.json, result)


if __name__ == "__main__":
    main()
