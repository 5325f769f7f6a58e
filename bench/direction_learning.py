"""How fast does a backbone learn to move an object the way a word says? A synthetic flow-matching task.

Latents ``(8, 4, 8, 8)`` hold one 2x2 blob that moves one latent pixel per latent frame: to the right
from the left third, or to the left from the right third, on a random row. The context is 20 random
filler word vectors and, at a random place among them, the direction word (a learned vector per
direction). The preset's backbone trains on this with flow matching from scratch, once per time
sampler, and after every ``--every`` steps the bench predicts the clean latent from pure noise
(``t = 0.02``) for each word: ``E[x1 | word]``. Its column centroid per latent frame gives

* **layout gap**: frame-0 centroid under "left" minus under "right" (data: about +4 columns);
* **motion gap**: the centroid's travel from frame 0 to frame 3 under "right" minus under "left"
  (data: +6 columns). Zero means the word does not set where the object goes.

This isolates one finding: with the logit-normal time sampler centred at 0, the tiny backbone does not
learn the direction word within the budget, while a sampler shifted towards noise does (the word only
matters where the noisy latent does not already show the object).

    python bench/direction_learning.py [--preset moviegen-video-tiny] [--steps 1500] [--every 500]
                                       [--means 0.0 -1.0 -1.5] [--json bench/results/direction_learning.json]
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

import zoo
from zoo.flow.path import FlowMatching
from zoo.flow.timesteps import LogitNormalSampler
from zoo.models.video_transformer import VideoTransformer, VideoTransformerParams
from zoo.spec.load import load_spec

from common import add_model_arguments, bench_parser, model_fields, write_json

LATENT = (8, 4, 8, 8)  # (C, T, H, W)
FILLERS, VOCABULARY, BATCH = 20, 64, 16


def moving_blobs(rightward: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``(B,)`` bool -> ``(B, C, T, H, W)`` latents of a 2x2 blob (value 2) moving one column per frame."""
    _, frames, height, width = LATENT
    x1 = torch.zeros(len(rightward), *LATENT)
    rows = torch.randint(0, height - 1, (len(rightward),), generator=generator)
    starts = torch.randint(0, 3, (len(rightward),), generator=generator)
    for i, (right, row, start) in enumerate(zip(rightward.tolist(), rows.tolist(), starts.tolist())):
        for frame in range(frames):
            column = start + frame if right else width - 2 - start - frame
            x1[i, :, frame, row : row + 2, column : column + 2] = 2.0
    return x1


def contexts(words: torch.Tensor, fillers: torch.Tensor, rightward: torch.Tensor, generator: torch.Generator):
    """``(B, FILLERS + 1, D)`` context: random filler words with the direction word at a random place."""
    batch = len(rightward)
    filler = fillers[torch.randint(0, VOCABULARY, (batch, FILLERS), generator=generator)]
    place = torch.randint(0, FILLERS + 1, (batch,), generator=generator)
    rows = [torch.cat([f[:p], words[int(r)][None], f[p:]]) for f, p, r in zip(filler, place.tolist(), rightward)]
    return torch.stack(rows)


@torch.no_grad()
def direction_gaps(backbone: VideoTransformer, words: torch.Tensor, fillers: torch.Tensor) -> tuple[float, float]:
    """``(layout gap, motion gap)`` in latent columns of ``E[x1 | word]`` predicted from pure noise."""
    generator = torch.Generator().manual_seed(1)
    t = 0.02
    noise = torch.randn(32, *LATENT, generator=generator)
    centroids = {}
    for right in (False, True):
        context = contexts(words, fillers, torch.full((32,), right), generator)
        xt = (1 - t) * noise
        predicted = xt + (1 - t) * backbone(xt, torch.full((32,), t), context)  # x1 = x_t + (1 - t) v
        mass = predicted.clamp(min=0).mean(dim=(0, 1, 3))  # (T, W)
        columns = torch.arange(LATENT[3], dtype=torch.float32)
        centroids[right] = (mass * columns).sum(-1) / mass.sum(-1).clamp(min=1e-6)
    layout = float(centroids[False][0] - centroids[True][0])
    motion = float((centroids[True][-1] - centroids[True][0]) - (centroids[False][-1] - centroids[False][0]))
    return layout, motion


def train(params: VideoTransformerParams, mean: float, steps: int, every: int, seed: int) -> list[dict]:
    """Train a fresh backbone with a logit-normal(mean, 1) time sampler; the gaps every ``every`` steps."""
    torch.manual_seed(seed)
    backbone = VideoTransformer(params)
    width = params.context_dim or params.dim
    words, fillers = torch.nn.Parameter(torch.randn(2, width)), torch.nn.Parameter(torch.randn(VOCABULARY, width))
    flow = FlowMatching(t_sampler=LogitNormalSampler(mean, 1.0))
    optimizer = torch.optim.AdamW([*backbone.parameters(), words, fillers], lr=1e-3, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    rows, start = [], time.perf_counter()
    for step in range(1, steps + 1):
        rightward = torch.rand(BATCH, generator=generator) < 0.5
        x1 = moving_blobs(rightward, generator)
        xt, t, target, _ = flow.training_batch(x1, generator=generator)
        loss = flow.loss(backbone(xt, t, contexts(words, fillers, rightward, generator)), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % every == 0:
            layout, motion = direction_gaps(backbone, words, fillers)
            rows.append({"mean": mean, "step": step, "loss": loss.item(), "layout_gap": layout, "motion_gap": motion,
                         "seconds": time.perf_counter() - start})
    return rows


def main() -> None:
    parser = bench_parser(__doc__)
    add_model_arguments(parser, preset_help="Preset whose backbone shape is trained.", weights=False)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--means", type=float, nargs="+", default=[0.0, -1.0, -1.5], help="Logit-normal means.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("bench/results/direction_learning.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)

    spec = load_spec(args.preset, overrides=args.override)
    backbone = spec.components.backbone
    params = VideoTransformerParams(**{**backbone.params.model_dump(), "in_channels": LATENT[0], "out_channels": None})
    rows = [row for mean in args.means for row in train(params, mean, args.steps, args.every, args.seed)]

    print(f"{args.preset} backbone (rope={params.rope}), logit-normal(mean, 1) time sampler, batch {BATCH}")
    print(f"{'mean':>6} {'step':>6} {'loss':>8} {'layout gap':>11} {'motion gap':>11}   (data: +4 / +6 columns)")
    for row in rows:
        print(f"{row['mean']:6.1f} {row['step']:6d} {row['loss']:8.4f} {row['layout_gap']:+11.2f} {row['motion_gap']:+11.2f}")
    write_json(args.json, {**model_fields(args), "zoo": zoo.__version__,
                           "steps": args.steps, "rows": rows})


if __name__ == "__main__":
    main()
