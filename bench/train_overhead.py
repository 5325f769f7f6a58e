"""Steps per second of the tiny FlowMatchingTask under Lightning vs a bare PyTorch loop doing the same step.

Both loops run the identical step on the same pre-built batches: the task's loss (frozen-TAE latents,
caption dropout, flow-matching loss), backward, gradient-norm clipping, AdamW, the lr scheduler and the
EMA update. Rounds alternate Lightning and bare so machine noise hits both; the first ``--warmup`` steps
of every round are not timed. The overhead is ``bare_steps_per_s / lightning_steps_per_s - 1``.

    python bench/train_overhead.py [--steps 40] [--rounds 3] [--json bench/results/train_overhead.json]

Target (issue acceptance): Lightning overhead <= 10 %.
"""

from __future__ import annotations

import statistics
import time

import zoo
import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, IterableDataset

from zoo.data.batches import MixedBatches
from zoo.spec.params import component
from zoo.tasks.flow_matching import FlowMatchingTask
from zoo.tasks.optim import OptimizerParams

from common import bench_parser, write_json


class ListStream(IterableDataset):
    def __init__(self, batches: list):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


class StepTimer(Callback):
    """Wall time from the start of step ``warmup`` to the end of the last step."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, 0.0, 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def make_task(steps: int) -> FlowMatchingTask:
    torch.manual_seed(0)
    pipe = zoo.load("moviegen-video-tiny", weights=False)
    return FlowMatchingTask(pipe, OptimizerParams(lr=1e-4, warmup_steps=5), steps, ema_decay=0.999)


def lightning_round(batches: list, warmup: int) -> float:
    task, timer = make_task(len(batches)), StepTimer(warmup)
    trainer = L.Trainer(
        max_steps=len(batches), accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=1.0, callbacks=[timer],
        num_sanity_val_steps=0, limit_val_batches=0,
    )
    trainer.fit(task, DataLoader(ListStream(batches), batch_size=None))
    return (len(batches) - warmup) / (timer.end - timer.start)


def bare_round(batches: list, warmup: int) -> float:
    task = make_task(len(batches))
    task.train()
    config = task.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    start = 0.0
    for step, batch in enumerate(batches):
        if step == warmup:
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(batch, step)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        task.ema.update_parameters(task.trained())
    return (len(batches) - warmup) / (time.perf_counter() - start)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--json", default="bench/results/train_overhead.json")
    args = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    data = component("dataset", "shapes-world", size=1000, frames=args.frames).build()
    images = component("dataset", "shapes-world", size=1000, image_fraction=1.0).build()
    stream = MixedBatches(data, images, args.batch_size, image_fraction=0.1, seed=0, limit=args.steps)
    batches = list(stream)
    rows = []
    for round_index in range(args.rounds):
        rows.append({"round": round_index, "lightning": lightning_round(batches, args.warmup),
                     "bare": bare_round(batches, args.warmup)})
    overhead = statistics.median(r["bare"] / r["lightning"] - 1 for r in rows)
    print(f"{'round':>5} {'lightning steps/s':>18} {'bare steps/s':>13}")
    for r in rows:
        print(f"{r['round']:>5} {r['lightning']:>18.3f} {r['bare']:>13.3f}")
    print(f"median Lightning overhead: {100 * overhead:.1f} % (target <= 10 %)")
    write_json(args.json, {"args": vars(args), "rounds": rows, "median_overhead": overhead})


if __name__ == "__main__":
    main()
