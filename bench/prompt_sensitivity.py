"""Does a text-to-video model read each attribute word? Flow loss with true vs. swapped captions.

Held-out single-object clips are scored with the flow-matching loss at fixed times and fixed noise
twice: under their own caption, and under the caption of the same scene with one attribute changed
(direction reversed, speed, colour or shape swapped), written with the same wording. A model that
uses the word predicts worse under the wrong one (positive gap); a gap of zero means the word is
ignored. The gap per time shows when in the flow the word matters.

A direction word can only be read by a backbone that knows which latent frame comes first, so the
bench also reports the frame-order dependence per time: ``|v(x) - R v(R x)| / |v(x)|`` with ``R``
reversing the latent frames. A backbone blind to frame order gives 0 (only the order-free part of
motion, such as speed, can then follow the prompt); for comparison, the same ratio with ``R``
mirroring the width is reported too.

    python bench/prompt_sensitivity.py [--preset moviegen-video-tiny] [--weights PATH] [-o KEY=VALUE ...]
                                       [--clips 32] [--entry-band 0.2] [--json bench/results/prompt_sensitivity.json]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from zoo.data.shapes_world import sample
from zoo.data.shapes_world.attributes import ObjectAttributes
from zoo.data.shapes_world.captions import video_caption
from zoo.data.shapes_world.vocabulary import COLOURS, SHAPES
from zoo.io.video import frames_to_video
from zoo.metrics.flow_loss import fixed_problem, validation_loss
from zoo.tasks.seeding import step_generator

from common import add_model_arguments, bench_parser, load_model, model_fields, write_json

OPPOSITE = {
    "left": "right", "right": "left", "up": "down", "down": "up",
    "up-left": "down-right", "down-right": "up-left", "up-right": "down-left", "down-left": "up-right",
}
TIMES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7)


def _next(options: tuple[str, ...], value: str) -> str:
    return options[(options.index(value) + 1) % len(options)]


SWAPS: dict[str, Callable[[ObjectAttributes], ObjectAttributes]] = {
    "direction": lambda o: dataclasses.replace(o, motion=OPPOSITE[o.motion]),
    "speed": lambda o: dataclasses.replace(o, speed="slow" if o.speed == "fast" else "fast"),
    "colour": lambda o: dataclasses.replace(o, colour=_next(tuple(COLOURS), o.colour)),
    "shape": lambda o: dataclasses.replace(o, shape=_next(SHAPES, o.shape)),
}


def heldout_movers(count: int, frames: int, size: int, entry_band: float = 1.0) -> list:
    """The first ``count`` held-out samples with one object moving in a straight line and a still camera."""
    found, index = [], 0
    while len(found) < count:
        s = sample(index, "heldout", 7, frames=frames, height=size, width=size, max_objects=1, entry_band=entry_band)
        index += 1
        if s.attributes.objects[0].motion in OPPOSITE and s.attributes.camera == "static":
            found.append((index, s))
    return found


@torch.no_grad()
def order_dependence(pipe, video: torch.Tensor, captions: list[str], dim: int) -> dict[float, float]:
    """``{t: |v(x) - R v(R x)| / |v(x)|}`` with ``R`` flipping latent axis ``dim`` (2 = frames, 4 = width)."""
    flow, backbone = pipe.flow, pipe.backbone.eval()
    # the same latents and noise as the loss of the first batch
    x1, x0, tokens, mask = fixed_problem(pipe, {"video": video, "caption": captions}, step_generator(0, 0))
    ratios = {}
    for t in TIMES:
        time = torch.full((x1.shape[0],), t)
        xt = flow.interpolate(x0, x1, time)
        v = backbone(xt, time, tokens, mask)
        mirrored = backbone(xt.flip(dim), time, tokens, mask).flip(dim)
        ratios[t] = float((v - mirrored).norm() / v.norm())
    return ratios


@torch.no_grad()
def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--entry-band", type=float, default=0.2,
                        help="Shapes-world entry_band of the clips: that of the model's training data.")
    parser.add_argument("--json", type=Path, default=Path("bench/results/prompt_sensitivity.json"))
    args = parser.parse_args()

    pipe = load_model(args)
    spec = pipe.spec.pipeline.params
    movers = heldout_movers(args.clips, spec.frames, spec.height, args.entry_band)
    video = torch.stack([frames_to_video(s.frames) for _, s in movers])

    def caption(index: int, attributes) -> str:  # the same wording for every variant of a clip
        return video_caption(attributes, np.random.default_rng(index))

    captions = {"true": [caption(i, s.attributes) for i, s in movers]}
    for name, swap in SWAPS.items():
        captions[name] = [
            caption(i, dataclasses.replace(s.attributes, objects=(swap(s.attributes.objects[0]),))) for i, s in movers
        ]
    # the evaluation's flow loss on one batch (seed 0): every variant sees the same latents and noise
    losses = {
        name: validation_loss(pipe, [{"video": video, "caption": texts}], TIMES) for name, texts in captions.items()
    }
    gaps = {name: {t: losses[name][t] - losses["true"][t] for t in TIMES} for name in SWAPS}

    order = {axis: order_dependence(pipe, video, captions["true"], dim) for axis, dim in (("frames", 2), ("width", 4))}

    print(f"{'swapped word':14}" + "".join(f"{'t=' + str(t):>10}" for t in TIMES))
    print(f"{'(true loss)':14}" + "".join(f"{losses['true'][t]:>10.4f}" for t in TIMES))
    for name, row in gaps.items():
        print(f"{name:14}" + "".join(f"{row[t]:>+10.4f}" for t in TIMES))
    print("order dependence |v(x) - R v(R x)| / |v(x)|")
    for axis, row in order.items():
        print(f"{'R = ' + axis:14}" + "".join(f"{row[t]:>10.4f}" for t in TIMES))
    result = {**model_fields(args), "clips": args.clips,
              "entry_band": args.entry_band,
              "example": {name: texts[0] for name, texts in captions.items()},
              "loss_true": losses["true"], "gap": gaps, "order_dependence": order}
    write_json(args.json, result)


if __name__ == "__main__":
    main()
