"""Tokens/s and MFU of the video transformer's train step (forward + backward + AdamW) on one GPU.

MFU = model FLOPs of the step / (step seconds x peak). Model FLOPs are :func:`zoo.parallel.estimate.train_flops`
(forward + backward; recomputation under activation checkpointing is not counted, so checkpointing
shows up as lower MFU), the peak is the dense bf16 TFLOP/s of :data:`zoo.parallel.estimate.GPUS`.

Shapes (this bench's own; head dim 128 as in the paper's 30B model, moviegen-facts §1.1; every block
has self-attention, cross-attention to the text and a SwiGLU FFN):

* ``1b``: 16 layers, width 2048, 16 heads, FFN 5632: 1.1B parameters;
* ``3b``: 20 layers, width 3072, 24 heads, FFN 8192: 3.0B parameters.

Token counts: 8,192 (32 latent frames x 32 x 32 latents, the 256 px stage of moviegen-facts §1.5)
and 32,768 (32 x 64 x 64, 512 px), with 256 text tokens. Parameters in fp32, the step under bf16
autocast (as ``precision: bf16-mixed``), SDPA attention, fused AdamW, batch 1. Each shape runs eager
and with every block ``torch.compile``d, without and with full activation checkpointing (every block's
``checkpointed = True``, as ``zoo.models.video_transformer_plan`` sets it). A configuration that runs
out of memory is reported as OOM.

    python bench/mfu.py [--shapes 1b 3b] [--tokens 8192 32768] [--steps 10] [--warmup 3] [--gpu h100]

Without CUDA it runs one tiny shape (2 layers, width 64, 256 tokens, eager) to check the script;
MFU is meaningful only on a GPU.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from zoo.models.video_transformer import VideoTransformer, VideoTransformerParams
from zoo.parallel.estimate import GPUS, backbone_buckets, train_flops

from common import bench_parser, write_json

SHAPES = {
    "1b": dict(layers=16, dim=2048, heads=16, ffn_dim=5632),
    "3b": dict(layers=20, dim=3072, heads=24, ffn_dim=8192),
    "tiny": dict(layers=2, dim=64, heads=4, ffn_dim=160),  # the CPU check
}
LATENT_CHANNELS = 16  # the TAE's (moviegen-facts §3)


def latent_shape(tokens: int) -> tuple[int, int, int, int]:
    """``(C, T, H, W)`` latents giving ``tokens`` 1x2x2 patches: 32 latent frames (4 for short runs), square."""
    frames = 32 if tokens >= 32 * 64 else 4
    side = math.isqrt(tokens // frames)
    if frames * side * side != tokens:
        raise SystemExit(f"--tokens {tokens}: choose frames x side^2 with 32 (or 4) latent frames")
    return LATENT_CHANNELS, frames, 2 * side, 2 * side


def run(shape: str, tokens: int, compiled: bool, checkpointed: bool, args: argparse.Namespace, device: str) -> dict:
    """Time ``args.steps`` train steps of one configuration; its row for the table."""
    torch.manual_seed(0)
    torch._dynamo.reset()
    params = VideoTransformerParams(in_channels=LATENT_CHANNELS, **SHAPES[shape])
    model = VideoTransformer(params).to(device)
    for block in model.blocks:
        block.checkpointed = checkpointed
        if compiled:
            block.compile()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
    x = torch.randn(args.batch, *latent_shape(tokens), device=device)
    target = torch.randn_like(x)
    t = torch.rand(args.batch, device=device)
    context = torch.randn(args.batch, args.text_tokens, params.dim, device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = torch.nn.functional.mse_loss(model(x, t, context).float(), target)
        loss.backward()
        optimizer.step()

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    row = {"shape": shape, "tokens": tokens, "compile": compiled, "checkpointing": "full" if checkpointed else "none"}
    buckets = backbone_buckets(model)
    row["parameters"] = buckets["trained"]
    flops = args.batch * train_flops(
        per_token=buckets["trained"] - buckets["per_text_token"] - buckets["per_sample"],
        per_text_token=buckets["per_text_token"], layers=params.layers, dim=params.dim, tokens=tokens,
        text_tokens=args.text_tokens,
    )
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        for _ in range(args.warmup):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        seconds = (time.perf_counter() - start) / args.steps
    except torch.OutOfMemoryError:
        row.update(status="OOM", step_seconds=None, tokens_per_s=None, mfu=None, peak_memory_gib=None)
    else:
        row.update(
            status="ok", step_seconds=seconds, tokens_per_s=args.batch * tokens / seconds,
            mfu=flops / (seconds * GPUS[args.gpu].peak_tflops * 1e12),
            peak_memory_gib=torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None,
        )
    row["model_flops_per_step"] = flops
    del model, optimizer
    if device == "cuda":
        torch.cuda.empty_cache()
    return row


def _si(n: float) -> str:
    scales = (("B", 1e9), ("M", 1e6), ("K", 1e3))
    return next((f"{n / scale:.2f}{unit}" for unit, scale in scales if n >= scale), str(n))


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--shapes", nargs="+", default=["1b", "3b"], choices=sorted(SHAPES))
    parser.add_argument("--tokens", type=int, nargs="+", default=[8192, 32768])
    parser.add_argument("--text-tokens", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation happens here)")
    parser.add_argument("--compile", nargs="+", default=None, choices=["off", "on"],
                        help="default: off and on on a GPU, off on a CPU")
    parser.add_argument("--gpu", default="h100", choices=sorted(GPUS), help="whose peak MFU is measured against")
    parser.add_argument("--json", help="default: bench/results/mfu.json (bench/results/mfu-cpu.json without CUDA)")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        args.shapes, args.tokens, args.text_tokens = ["tiny"], [256], 16
        args.steps, args.warmup = min(args.steps, 3), min(args.warmup, 1)
        print("no CUDA: tiny shape only, to check the script; MFU is meaningful only on a GPU")
    compile_modes = [m == "on" for m in (args.compile or (["off", "on"] if device == "cuda" else ["off"]))]
    rows = [
        run(shape, tokens, compiled, checkpointed, args, device)
        for shape in args.shapes
        for tokens in args.tokens
        for compiled in compile_modes
        for checkpointed in (False, True)
    ]
    print(f"{'shape':<5} {'params':>7} {'tokens':>7} {'compile':>7} {'AC':>5} {'s/step':>8} {'tokens/s':>10} "
          f"{'MFU':>6} {'peak GiB':>9}")
    for r in rows:
        head = f"{r['shape']:<5} {_si(r['parameters']):>7} {r['tokens']:>7} {r['compile']!s:>7} {r['checkpointing']:>5}"
        if r["status"] != "ok":
            print(f"{head} {r['status']:>8}")
            continue
        memory = f"{r['peak_memory_gib']:.1f}" if r["peak_memory_gib"] is not None else "-"
        print(f"{head} {r['step_seconds']:>8.4f} {r['tokens_per_s']:>10,.0f} {r['mfu']:>6.1%} {memory:>9}")
    gpu = GPUS[args.gpu]
    print(f"MFU against {gpu.name}, {gpu.peak_tflops:g} dense bf16 TFLOP/s"
          + ("" if device == "cuda" else " (this is a CPU: the MFU column is not meaningful)"))
    out = Path(args.json or ("bench/results/mfu.json" if device == "cuda" else "bench/results/mfu-cpu.json"))
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    write_json(out, {"device": name, "peak_tflops": gpu.peak_tflops, "args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
